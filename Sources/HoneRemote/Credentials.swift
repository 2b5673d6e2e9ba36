import Foundation

/// An access key pair, from where the AWS tools look: the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the shared credentials file
/// (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`, profile `AWS_PROFILE` or `default`).
/// Never written anywhere by Hone.
public struct Credentials: Sendable, Equatable {
    public let accessKey: String
    public let secretKey: String
    public let sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey; self.secretKey = secretKey; self.sessionToken = sessionToken
    }

    public struct Missing: Error, CustomStringConvertible {
        public let looked: [String]
        public var description: String {
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in a profile of "
                + "~/.aws/credentials (looked in: \(looked.joined(separator: "; ")))"
        }
    }

    public static func find(environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Credentials {
        if let key = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !key.isEmpty, !secret.isEmpty {
            return Credentials(accessKey: key, secretKey: secret, sessionToken: env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let file = env["AWS_SHARED_CREDENTIALS_FILE"] ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.aws/credentials")
        let profile = env["AWS_PROFILE"] ?? "default"
        if let text = try? String(contentsOfFile: file, encoding: .utf8),
           let section = ini(text)[profile], let key = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] {
            return Credentials(accessKey: key, secretKey: secret, sessionToken: section["aws_session_token"])
        }
        throw Missing(looked: ["the environment", "\(file) [\(profile)]"])
    }

    /// `[section]` then `key = value` lines; `#` and `;` start comments.
    static func ini(_ text: String) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let section, let eq = line.firstIndex(of: "=") else { continue }
            out[section, default: [:]][line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
