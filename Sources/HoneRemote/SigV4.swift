import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests, header-based: the canonical request, the string to
/// sign and the signing key, as AWS's "Signature Version 4 signing process" lays them out. Pure:
/// the same request, keys and date always give the same headers (a test checks AWS's example).
public struct SigV4: Sendable {
    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials; self.region = region; self.service = service
    }

    /// The payload hash of a request without a body.
    public static let emptyPayload = hex(Array(SHA256.hash(data: [UInt8]())))

    /// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256`, the session
    /// token when there is one, and `Authorization`. `headers` are the request's other headers
    /// to sign (`host` at least); `path` is the URI path before encoding.
    public func sign(method: String, path: String, query: [(String, String)], headers: [String: String],
                     payloadHash: String, date: Date) -> [String: String] {
        let stamp = SigV4.timestamp(date)
        let day = String(stamp.prefix(8))
        var signed = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) })
        signed["x-amz-date"] = stamp
        signed["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let names = signed.keys.sorted()
        let canonical = [
            method,
            SigV4.encode(path, keepSlash: true),
            query.map { (SigV4.encode($0.0), SigV4.encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&"),
            names.map { "\($0):\(signed[$0]!)\n" }.joined(),
            names.joined(separator: ";"),
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", stamp, scope, SigV4.hex(Array(SHA256.hash(data: Array(canonical.utf8))))].joined(separator: "\n")
        let signature = SigV4.hex(SigV4.hmac(signingKey(day: day), toSign))
        var out = signed.filter { $0.key.hasPrefix("x-amz-") }
        out["Authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope),SignedHeaders=\(names.joined(separator: ";")),Signature=\(signature)"
        return out
    }

    /// HMAC chain: secret -> day -> region -> service -> "aws4_request".
    public func signingKey(day: String) -> [UInt8] {
        var key = SigV4.hmac(Array(("AWS4" + credentials.secretKey).utf8), day)
        for part in [region, service, "aws4_request"] { key = SigV4.hmac(key, part) }
        return key
    }

    static func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `20130524T000000Z`.
    public static func timestamp(_ date: Date) -> String {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return format.string(from: date)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in a path).
    public static func encode(_ s: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash: out += "/"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
