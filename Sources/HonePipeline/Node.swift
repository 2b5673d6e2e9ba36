import HoneBase
import HoneStore

/// A node of a pipeline file's value tree: YAML or JSON, each node keeping its line and column so
/// typed decoding can point at the exact place of every error.
public struct Node: Sendable {
    public enum Value: Sendable {
        /// `quoted` scalars are always strings; plain ones resolve to null, bool, int or float.
        case scalar(String, quoted: Bool)
        case sequence([Node])
        /// Keys in file order, after merge keys (`<<`) are applied.
        case mapping([(key: Node, value: Node)])
    }

    public var value: Value
    public let location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value; self.location = location
    }

    public var kindName: String {
        switch value {
        case .scalar: return "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a map"
        }
    }

    /// The scalar's text, when the node is a scalar.
    public var text: String? { if case let .scalar(s, _) = value { return s }; return nil }

    public var entries: [(key: Node, value: Node)]? {
        if case let .mapping(e) = value { return e }; return nil
    }

    public var items: [Node]? { if case let .sequence(i) = value { return i }; return nil }

    /// The entry whose key is `key`.
    public subscript(key: String) -> Node? {
        entries?.first { $0.key.text == key }?.value
    }

    /// Plain scalars resolve as YAML's core schema does; quoted ones stay strings.
    public var json: JSONValue {
        switch value {
        case let .scalar(s, quoted):
            return quoted ? .string(s) : Node.resolvePlain(s)
        case let .sequence(items):
            return .array(items.map(\.json))
        case let .mapping(entries):
            var out: [String: JSONValue] = [:]
            for (k, v) in entries { out[k.text ?? ""] = v.json }
            return .object(out)
        }
    }

    /// YAML 1.2 core schema: null, true/false, integers (decimal, 0x, 0o), floats, .inf, .nan.
    static func resolvePlain(_ s: String) -> JSONValue {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        if let i = Int(s) { return .int(i) }
        if s.hasPrefix("0x"), let i = Int(s.dropFirst(2), radix: 16) { return .int(i) }
        if s.hasPrefix("0o"), let i = Int(s.dropFirst(2), radix: 8) { return .int(i) }
        if let first = s.unicodeScalars.first, "0123456789+-.".unicodeScalars.contains(first),
           s.unicodeScalars.allSatisfy({ "0123456789+-.eE".unicodeScalars.contains($0) }),
           let d = Double(s) {
            return .double(d)
        }
        return .string(s)
    }
}
