import HoneBase
import HoneStore

/// `${name}` substitution. A string that is exactly `${name}` takes the value with its type;
/// inside a longer string the value is written as text. `$${` is a literal `${`.
struct Interpolator {
    /// Looked up in order: a shell stage's own params first, then the pipeline's vars.
    let scopes: [[String: JSONValue]]

    enum Failure: Error { case undefined(String, known: [String]), unterminated, notScalar(String) }

    func lookup(_ name: String) -> JSONValue? {
        for scope in scopes { if let v = scope[name] { return v } }
        return nil
    }

    func interpolate(_ s: String) -> Result<JSONValue, Failure> {
        guard s.contains("${") else { return .success(.string(s)) }
        let chars = Array(s.unicodeScalars)
        if chars.count > 3, s.hasPrefix("${"), s.hasSuffix("}"), !s.hasPrefix("$${"),
           !s.dropFirst(2).dropLast().contains("}"), !s.dropFirst(2).contains("$") {
            let name = String(s.dropFirst(2).dropLast())
            guard let value = lookup(name) else { return .failure(undefined(name)) }
            return .success(value)
        }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 2 < chars.count, chars[i + 1] == "$", chars[i + 2] == "{" {
                out.append(contentsOf: "${".unicodeScalars); i += 3; continue
            }
            if chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" {
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else { return .failure(.unterminated) }
                let name = String(String.UnicodeScalarView(chars[(i + 2)..<close]))
                guard let value = lookup(name) else { return .failure(undefined(name)) }
                switch value {
                case let .string(t): out.append(contentsOf: t.unicodeScalars)
                case .int, .double, .bool: out.append(contentsOf: value.canonical.unicodeScalars)
                default: return .failure(.notScalar(name))
                }
                i = close + 1
                continue
            }
            out.append(chars[i]); i += 1
        }
        return .success(.string(String(out)))
    }

    private func undefined(_ name: String) -> Failure {
        .undefined(name, known: scopes.flatMap(\.keys))
    }

    static func describe(_ failure: Failure) -> String {
        switch failure {
        case let .undefined(name, known):
            return "undefined variable '${\(name)}'" + suggestion(for: name, in: known)
                + " (define it under 'vars:', or write $${ for a literal ${)"
        case .unterminated: return "'${' without a closing '}'"
        case let .notScalar(name): return "'${\(name)}' is a list or map and cannot be spliced into text"
        }
    }

    /// Interpolates every string inside a JSON value.
    func interpolate(_ value: JSONValue) -> Result<JSONValue, Failure> {
        switch value {
        case let .string(s): return interpolate(s)
        case let .array(items):
            var out: [JSONValue] = []
            for item in items {
                switch interpolate(item) {
                case let .success(v): out.append(v)
                case let .failure(f): return .failure(f)
                }
            }
            return .success(.array(out))
        case let .object(fields):
            var out: [String: JSONValue] = [:]
            for (k, v) in fields {
                switch interpolate(v) {
                case let .success(x): out[k] = x
                case let .failure(f): return .failure(f)
                }
            }
            return .success(.object(out))
        default: return .success(value)
        }
    }
}
