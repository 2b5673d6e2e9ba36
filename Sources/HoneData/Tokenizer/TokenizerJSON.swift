import Foundation
import HoneBase

/// Hugging Face's `tokenizer.json`, for the byte-level BPE tokenizers Hone trains and loads.
extension Tokenizer {
    public enum JSONFailure: Error, CustomStringConvertible {
        case unsupported(String), malformed(String)
        public var description: String {
            switch self {
            case let .unsupported(what): return "tokenizer.json: \(what) is not supported (Hone reads byte-level BPE with a ByteLevel pre-tokenizer)"
            case let .malformed(what): return "tokenizer.json: \(what)"
            }
        }
    }

    /// The file HF writes for models.BPE + pre_tokenizers.ByteLevel(add_prefix_space=False) +
    /// decoders.ByteLevel, with merges as [left, right] pairs (the layout since tokenizers 0.20).
    public var json: JSONValue {
        var vocab: [String: JSONValue] = [:]
        for (i, t) in bpe.tokens.enumerated() where vocab[t] == nil { vocab[t] = .int(i) }
        let added: [JSONValue] = specialTokens.sorted { $0.id < $1.id }.map { s in
            .object(["id": .int(s.id), "content": .string(s.content), "single_word": .bool(false), "lstrip": .bool(false),
                     "rstrip": .bool(false), "normalized": .bool(false), "special": .bool(true)])
        }
        let byteLevel: (Bool) -> JSONValue = { prefix in
            .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(prefix), "trim_offsets": .bool(true), "use_regex": .bool(true)])
        }
        return .object([
            "version": .string("1.0"), "truncation": .null, "padding": .null, "added_tokens": .array(added),
            "normalizer": nfc ? .object(["type": .string("NFC")]) : .null, "pre_tokenizer": preTokenizerJSON ?? byteLevel(false), "post_processor": .null, "decoder": byteLevel(true),
            "model": .object([
                "type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
                "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false), "ignore_merges": .bool(false),
                "vocab": .object(vocab),
                "merges": .array(bpe.merges.map { .array([.string($0.0), .string($0.1)]) }),
            ]),
        ])
    }

    /// Reads a `tokenizer.json`: a BPE model (merges as "a b" strings or [a, b] pairs), a
    /// ByteLevel pre-tokenizer with GPT-2's pattern, no normalizer or NFC. Anything else is
    /// refused naming the component.
    public init(json: JSONValue) throws {
        guard let model = json["model"]?.objectValue else { throw JSONFailure.malformed("no 'model'") }
        guard model["type"]?.stringValue == "BPE" else { throw JSONFailure.unsupported("model type '\(model["type"]?.stringValue ?? "?")'") }
        if let d = model["dropout"], d != .null { throw JSONFailure.unsupported("BPE dropout") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where model[key] != nil && model[key] != .null && model[key] != .string("") {
            throw JSONFailure.unsupported("BPE \(key)")
        }
        if model["byte_fallback"]?.boolValue == true { throw JSONFailure.unsupported("BPE byte_fallback") }
        if model["ignore_merges"]?.boolValue == true { throw JSONFailure.unsupported("BPE ignore_merges") }
        var nfc = false
        switch json["normalizer"] {
        case nil, .null?: break
        case let n?:
            guard n["type"]?.stringValue == "NFC" else { throw JSONFailure.unsupported("normalizer '\(n["type"]?.stringValue ?? "?")'") }
            nfc = true
        }
        guard let pre = json["pre_tokenizer"], pre != .null else { throw JSONFailure.unsupported("a missing pre_tokenizer") }
        let preTokenizer = try PreTokenizer.from(json: pre)
        guard preTokenizer.endsInByteLevel else { throw JSONFailure.unsupported("pre_tokenizer without ByteLevel") }
        guard let vocab = model["vocab"]?.objectValue else { throw JSONFailure.malformed("model.vocab is not a map") }
        var tokens = [String](repeating: "", count: vocab.count)
        for (t, v) in vocab {
            guard let i = v.intValue, i >= 0, i < tokens.count, tokens[i].isEmpty else { throw JSONFailure.malformed("vocab ids must be 0..<\(vocab.count), each once ('\(t)')") }
            tokens[i] = t
        }
        var merges: [(String, String)] = []
        for (i, m) in (model["merges"]?.arrayValue ?? []).enumerated() {
            if let s = m.stringValue {
                let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw JSONFailure.malformed("merge \(i) '\(s)' is not 'left right'") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let a = m.arrayValue, a.count == 2, let l = a[0].stringValue, let r = a[1].stringValue {
                merges.append((l, r))
            } else { throw JSONFailure.malformed("merge \(i) is neither 'left right' nor [left, right]") }
        }
        var special: [String] = []
        for t in json["added_tokens"]?.arrayValue ?? [] {
            guard let content = t["content"]?.stringValue, let id = t["id"]?.intValue else { continue }
            if id >= tokens.count { tokens += [String](repeating: "", count: id - tokens.count + 1) }
            if tokens[id].isEmpty { tokens[id] = content }
            special.append(content)
        }
        self.init(bpe: try BPE(tokens: tokens, merges: merges), specialTokens: special, nfc: nfc,
                  preTokenizer: preTokenizer, preTokenizerJSON: pre)
    }
}
