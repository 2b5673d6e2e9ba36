import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What went wrong talking to the remote, in words a user can act on.
public struct RemoteError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The few S3 REST calls a store needs — PUT, GET and HEAD of one object, ListObjectsV2 — each
/// signed with SigV4, over Foundation's URLSession (libcurl underneath; it ships with the Swift
/// toolchain, so no HTTP stack is built). Blocking: the store's work is one request at a time.
public final class S3Client: @unchecked Sendable {
    public let remote: RemoteSpec
    let signer: SigV4
    let session: URLSession

    public init(remote: RemoteSpec, credentials: Credentials) {
        self.remote = remote
        signer = SigV4(credentials: credentials, region: remote.region)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = 120
        session = URLSession(configuration: config)
    }

    /// Every key under `prefix` (relative to the remote's prefix), following continuation tokens.
    public func list(_ prefix: String) throws -> [String] {
        var keys: [String] = []
        var token: String?
        let full = remote.key(prefix)
        let strip = remote.prefix.isEmpty ? 0 : remote.prefix.count + 1
        repeat {
            var query = [("list-type", "2"), ("prefix", full), ("max-keys", "1000")]
            if let token { query.append(("continuation-token", token)) }
            let (status, body) = try send("GET", key: nil, query: query)
            guard status == 200 else { throw failure(status, body, what: "list \(remote.url)/\(prefix)") }
            let xml = String(decoding: body, as: UTF8.self)
            keys += XMLText.values("Key", in: xml).map { String($0.dropFirst(strip)) }
            token = XMLText.values("IsTruncated", in: xml).first == "true" ? XMLText.values("NextContinuationToken", in: xml).first : nil
        } while token != nil
        return keys
    }

    /// The object's bytes, or nil when there is no such key (but a missing bucket is an error).
    public func get(_ path: String) throws -> [UInt8]? {
        let (status, body) = try send("GET", key: remote.key(path))
        if status == 404, XMLText.values("Code", in: String(decoding: body, as: UTF8.self)).first != "NoSuchBucket" { return nil }
        guard status == 200 else { throw failure(status, body, what: "get \(path)") }
        return body
    }

    /// Downloads the object into `file`; false when there is no such key.
    public func download(_ path: String, to file: String) throws -> Bool {
        guard let bytes = try get(path) else { return false }
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else {
            throw RemoteError("cannot write \(file)")
        }
        return true
    }

    /// Creates the bucket (PUT Bucket); an existing bucket of ours is fine.
    public func createBucket() throws {
        let (status, body) = try send("PUT", key: nil)
        let code = XMLText.values("Code", in: String(decoding: body, as: UTF8.self)).first
        guard status == 200 || code == "BucketAlreadyOwnedByYou" else { throw failure(status, body, what: "create bucket \(remote.bucket)") }
    }

    /// Uploads bytes; the signed payload hash makes the server check they arrived intact.
    public func put(_ path: String, bytes: [UInt8]) throws {
        let (status, body) = try send("PUT", key: remote.key(path), body: bytes)
        guard status == 200 else { throw failure(status, body, what: "put \(path)") }
    }

    func send(_ method: String, key: String?, query: [(String, String)] = [], body: [UInt8] = []) throws -> (Int, [UInt8]) {
        let base = remote.endpoint.absoluteString.hasSuffix("/") ? String(remote.endpoint.absoluteString.dropLast()) : remote.endpoint.absoluteString
        let path = "/" + remote.bucket + (key.map { "/" + $0 } ?? "")
        var text = base + SigV4.encode(path, keepSlash: true)
        if !query.isEmpty { text += "?" + query.map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&") }
        guard let url = URL(string: text), let host = remote.endpoint.host else { throw RemoteError("bad request URL \(text)") }
        let hostHeader = remote.endpoint.port.map { "\(host):\($0)" } ?? host
        var request = URLRequest(url: url)
        request.httpMethod = method
        let payload = body.isEmpty ? SigV4.emptyPayload : SigV4.hex(Array(SHA256.hash(data: body)))
        for (k, v) in signer.sign(method: method, path: path, query: query, headers: ["host": hostHeader], payloadHash: payload, date: Date()) {
            request.setValue(v, forHTTPHeaderField: k)
        }
        if method == "PUT" { request.httpBody = Data(body); request.setValue("\(body.count)", forHTTPHeaderField: "Content-Length") }
        let done = DispatchSemaphore(value: 0)
        let reply = Reply()
        session.dataTask(with: request) { data, response, error in
            if let error { reply.error = error } else { reply.result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { [UInt8]($0) } ?? []) }
            done.signal()
        }.resume()
        done.wait()
        if let result = reply.result { return result }
        let why = reply.error.map { ($0 as NSError).userInfo[NSLocalizedDescriptionKey] as? String ?? "\($0)" } ?? "no response"
        throw RemoteError("cannot reach \(remote.endpoint.absoluteString) (\(why)): is the endpoint right and the server up?")
    }

    /// An S3 error response, as something to do about it.
    func failure(_ status: Int, _ body: [UInt8], what: String) -> RemoteError {
        let xml = String(decoding: body, as: UTF8.self)
        let code = XMLText.values("Code", in: xml).first ?? "HTTP \(status)"
        let message = XMLText.values("Message", in: xml).first ?? ""
        let advice: String
        switch code {
        case "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken", "ExpiredToken":
            advice = "the remote refused the credentials of access key '\(signer.credentials.accessKey)': check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials)"
        case "NoSuchBucket": advice = "bucket '\(remote.bucket)' does not exist at \(remote.endpoint.absoluteString): create it first"
        default: advice = "the remote answered HTTP \(status)"
        }
        return RemoteError("\(what): \(code)\(message.isEmpty ? "" : " (\(message))"): \(advice)")
    }
}

/// What a request's completion handler hands back to the waiting caller (written once, before
/// the semaphore is signalled; read after).
private final class Reply: @unchecked Sendable {
    var result: (Int, [UInt8])?
    var error: Error?
}

/// The text of simple XML elements (S3's responses are flat enough for this).
enum XMLText {
    static func values(_ tag: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest[open.upperBound...].range(of: "</\(tag)>") {
            out.append(unescape(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
