import Foundation
import HoneRemote
import Testing

/// SigV4 against AWS's own worked example (S3 documentation, "Signature Calculations for the
/// Authorization Header", GET Object with a Range header), the S3 URL forms, and credentials.
@Suite struct SigV4Tests {
    static let aws = Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    @Test func awsGetObjectExampleSignsToTheDocumentedSignature() throws {
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let headers = SigV4(credentials: Self.aws, region: "us-east-1").sign(
            method: "GET", path: "/test.txt", query: [],
            headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"],
            payloadHash: SigV4.emptyPayload, date: date)
        #expect(headers["x-amz-date"] == "20130524T000000Z")
        #expect(headers["x-amz-content-sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        // One changed byte anywhere changes the signature.
        let other = SigV4(credentials: Self.aws, region: "us-east-1").sign(
            method: "GET", path: "/test.txt", query: [],
            headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-8"], payloadHash: SigV4.emptyPayload, date: date)
        #expect(other["Authorization"] != headers["Authorization"])
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4.encode("a b/c~d.e_f-g*") == "a%20b%2Fc~d.e_f-g%2A")
        #expect(SigV4.encode("/objects/ab/cd", keepSlash: true) == "/objects/ab/cd")
        #expect(SigV4.encode("é") == "%C3%A9")
    }

    @Test func remoteURLsAreCheckedAndSplit() throws {
        let r = try RemoteSpec(url: "s3://hone-test/team/exp/", endpoint: "http://127.0.0.1:8333", region: nil)
        #expect(r.bucket == "hone-test" && r.prefix == "team/exp" && r.region == "us-east-1")
        #expect(r.key("runs/x.json") == "team/exp/runs/x.json")
        #expect(try RemoteSpec(url: "s3://bucket", endpoint: nil, region: "eu-west-1").endpoint.absoluteString == "https://s3.eu-west-1.amazonaws.com")
        #expect(throws: RemoteSpec.Invalid.self) { try RemoteSpec(url: "https://x/y", endpoint: nil, region: nil) }
        #expect(throws: RemoteSpec.Invalid.self) { try RemoteSpec(url: "s3://Bad_Bucket/p", endpoint: nil, region: nil) }
        #expect(throws: RemoteSpec.Invalid.self) { try RemoteSpec(url: "s3://bucket/p", endpoint: "ftp://h", region: nil) }
    }

    @Test func credentialsComeFromTheEnvironmentThenTheSharedFile() throws {
        let env = try Credentials.find(environment: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"])
        #expect(env == Credentials(accessKey: "k", secretKey: "s", sessionToken: "t"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hone-creds-\(getpid())").path
        try "# comment\n[default]\naws_access_key_id = d\naws_secret_access_key = ds\n\n[team]\naws_access_key_id=t1\naws_secret_access_key= t2\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        #expect(try Credentials.find(environment: ["AWS_SHARED_CREDENTIALS_FILE": file]) == Credentials(accessKey: "d", secretKey: "ds"))
        #expect(try Credentials.find(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "team"]) == Credentials(accessKey: "t1", secretKey: "t2"))
        #expect(throws: Credentials.Missing.self) { try Credentials.find(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "none"]) }
    }
}
