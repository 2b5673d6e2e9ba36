import HoneFormats

extension Tokenizer {
    /// The byte-level BPE tokenizer a GGUF carries (`tokenizer.ggml.*`, ../shared/REFERENCE.md §5):
    /// tokens by id, merges as "a b" strings, CONTROL tokens (type 3) as special tokens.
    /// Pre-tokenizers whose split rules are GPT-2's (`gpt2`, and `smollm`, which transformers
    /// converts to GPT-2's ByteLevel) are supported; others are refused by name.
    public init(gguf g: GGUF) throws {
        func fail(_ what: String) -> GGUF.Failure { GGUF.Failure(file: g.path, offset: 0, expected: what) }
        let model = g.metadata["tokenizer.ggml.model"]?.string ?? "?"
        guard model == "gpt2" else { throw fail("tokenizer.ggml.model 'gpt2' (byte-level BPE), found '\(model)'") }
        let pre = g.metadata["tokenizer.ggml.pre"]?.string ?? "gpt2"
        guard ["gpt2", "smollm", "default"].contains(pre) else {
            throw fail("a tokenizer.ggml.pre Hone knows (gpt2, smollm), found '\(pre)'")
        }
        guard let tokens = g.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !tokens.isEmpty else {
            throw fail("tokenizer.ggml.tokens, an array of strings")
        }
        let mergeStrings = g.metadata["tokenizer.ggml.merges"]?.array?.compactMap(\.string) ?? []
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeStrings.count)
        for m in mergeStrings {
            guard let space = m.firstIndex(of: " ") else { throw fail("merges of the form 'a b', found '\(m)'") }
            merges.append((String(m[..<space]), String(m[m.index(after: space)...])))
        }
        let types = g.metadata["tokenizer.ggml.token_type"]?.array?.compactMap(\.int) ?? []
        let specials = zip(tokens, types).filter { $0.1 == 3 }.map(\.0)
        self.init(bpe: try BPE(tokens: tokens, merges: merges), specialTokens: specials, preTokenizer: .gpt2)
    }
}
