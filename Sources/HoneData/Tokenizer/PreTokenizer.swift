import Foundation
import HoneBase

/// The pre-tokenizers of Hugging Face `tokenizer.json` files that Hone runs: each turns the text
/// into pieces, and BPE never merges across pieces. `ByteLevel` comes last and maps each piece's
/// UTF-8 bytes to the byte-level alphabet (that mapping is `BPE.encode(piece:)`'s input).
///
/// - `ByteLevel(use_regex: true)`: GPT-2's pattern (`GPT2Split`, hand-written and fast);
/// - `Split(pattern, behavior: Isolated)`: every regex match and every gap between matches is a
///   piece (Llama-3's and other models' patterns, run by Swift's Regex on Unicode scalars);
/// - `Digits(individual_digits)`: each digit, or each run of digits, is a piece;
/// - `Sequence`: the above in order.
public indirect enum PreTokenizer: @unchecked Sendable {
    case gpt2
    case split(Regex<AnyRegexOutput>, pattern: String)
    case digits(individual: Bool)
    /// ByteLevel with use_regex false: the byte mapping only.
    case byteLevelOnly
    case sequence([PreTokenizer])

    public struct Unsupported: Error, CustomStringConvertible {
        public let what: String
        public var description: String { "tokenizer.json: pre_tokenizer \(what) is not supported" }
    }

    /// Reads `pre_tokenizer` from a tokenizer.json value.
    public static func from(json: JSONValue) throws -> PreTokenizer {
        let type = json["type"]?.stringValue ?? "?"
        switch type {
        case "ByteLevel":
            if json["add_prefix_space"]?.boolValue == true { throw Unsupported(what: "ByteLevel with add_prefix_space") }
            return (json["use_regex"]?.boolValue ?? true) ? .gpt2 : .byteLevelOnly
        case "Split":
            guard let pattern = json["pattern"] else { throw Unsupported(what: "Split without a pattern") }
            guard json["behavior"]?.stringValue == "Isolated" else {
                throw Unsupported(what: "Split with behavior '\(json["behavior"]?.stringValue ?? "?")' (only Isolated)")
            }
            if json["invert"]?.boolValue == true { throw Unsupported(what: "inverted Split") }
            if let text = pattern["Regex"]?.stringValue {
                do {
                    return .split(try Regex(text).matchingSemantics(.unicodeScalar), pattern: text)
                } catch { throw Unsupported(what: "Split regex '\(text)' (\(error))") }
            }
            if let literal = pattern["String"]?.stringValue {
                return .split(try Regex(NSRegularExpression.escapedPattern(for: literal)).matchingSemantics(.unicodeScalar), pattern: literal)
            }
            throw Unsupported(what: "Split pattern \(pattern.canonical)")
        case "Digits":
            return .digits(individual: json["individual_digits"]?.boolValue ?? false)
        case "Sequence":
            let parts = try (json["pretokenizers"]?.arrayValue ?? []).map(from(json:))
            guard case .some(let last) = parts.last, last.isByteLevel else {
                throw Unsupported(what: "Sequence that does not end in ByteLevel")
            }
            return .sequence(parts)
        default:
            throw Unsupported(what: "'\(type)'")
        }
    }

    /// Whether the byte mapping runs (a byte-level BPE needs it).
    public var endsInByteLevel: Bool {
        switch self {
        case .gpt2, .byteLevelOnly: return true
        case let .sequence(parts): return parts.last?.endsInByteLevel ?? false
        default: return false
        }
    }

    var isByteLevel: Bool {
        switch self { case .gpt2, .byteLevelOnly: return true; default: return false }
    }

    /// The pieces of `text`, as UTF-8 byte arrays.
    public func pieces(_ text: Substring) -> [[UInt8]] {
        switch self {
        case .gpt2:
            let bytes = Array(text.utf8)
            return GPT2Split.split(utf8: bytes).map { Array(bytes[$0]) }
        default:
            return apply([String(text)]).map { Array($0.utf8) }
        }
    }

    func apply(_ input: [String]) -> [String] {
        switch self {
        case .gpt2:
            return input.flatMap { s -> [String] in
                let bytes = Array(s.utf8)
                return GPT2Split.split(utf8: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
            }
        case .byteLevelOnly:
            return input
        case let .split(regex, _):
            return input.flatMap { s -> [String] in
                var out: [String] = []
                var last = s.startIndex
                for m in s.matches(of: regex) where !m.range.isEmpty {
                    if m.range.lowerBound > last { out.append(String(s[last..<m.range.lowerBound])) }
                    out.append(String(s[m.range]))
                    last = m.range.upperBound
                }
                if last < s.endIndex { out.append(String(s[last...])) }
                return out
            }
        case let .digits(individual):
            return input.flatMap { s -> [String] in
                var out: [String] = [], cur = String.UnicodeScalarView(), inDigits = false
                for u in s.unicodeScalars {
                    let digit = u.value >= 0x30 && u.value <= 0x39
                    if !cur.isEmpty && (digit != inDigits || (digit && individual)) { out.append(String(cur)); cur = String.UnicodeScalarView() }
                    cur.append(u); inDigits = digit
                }
                if !cur.isEmpty { out.append(String(cur)) }
                return out
            }
        case let .sequence(parts):
            return parts.reduce(input) { $1.apply($0) }
        }
    }
}
