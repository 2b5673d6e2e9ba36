import Foundation

/// Where a remote store lives: `s3://BUCKET/PREFIX` on an S3-compatible endpoint. Requests use
/// path-style addressing (`ENDPOINT/BUCKET/KEY`), which AWS, SeaweedFS, MinIO and Ceph all take.
public struct RemoteSpec: Sendable, Equatable {
    public let bucket: String
    /// Key prefix without leading or trailing slash; may be empty.
    public let prefix: String
    public let endpoint: URL
    public let region: String

    public static let defaultRegion = "us-east-1"

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// `endpoint` nil: AWS's own, `https://s3.REGION.amazonaws.com`.
    public init(url: String, endpoint: String?, region: String?) throws {
        guard url.hasPrefix("s3://") else { throw Invalid(description: "'\(url)' is not an S3 URL: expected s3://BUCKET/PREFIX") }
        let rest = url.dropFirst(5)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts[0])
        guard bucket.count >= 3, bucket.count <= 63,
              bucket.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }) else {
            throw Invalid(description: "'\(bucket)' is not a bucket name: 3 to 63 lowercase letters, digits, '-' and '.'")
        }
        self.bucket = bucket
        prefix = parts.count > 1 ? parts[1].split(separator: "/").joined(separator: "/") : ""
        self.region = region ?? RemoteSpec.defaultRegion
        let endpointText = endpoint ?? "https://s3.\(self.region).amazonaws.com"
        guard let e = URL(string: endpointText), let scheme = e.scheme, ["http", "https"].contains(scheme), e.host != nil else {
            throw Invalid(description: "'\(endpointText)' is not an endpoint: expected http(s)://HOST[:PORT]")
        }
        self.endpoint = e
    }

    public var url: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// The key of a store path (`objects/ab/cd…`, `runs/FP.json`) under the prefix.
    public func key(_ path: String) -> String { prefix.isEmpty ? path : "\(prefix)/\(path)" }
}
