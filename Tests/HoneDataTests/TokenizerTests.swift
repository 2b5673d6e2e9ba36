import Foundation
import HoneBase
import HoneData
import HoneFormats
import Testing

@Suite struct PreTokenizerTests {
    func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return GPT2Split.split(scalars).map { r in
            ByteLevel.encode(Array(String(String.UnicodeScalarView(scalars[r])).utf8))
        }
    }

    @Test func workedExample() {
        #expect(pieces("Hello  world's\n") == ["Hello", "Ġ", "Ġworld", "'s", "Ċ"])
    }

    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason))
    func splitsExactlyAsHFByteLevelDoes() throws {
        let data = try HFOracle.run(["pretokenize", try HFOracle.tempJSON(variedTexts)])
        let hf = try #require(try JSONSerialization.jsonObject(with: data) as? [[String]])
        for (text, expected) in zip(variedTexts, hf) {
            #expect(pieces(text) == expected, "\(text.debugDescription)")
        }
    }
}

/// The corpus the oracle tests train on: the repository's own docs plus the varied texts, one
/// line a sequence (endings kept), as HF reads a file.
func oracleCorpus() throws -> (path: String, lines: [String]) {
    var text = ""
    for name in ["README.md", "docs/pipeline.md", "docs/store.md", "docs/data.md", "docs/architecture.md", "BENCHMARKS.md"] {
        text += (try? String(contentsOf: HFOracle.repo.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }
    for _ in 0..<3 { text += variedTexts.joined(separator: "\n") + "\n" }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString).txt").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    var lines: [String] = []
    var current = ""
    for ch in text.unicodeScalars {
        current.unicodeScalars.append(ch)
        if ch == "\n" { lines.append(current); current = "" }
    }
    if !current.isEmpty { lines.append(current) }
    return (path, lines)
}

@Suite struct BPEOracleTests {
    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason), arguments: [300, 1000])
    func trainedMergesAndVocabEqualHFBpeTrainers(_ vocab: Int) throws {
        let (path, lines) = try oracleCorpus()
        let out = path + ".hf.json"
        try HFOracle.run(["train", path, String(vocab), "2", out])
        let hf = try Tokenizer(json: try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: out))))
        let hone = try Tokenizer.train(lines: lines, vocabSize: vocab, minFrequency: 2)
        #expect(hone.bpe.tokens.count == hf.bpe.tokens.count)
        #expect(hone.bpe.tokens == hf.bpe.tokens)
        let firstDifference = zip(hone.bpe.merges, hf.bpe.merges).enumerated().first { $0.element.0.0 != $0.element.1.0 || $0.element.0.1 != $0.element.1.1 }
        #expect(firstDifference == nil, "first differing merge: \(String(describing: firstDifference))")
        #expect(hone.bpe.merges.count == hf.bpe.merges.count)
        #expect(hone.bpe.tokens.count == vocab, "the corpus must be big enough to reach the vocabulary size")
    }

    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason))
    func honesTokenizerJSONLoadsInHFAndEncodesToTheSameIDs() throws {
        let (_, lines) = try oracleCorpus()
        let hone = try Tokenizer.train(lines: lines, vocabSize: 800)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hone-tok-\(UUID().uuidString).json").path
        try Data(hone.json.pretty.utf8).write(to: URL(fileURLWithPath: path))
        let texts = variedTexts + ["<|endoftext|>between<|endoftext|>", "no special<|endoftext"]
        let data = try HFOracle.run(["encode", path, try HFOracle.tempJSON(texts)])
        let hf = try #require(try JSONSerialization.jsonObject(with: data) as? [[Int]])
        for (text, ids) in zip(texts, hf) { #expect(hone.encode(text) == ids, "\(text.debugDescription)") }
    }

    /// SmolLM2's tokenizer as its GGUF stores it (tokenizer.ggml.*, the `smollm` pre-tokenizer),
    /// written out as tokenizer.json: HF `tokenizers` encodes every text to Hone's ids.
    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason))
    func smolLM2sGGUFTokenizerEncodesInHFAsInHone() throws {
        let gguf = HFOracle.repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: gguf.path) else {
            print("skipped: \(gguf.path) is missing (make model fetches it)")
            return
        }
        let hone = try Tokenizer(gguf: try GGUF(url: gguf))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hone-smol-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(hone.json.pretty.utf8).write(to: URL(fileURLWithPath: path))
        let texts = variedTexts + ["<|im_start|>user\nHi<|im_end|>", "  two  spaces\tand\ttabs  ", "3.14159 and 1,000,000 and 2026-11-30"]
        let data = try HFOracle.run(["encode", path, try HFOracle.tempJSON(texts)])
        let hf = try #require(try JSONSerialization.jsonObject(with: data) as? [[Int]])
        for (text, ids) in zip(texts, hf) { #expect(hone.encode(text) == ids, "\(text.debugDescription)") }
    }

    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason))
    func hfTrainedTokenizerLoadedInHoneEncodesAsHFDoes() throws {
        let (path, _) = try oracleCorpus()
        let out = path + ".hf.json"
        try HFOracle.run(["train", path, "700", "2", out])
        let loaded = try Tokenizer(json: try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: out))))
        let data = try HFOracle.run(["encode", out, try HFOracle.tempJSON(variedTexts)])
        let hf = try #require(try JSONSerialization.jsonObject(with: data) as? [[Int]])
        for (text, ids) in zip(variedTexts, hf) { #expect(loaded.encode(text) == ids, "\(text.debugDescription)") }
    }
}

@Suite struct TokenizerPropertyTests {
    @Test func decodeOfEncodeIsTheIdentityOnRandomUnicode() throws {
        let tok = try Tokenizer.train(lines: variedTexts.map { $0 + "\n" }, vocabSize: 400)
        var rng = SystemRandomNumberGenerator()
        let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x3040...0x30FF, 0x4E00...0x4FFF, 0x1F300...0x1F64F, 0x0...0x1F, 0x300...0x36F]
        for _ in 0..<300 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                let r = ranges.randomElement(using: &rng)!
                if let u = Unicode.Scalar(UInt32.random(in: r, using: &rng)) { s.append(u) }
            }
            let text = String(s)
            #expect(tok.decode(tok.encode(text)) == text, "\(text.debugDescription)")
        }
    }
}

@Suite struct PreTokenizerOracleTests {
    /// Llama-3's Split pattern and Digits, loaded from files HF wrote, encode as HF does.
    @Test(.enabled(if: HFOracle.available, HFOracle.skipReason), arguments: ["llama3", "digits"])
    func loadedPreTokenizersEncodeAsHFDoes(_ kind: String) throws {
        let (path, _) = try oracleCorpus()
        let out = path + ".\(kind).json"
        try HFOracle.run(["train-pre", kind, path, "600", out])
        let loaded = try Tokenizer(json: try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: out))))
        let texts = variedTexts + ["In 2024, 12345 items cost $1,000.50", "I'M here, you'RE there\r\n\r\nok"]
        let data = try HFOracle.run(["encode", out, try HFOracle.tempJSON(texts)])
        let hf = try #require(try JSONSerialization.jsonObject(with: data) as? [[Int]])
        for (text, ids) in zip(texts, hf) { #expect(loaded.encode(text) == ids, "\(kind): \(text.debugDescription)") }
    }

    @Test func unsupportedComponentsAreNamed() throws {
        let json = try JSONValue.parse(#"{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}"#)
        #expect { try Tokenizer(json: json) } throws: { "\($0)".contains("pre_tokenizer 'Metaspace' is not supported") }
        let wordPiece = try JSONValue.parse(#"{"model": {"type": "WordPiece"}}"#)
        #expect { try Tokenizer(json: wordPiece) } throws: { "\($0)".contains("model type 'WordPiece' is not supported") }
    }
}

@Suite struct TokenizerJSONTests {
    /// Older tokenizer.json files keep merges as "left right" strings; both layouts load alike.
    @Test func mergesAsStringsAndAsPairsLoadTheSame() throws {
        let tok = try Tokenizer.train(lines: variedTexts.map { $0 + "\n" }, vocabSize: 320)
        let pairs = tok.json
        guard case var .object(top) = pairs, case var .object(model) = top["model"] ?? .null else { Issue.record("shape"); return }
        model["merges"] = .array(tok.bpe.merges.map { .string("\($0.0) \($0.1)") })
        top["model"] = .object(model)
        let fromStrings = try Tokenizer(json: .object(top))
        let fromPairs = try Tokenizer(json: pairs)
        #expect(fromStrings.bpe.merges.count == tok.bpe.merges.count)
        for text in variedTexts { #expect(fromStrings.encode(text) == fromPairs.encode(text)) }
    }
}
