/// Byte-level BPE training that gives the same merges, in the same order, as Hugging Face
/// `tokenizers`' `BpeTrainer` (0.20+) for the same corpus and settings; the rules below are
/// theirs (models/bpe/trainer.rs, word.rs), and the oracle test checks them against the library.
///
/// - One training sequence is one line of the corpus, line ending included; each line is split
///   by GPT-2's pattern (`GPT2Split`) and every piece counted as a word of bytes.
/// - The vocabulary starts with the special tokens, then the 256 byte characters in code-point
///   order.
/// - Each step merges the pair with the highest count; on a tie, the smallest (left id, right id).
///   It stops at `vocabSize` tokens, or when the best count is below `minFrequency`.
/// - A merge whose string is already a token reuses that token's id (the merge is still
///   recorded), and counts are updated exactly as HF updates them — including that the merged
///   pair's own count is left as it was, which can matter later.
public struct BPETrainer {
    public var vocabSize: Int
    public var minFrequency: Int
    public var specialTokens: [String]

    public init(vocabSize: Int, minFrequency: Int = 2, specialTokens: [String] = ["<|endoftext|>"]) {
        self.vocabSize = vocabSize; self.minFrequency = minFrequency; self.specialTokens = specialTokens
    }

    /// Word counts of a corpus: feed it line by line (endings included).
    public struct Counts {
        public private(set) var words: [[UInt8]: Int] = [:]
        public init() {}
        public mutating func add(line: String) {
            let bytes = Array(line.utf8)
            for r in GPT2Split.split(utf8: bytes) { words[Array(bytes[r]), default: 0] += 1 }
        }
    }

    struct Merge {
        let pair: UInt64
        var count: Int
        var pos: [Int]
        /// HF's order: higher count first; on a tie the smaller pair (as (left, right) ids).
        static func before(_ a: Merge, _ b: Merge) -> Bool {
            a.count != b.count ? a.count > b.count : a.pair < b.pair
        }
    }

    public func train(_ counts: Counts) -> (tokens: [String], merges: [(String, String)]) {
        var idToWord: [String] = []
        var wordToID: [String: Int] = [:]
        for s in specialTokens where wordToID[s] == nil { wordToID[s] = idToWord.count; idToWord.append(s) }
        let alphabet = ByteLevel.unicode.sorted { ($0.unicodeScalars.first?.value ?? 0) < ($1.unicodeScalars.first?.value ?? 0) }
        for c in alphabet where wordToID[String(c)] == nil { wordToID[String(c)] = idToWord.count; idToWord.append(String(c)) }
        let byteID = (0..<256).map { wordToID[String(ByteLevel.unicode[$0])] ?? 0 }

        // subtle: HF iterates a hash map here, so word order is arbitrary there; it only matters
        // for ties between heap entries of one pair, which this code resolves the same way.
        let entries = counts.words.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[UInt32]] = entries.map { $0.key.map { UInt32(byteID[Int($0)]) } }
        let freq = entries.map(\.value)

        var pairCounts: [UInt64: Int] = [:]
        var positions: [UInt64: Set<Int>] = [:]
        for (i, w) in words.enumerated() where w.count > 1 {
            for j in 0..<(w.count - 1) {
                let p = UInt64(w[j]) << 32 | UInt64(w[j + 1])
                pairCounts[p, default: 0] += freq[i]
                positions[p, default: []].insert(i)
            }
        }
        var heap = Heap<Merge>(before: Merge.before)
        for (p, c) in pairCounts where c > 0 { heap.push(Merge(pair: p, count: c, pos: (positions[p] ?? []).sorted())) }
        positions.removeAll()

        var merges: [(pair: UInt64, id: Int)] = []
        while idToWord.count < vocabSize, var top = heap.pop() {
            let current = pairCounts[top.pair] ?? 0
            if top.count != current { top.count = current; heap.push(top); continue }
            if top.count < 1 || minFrequency > top.count { break }
            let a = UInt32(top.pair >> 32), b = UInt32(truncatingIfNeeded: top.pair)
            let token = idToWord[Int(a)] + idToWord[Int(b)]
            let newID: Int
            if let existing = wordToID[token] { newID = existing } else {
                newID = idToWord.count
                idToWord.append(token)
                wordToID[token] = newID
            }
            merges.append((top.pair, newID))

            var whereToUpdate: [UInt64: Set<Int>] = [:]
            for i in top.pos {
                for (pair, change) in BPETrainer.merge(&words[i], a, b, UInt32(newID)) {
                    pairCounts[pair, default: 0] += change * freq[i]
                    if change > 0 { whereToUpdate[pair, default: []].insert(i) }
                }
            }
            for (pair, pos) in whereToUpdate.sorted(by: { $0.key < $1.key }) {
                let c = pairCounts[pair] ?? 0
                if c > 0 { heap.push(Merge(pair: pair, count: c, pos: pos.sorted())) }
            }
        }
        // A pair merged twice (possible only when a merge reuses an id) keeps its last rank.
        var rank: [UInt64: Int] = [:]
        for (i, m) in merges.enumerated() { rank[m.pair] = i }
        let ordered = rank.sorted { $0.value < $1.value }.map { p, _ in
            (idToWord[Int(p >> 32)], idToWord[Int(UInt32(truncatingIfNeeded: p))])
        }
        return (idToWord, ordered)
    }

    /// HF's `Word::merge`: replaces each non-overlapping (c1, c2), left to right, and reports the
    /// pair-count changes — never for the merged pair itself.
    static func merge(_ s: inout [UInt32], _ c1: UInt32, _ c2: UInt32, _ new: UInt32) -> [(UInt64, Int)] {
        var changes: [(UInt64, Int)] = []
        func key(_ x: UInt32, _ y: UInt32) -> UInt64 { UInt64(x) << 32 | UInt64(y) }
        var i = 0
        while i < s.count {
            if s[i] == c1 && i + 1 < s.count && s[i + 1] == c2 {
                let second = s[i + 1]
                if i > 0 {
                    changes.append((key(s[i - 1], c1), -1))
                    changes.append((key(s[i - 1], new), 1))
                }
                s[i] = new
                s.remove(at: i + 1)
                if i < s.count - 1 {
                    changes.append((key(second, s[i + 1]), -1))
                    changes.append((key(new, s[i + 1]), 1))
                }
            }
            i += 1
        }
        return changes
    }
}

/// A binary heap ordered by `before` (the first element is the one that comes before all others).
struct Heap<T> {
    private var items: [T] = []
    let before: (T, T) -> Bool
    init(before: @escaping (T, T) -> Bool) { self.before = before }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ x: T) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> T? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && before(items[l], items[best]) { best = l }
            if r < items.count && before(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}
