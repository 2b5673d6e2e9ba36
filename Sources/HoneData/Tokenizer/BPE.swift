/// A byte-level BPE model: a vocabulary of byte-level strings, and merges in priority order.
///
/// Encoding a piece (one pre-token): start from one symbol per byte, then repeatedly merge the
/// adjacent pair whose merge comes first in the list (the leftmost such pair on a tie), until no
/// pair has a merge. Worked example with merges [("a","b"), ("ab","c")]: "abcab" -> [ab, c, ab]
/// -> [abc, ab].
public struct BPE: Sendable {
    public private(set) var tokens: [String]
    public private(set) var ids: [String: Int]
    /// In priority order: merges[0] is applied first.
    public private(set) var merges: [(String, String)]
    /// (left id, right id) -> (rank, merged id).
    private var ranks: [UInt64: (rank: Int, id: Int)] = [:]
    /// The id of each byte's single-character token.
    private var byteIDs: [Int] = []

    public enum Failure: Error, CustomStringConvertible {
        case unknownToken(String, merge: Int), mergedNotInVocab(String, merge: Int)
        public var description: String {
            switch self {
            case let .unknownToken(t, m): return "merge \(m) uses '\(t)', which is not in the vocabulary"
            case let .mergedNotInVocab(t, m): return "merge \(m) makes '\(t)', which is not in the vocabulary"
            }
        }
    }

    public init(tokens: [String], merges: [(String, String)]) throws {
        self.tokens = tokens
        self.merges = merges
        var ids: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        // A byte with no token (SmolLM2's vocabulary lacks a few control bytes) is dropped when
        // encoding, as HF's BPE drops a character it cannot map when there is no unk token.
        byteIDs = (0..<256).map { b in ids[String(ByteLevel.unicode[b])] ?? -1 }
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = ids[a] else { throw Failure.unknownToken(a, merge: rank) }
            guard let ib = ids[b] else { throw Failure.unknownToken(b, merge: rank) }
            guard let merged = ids[a + b] else { throw Failure.mergedNotInVocab(a + b, merge: rank) }
            let key = UInt64(ia) << 32 | UInt64(ib)
            if ranks[key] == nil { ranks[key] = (rank, merged) }
        }
    }

    /// The ids of one pre-token's bytes after merging.
    public func encode(piece bytes: some Collection<UInt8>, into out: inout [Int]) {
        var symbols = bytes.compactMap { b -> Int? in let id = byteIDs[Int(b)]; return id >= 0 ? id : nil }
        while symbols.count > 1 {
            var best = Int.max, at = -1, merged = 0
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[UInt64(symbols[i]) << 32 | UInt64(symbols[i + 1])], r.rank < best {
                    best = r.rank; at = i; merged = r.id
                }
            }
            if at < 0 { break }
            symbols[at] = merged
            symbols.remove(at: at + 1)
        }
        out.append(contentsOf: symbols)
    }

    /// The bytes a token stands for (nil for a token outside the byte-level alphabet, such as a
    /// special token, whose text is its own).
    public func bytes(of id: Int) -> [UInt8]? {
        guard id >= 0 && id < tokens.count else { return nil }
        return ByteLevel.decode(tokens[id])
    }
}
