import HoneBase
import HoneStore

/// One typed param of a stage kind, with its default in one place (no `cfg.get(key, default)`
/// scattered through the code).
public struct ParamSpec: Sendable {
    public let name: String
    public let type: ParamType
    /// `nil` means the param is required.
    public let defaultValue: JSONValue?
    public let help: String

    public init(_ name: String, _ type: ParamType, default defaultValue: JSONValue? = nil, help: String) {
        self.name = name; self.type = type; self.defaultValue = defaultValue; self.help = help
    }
}

public indirect enum ParamType: Sendable, CustomStringConvertible {
    case bool
    case int(min: Int? = nil, max: Int? = nil)
    case number(min: Double? = nil, max: Double? = nil)
    case string(choices: [String]? = nil)
    case list(ParamType)
    /// Any JSON value (e.g. a free-form map a kind interprets itself).
    case any

    public var description: String {
        switch self {
        case .bool: return "a boolean"
        case let .int(lo, hi): return "an integer" + Self.range(lo.map(Double.init), hi.map(Double.init))
        case let .number(lo, hi): return "a number" + Self.range(lo, hi)
        case let .string(choices?): return "one of " + choices.map { "'\($0)'" }.joined(separator: ", ")
        case .string: return "a string"
        case let .list(element):
            // "a number in 0...1" -> "numbers in 0...1"
            var words = element.description.split(separator: " ").map(String.init)
            if ["a", "an"].contains(words.first ?? "") { words.removeFirst() }
            if let noun = words.first, !noun.hasPrefix("'"), !noun.hasSuffix("s") { words[0] = noun + "s" }
            return "a list of " + words.joined(separator: " ")
        case .any: return "any value"
        }
    }

    private static func range(_ lo: Double?, _ hi: Double?) -> String {
        func fmt(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
        switch (lo, hi) {
        case let (l?, h?): return " in \(fmt(l))...\(fmt(h))"
        case let (l?, nil): return " >= \(fmt(l))"
        case let (nil, h?): return " <= \(fmt(h))"
        default: return ""
        }
    }

    /// The value converted to this type (an integer-valued number is an int), or why not.
    public func coerce(_ value: JSONValue) -> Result<JSONValue, ParamTypeError> {
        switch (self, value) {
        case (.any, _): return .success(value)
        case (.bool, .bool): return .success(value)
        case let (.int(lo, hi), .int(i)):
            if let lo, i < lo { return .failure(.outOfRange(self)) }
            if let hi, i > hi { return .failure(.outOfRange(self)) }
            return .success(value)
        case let (.int, .double(d)) where d == d.rounded() && abs(d) < 9e15:
            return coerce(.int(Int(d)))
        case let (.number(lo, hi), .int(i)):
            return ParamType.number(min: lo, max: hi).coerce(.double(Double(i)))
        case let (.number(lo, hi), .double(d)):
            if !d.isFinite { return .failure(.outOfRange(self)) }
            if let lo, d < lo { return .failure(.outOfRange(self)) }
            if let hi, d > hi { return .failure(.outOfRange(self)) }
            return .success(value)
        case let (.string(choices), .string(s)):
            if let choices, !choices.contains(s) { return .failure(.notAChoice(self, s)) }
            return .success(value)
        case let (.list(element), .array(items)):
            var out: [JSONValue] = []
            for item in items {
                switch element.coerce(item) {
                case let .success(v): out.append(v)
                case let .failure(e): return .failure(e)
                }
            }
            return .success(.array(out))
        default:
            return .failure(.wrongType(self))
        }
    }
}

public enum ParamTypeError: Error, Equatable, CustomStringConvertible {
    case wrongType(ParamType)
    case outOfRange(ParamType)
    case notAChoice(ParamType, String)

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case let .wrongType(t): return "expected \(t)"
        case let .outOfRange(t): return "expected \(t)"
        case let .notAChoice(t, s): return "'\(s)' is not allowed: expected \(t)"
        }
    }
}

/// A stage's params after defaults, interpolation and overrides: what the fingerprint covers.
public struct Params: Sendable, Equatable {
    public let values: [String: JSONValue]
    public init(_ values: [String: JSONValue]) { self.values = values }

    public subscript(name: String) -> JSONValue? { values[name] }
    public func int(_ name: String) -> Int? { values[name]?.intValue }
    public func double(_ name: String) -> Double? { values[name]?.doubleValue }
    public func string(_ name: String) -> String? { values[name]?.stringValue }
    public func bool(_ name: String) -> Bool? { values[name]?.boolValue }
}
