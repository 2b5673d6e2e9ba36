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

    public init(bpe: BPE, specialTokens: [String], nfc: Bool = false) {
        self.bpe = bpe
        self.nfc = nfc
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

    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            // The earliest special token in the rest of the text (longest on a tie).
            var hit: (range: Range<Substring.Index>, id: Int)?
            for (content, id) in specialTokens {
                if let r = rest.range(of: content), hit.map({ r.lowerBound < $0.range.lowerBound }) ?? true { hit = (r, id) }
            }
            let plain = hit.map { rest[..<$0.range.lowerBound] } ?? rest
            encodePlain(plain, into: &out)
            guard let hit else { break }
            out.append(hit.id)
            rest = rest[hit.range.upperBound...]
        }
        return out
    }

    func encodePlain(_ text: Substring, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        let scalars = Array((nfc ? String(text).precomposedStringWithCanonicalMapping : String(text)).unicodeScalars)
        for r in GPT2Split.split(scalars) {
            bpe.encode(piece: Array(String(String.UnicodeScalarView(scalars[r])).utf8), into: &out)
        }
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
