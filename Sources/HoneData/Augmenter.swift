import Foundation
import HoneBase

/// augment: the text operations of EDA (Wei & Zou, "EDA: Easy Data Augmentation Techniques",
/// 2019) — synonym replacement, random insertion, random swap, random deletion — plus character
/// noise. Each augmented copy of a record applies every operation whose rate is above zero:
///
/// - synonym: n = max(1, ⌊rate·words⌋) words that have synonyms are replaced by one of them;
/// - insert: n times, a synonym of a random word (or, without a synonym list, a copy of a random
///   word) is inserted at a random place;
/// - swap: n times, two random words trade places;
/// - delete: each word goes with probability rate (one word always stays);
/// - char_noise: each letter, with probability rate, trades places with the next character.
///
/// Randomness is keyed by (stage key, record index, copy): the same input and seed give the same
/// output whatever the order records are read in or how many threads run.
public struct Augmenter: Sendable {
    public struct Rates: Sendable, Equatable {
        public var synonym = 0.1, insert = 0.1, swap = 0.1, delete = 0.1, charNoise = 0.0
        public init() {}
    }

    public let rates: Rates
    public let synonyms: [String: [String]]
    public let key: UInt64

    public init(rates: Rates, synonyms: [String: [String]], key: UInt64) {
        self.rates = rates; self.synonyms = synonyms; self.key = key
    }

    /// `text` rewritten for copy `copy` of record `index`, and the operations that changed it.
    public func augment(_ text: String, index: Int, copy: Int) -> (text: String, operations: [String]) {
        var rng = CounterRNG(key: key ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(copy) &* 0xC2B2_AE3D_27D4_EB4F))
        var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var ops: [String] = []
        guard !words.isEmpty else { return (text, []) }
        func count(_ rate: Double) -> Int { max(1, Int(rate * Double(words.count))) }

        if rates.synonym > 0 {
            let candidates = words.indices.filter { synonyms[words[$0].lowercased()] != nil }
            var order = candidates
            rng.shuffle(&order)
            for i in order.prefix(count(rates.synonym)) {
                if let options = synonyms[words[i].lowercased()], !options.isEmpty {
                    words[i] = options[rng.below(options.count)]
                    if !ops.contains("synonym") { ops.append("synonym") }
                }
            }
        }
        if rates.insert > 0 {
            for _ in 0..<count(rates.insert) {
                let source = words[rng.below(words.count)]
                let options = synonyms[source.lowercased()] ?? []
                let word = options.isEmpty ? source : options[rng.below(options.count)]
                words.insert(word, at: rng.below(words.count + 1))
            }
            ops.append("insert")
        }
        if rates.swap > 0, words.count > 1 {
            for _ in 0..<count(rates.swap) {
                let a = rng.below(words.count), b = rng.below(words.count)
                words.swapAt(a, b)
            }
            ops.append("swap")
        }
        if rates.delete > 0, words.count > 1 {
            let kept = words.filter { _ in rng.nextDouble() >= rates.delete }
            words = kept.isEmpty ? [words[rng.below(words.count)]] : kept
            ops.append("delete")
        }
        var out = words.joined(separator: " ")
        if rates.charNoise > 0 {
            var chars = Array(out)
            var i = 0
            while i < chars.count - 1 {
                if chars[i].isLetter, rng.nextDouble() < rates.charNoise { chars.swapAt(i, i + 1); i += 1 }
                i += 1
            }
            out = String(chars)
            ops.append("char_noise")
        }
        return (out, ops)
    }

    /// A synonym list: one line per word, `word: syn1, syn2` (or a JSON object word -> [syn]).
    /// Lines starting with # are comments. Keys are lower-cased.
    public static func parseSynonyms(_ text: String) throws -> [String: [String]] {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            guard let o = try JSONValue.parse(text).objectValue else { return [:] }
            return Dictionary(o.map { ($0.key.lowercased(), $0.value.arrayValue?.compactMap(\.stringValue) ?? []) }, uniquingKeysWith: +)
        }
        var out: [String: [String]] = [:]
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.isEmpty || l.hasPrefix("#") { continue }
            guard let colon = l.firstIndex(of: ":") else { throw SynonymError(line: n + 1, text: String(l)) }
            let word = l[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let syns = l[l.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            out[word, default: []].append(contentsOf: syns)
        }
        return out
    }

    public struct SynonymError: Error, CustomStringConvertible {
        public let line: Int, text: String
        public var description: String { "synonyms line \(line): expected 'word: synonym, synonym', found '\(text)'" }
    }
}
