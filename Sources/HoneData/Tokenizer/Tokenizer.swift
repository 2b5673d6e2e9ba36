import Foundation
import HoneBase

/// A byte-level BPE tokenizer as Hugging Face `tokenizers` builds one: special tokens matched
/// first in the raw text, GPT-2 pre-tokenisation, byte-level mapping, BPE merges. Saved as, and
/// loaded from, a `tokenizer.json` the `tokenizers` library reads.
public struct Tokenizer: Sendable {
    public let bpe: BPE
    /// (content, id), longest content first so longer special tokens win.
    public let specialTokens: [(content: String, id: Int)]
    /// Unicode NFC before pre-tokenisation (HF's NFC normalizer); special tokens are matched first.
    public let nfc: Bool
    public let preTokenizer: PreTokenizer
    /// The `pre_tokenizer` value a loaded file had, written back as it was.
    let preTokenizerJSON: JSONValue?

    /// Pieces already encoded: text repeats its words, and merging is the slow part.
    let cache = PieceCache()

    public init(bpe: BPE, specialTokens: [String], nfc: Bool = false, preTokenizer: PreTokenizer = .gpt2,
                preTokenizerJSON: JSONValue? = nil) {
        self.bpe = bpe
        self.nfc = nfc
        self.preTokenizer = preTokenizer
        self.preTokenizerJSON = preTokenizerJSON
        self.specialTokens = specialTokens.compactMap { s in bpe.ids[s].map { (s, $0) } }
            .sorted { $0.content.count > $1.content.count }
    }

    public static func train(lines: some Sequence<String>, vocabSize: Int, minFrequency: Int = 2,
                             specialTokens: [String] = ["<|endoftext|>"]) throws -> Tokenizer {
        var counts = BPETrainer.Counts()
        for line in lines { counts.add(line: line) }
        let trained = BPETrainer(vocabSize: vocabSize, minFrequency: minFrequency, specialTokens: specialTokens).train(counts)
        return Tokenizer(bpe: try BPE(tokens: trained.tokens, merges: trained.merges), specialTokens: specialTokens)
    }

    public func encode(_ text: String) -> [Int] { encode(text, cache: cache) }

    func encode(_ text: String, cache: PieceCache) -> [Int] {
        var out: [Int] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            // The earliest special token in the rest of the text (longest on a tie).
            var hit: (range: Range<Substring.Index>, id: Int)?
            for (content, id) in specialTokens {
                if let r = rest.range(of: content), hit.map({ r.lowerBound < $0.range.lowerBound }) ?? true { hit = (r, id) }
            }
            let plain = hit.map { rest[..<$0.range.lowerBound] } ?? rest
            encodePlain(plain, cache: cache, into: &out)
            guard let hit else { break }
            out.append(hit.id)
            rest = rest[hit.range.upperBound...]
        }
        return out
    }

    /// Encodes many texts on `threads` threads; texts are dealt out in a fixed order, and each
    /// text's ids do not depend on which thread encoded it.
    public func encode(batch texts: [String], threads: Int) -> [[Int]] {
        var out = [[Int]](repeating: [], count: texts.count)
        let lanes = max(1, threads)
        out.withUnsafeMutableBufferPointer { results in
            let base = results.baseAddress
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                // One cache per thread: a shared one made two threads slower than one.
                let local = lanes == 1 ? cache : PieceCache()
                for i in stride(from: lane, to: texts.count, by: lanes) { base?[i] = encode(texts[i], cache: local) }
            }
        }
        return out
    }

    func encodePlain(_ text: Substring, cache: PieceCache, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        let normalized = nfc ? Substring(String(text).precomposedStringWithCanonicalMapping) : text
        if case .gpt2 = preTokenizer {
            // The common case without the list of pieces: ranges of one byte array.
            let bytes = Array(normalized.utf8)
            for r in GPT2Split.split(utf8: bytes) { encodePiece(Array(bytes[r]), cache: cache, into: &out) }
            return
        }
        for piece in preTokenizer.pieces(normalized) { encodePiece(piece, cache: cache, into: &out) }
    }

    func encodePiece(_ piece: [UInt8], cache: PieceCache, into out: inout [Int]) {
        if let ids = cache.get(piece) { out += ids; return }
        var ids: [Int] = []
        bpe.encode(piece: piece, into: &ids)
        cache.put(piece, ids)
        out += ids
    }

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, as HF's
    /// ByteLevel decoder does.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if let b = bpe.bytes(of: id) { bytes += b } else if id >= 0 && id < bpe.tokens.count { bytes += Array(bpe.tokens[id].utf8) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A bounded, thread-safe piece -> ids cache (cleared when full).
final class PieceCache: @unchecked Sendable {
    private var map: [[UInt8]: [Int]] = [:]
    private let lock = NSLock()
    static let limit = 200_000

    func get(_ piece: [UInt8]) -> [Int]? {
        lock.lock(); defer { lock.unlock() }
        return map[piece]
    }

    func put(_ piece: [UInt8], _ ids: [Int]) {
        lock.lock(); defer { lock.unlock() }
        if map.count >= PieceCache.limit { map.removeAll(keepingCapacity: true) }
        map[piece] = ids
    }
}
