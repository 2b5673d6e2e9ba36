import Foundation

public enum StoreError: Error, CustomStringConvertible {
    /// The object's bytes do not hash to its name: it was moved to quarantine and must not be used.
    case corrupt(Digest, path: String)
    case missing(Digest)
    case corruptEncoding(String)
    case io(String, path: String, errno: Int32)
    case badTree(Digest, String)
    /// An object file from elsewhere (a remote) that is not the object its name says.
    case foreignCorrupt(Digest)

    public var description: String {
        switch self {
        case let .corrupt(d, path):
            return "object \(d.short) is corrupt (its bytes no longer hash to its name); moved to \(path)"
        case let .missing(d): return "object \(d.short) is not in the store"
        case let .corruptEncoding(what): return "corrupt object encoding (\(what))"
        case let .io(what, path, code): return "\(what) \(path): \(String(cString: strerror(code)))"
        case let .badTree(d, why): return "tree \(d.short) is malformed: \(why)"
        case let .foreignCorrupt(d): return "object \(d.short) is corrupt (its bytes do not hash to its name); not stored"
        }
    }
}
