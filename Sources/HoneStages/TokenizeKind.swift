import Foundation
import HoneBase
import HoneData
import HoneFormats
import HonePipeline

/// `tokenize`: trains a byte-level BPE tokenizer on the train split (or takes a given
/// tokenizer.json), renders records through a template and writes token shards with a loss mask
/// (docs/token-shards.md).
struct TokenizeKind: StageKind {
    let name = "tokenize"
    let version = "1"
    let summary = "train a byte-level BPE tokenizer (HF-compatible) and write token shards with loss masks"
    let inputs = [InputSpec("train", help: "records to train the tokenizer on and to encode"),
                  InputSpec("val", help: "records to encode", optional: true),
                  InputSpec("test", help: "records to encode", optional: true),
                  InputSpec("tokenizer", help: "a tokenizer.json (or a folder with one), or a GGUF model whose tokenizer to use, instead of training one", optional: true)]
    let outputs = [OutputSpec("tokenizer", help: "tokenizer.json (Hugging Face format)"),
                   OutputSpec("data", help: "train/val/test .tokens, .index and .mask shards")]
    let params = [
        ParamSpec("vocab_size", .int(min: 260, max: 1_000_000), default: .int(4096), help: "tokens in the trained vocabulary, specials included"),
        ParamSpec("min_frequency", .int(min: 1), default: .int(2), help: "fewest occurrences for a merge"),
        ParamSpec("special_tokens", .list(.string()), default: .array([]),
                  help: "special tokens besides the template's own (<|endoftext|>, and <|im_start|>, <|im_end|> for ChatML)"),
        ParamSpec("template", .string(choices: ["auto"] + ChatTemplate.allCases.map(\.rawValue)), default: .string("auto"),
                  help: "how records become text: none (pretraining), chatml, alpaca; auto: chatml for alpaca and chat records, none otherwise"),
        RecordParams.format,
        RecordParams.maxRejectFraction(0),
    ]

    func run(_ context: StageContext) throws -> StageResult {
        guard let trainDir = context.inputs["train"], let tokOut = context.outputs["tokenizer"], let dataOut = context.outputs["data"] else {
            throw StageFailure("tokenize: inputs or outputs missing")
        }
        let p = context.params
        // The format and template come from the train split's first good record.
        let recordFormat = try RecordParams.format(p) ?? RecordReader(root: trainDir, format: nil).detectFormat() ?? .text
        let template = try chooseTemplate(p, recordFormat)
        let extra = p["special_tokens"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let specials = template.specialTokens + extra.filter { !template.specialTokens.contains($0) }

        let tokenizer: Tokenizer
        if let given = context.inputs["tokenizer"] {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: given.path)) ?? []).sorted()
            guard let name = files.contains("tokenizer.json") ? "tokenizer.json" : (files.count == 1 ? files[0] : nil) else {
                throw StageFailure("input 'tokenizer' holds no tokenizer.json (found: \(files.joined(separator: ", ")))")
            }
            let url = given.appendingPathComponent(name)
            // A GGUF model file carries its tokenizer: tokenize with a real base model's vocabulary.
            tokenizer = name.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUF(url: url)) : try Tokenizer(json: try JSONValue.parse(try Data(contentsOf: url)))
        } else {
            // Streaming: word counts need memory for the distinct words, not for the corpus.
            var counts = BPETrainer.Counts()
            try RecordReader(root: trainDir, format: recordFormat).forEach { item in
                guard case let .success(doc) = item else { return }
                for seg in try template.render(doc, format: recordFormat) {
                    for line in TokenizeKind.lines(withoutSpecials(seg.text, specials)) { counts.add(line: line) }
                }
            }
            context.log.write("tokenize: training a \(p.int("vocab_size") ?? 4096)-token vocabulary on \(counts.words.count) distinct words")
            let trained = BPETrainer(vocabSize: p.int("vocab_size") ?? 4096, minFrequency: p.int("min_frequency") ?? 2,
                                     specialTokens: specials).train(counts)
            tokenizer = Tokenizer(bpe: try BPE(tokens: trained.tokens, merges: trained.merges), specialTokens: specials)
        }
        try Data(tokenizer.json.pretty.utf8).write(to: tokOut.appendingPathComponent("tokenizer.json"))

        var metrics: [String: Double] = ["vocab_size": Double(tokenizer.bpe.tokens.count)]
        var bad = 0, read = 0
        for name in ["train", "val", "test"] {
            guard let dir = context.inputs[name] else { continue }
            let withMask = template != .none
            let writer = try TokenShard.Writer(base: dataOut.appendingPathComponent(name).path, vocabSize: tokenizer.bpe.tokens.count, withMask: withMask)
            try RecordReader(root: dir, format: recordFormat).forEach { item in
                read += 1
                guard case let .success(doc) = item else { bad += 1; return }
                var ids: [Int] = [], loss: [Bool] = []
                for seg in try template.render(doc, format: recordFormat) {
                    let part = tokenizer.encode(seg.text)
                    ids += part
                    loss += [Bool](repeating: seg.loss, count: part.count)
                }
                try writer.add(ids, loss: withMask ? loss : nil)
                if writer.documents % 1000 == 0 { context.progress.update(done: writer.documents, total: nil, unit: "\(name) records", message: nil) }
            }
            try writer.close()
            metrics["\(name)_documents"] = Double(writer.documents)
            metrics["\(name)_tokens"] = Double(writer.tokenCount)
            if withMask { metrics["\(name)_loss_tokens"] = Double(writer.lossTokens) }
        }
        try RecordParams.checkRejects(malformed: bad, read: read, params: p)
        metrics["malformed"] = Double(bad)
        return StageResult(metrics: metrics)
    }

    func chooseTemplate(_ p: Params, _ format: RecordFormat) throws -> ChatTemplate {
        switch p.string("template") ?? "auto" {
        case "auto": return format == .alpaca || format == .chat ? .chatml : .none
        case let t: return ChatTemplate(rawValue: t) ?? .none
        }
    }

    /// The training corpus leaves special tokens out (HF adds them after training).
    func withoutSpecials(_ text: String, _ specials: [String]) -> String {
        specials.reduce(text) { $0.replacingOccurrences(of: $1, with: "\n") }
    }

    /// Lines with their endings, as HF's trainer reads a file.
    static func lines(_ text: String) -> [String] {
        var out: [String] = [], start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: "\n").map { text.index(after: $0) } ?? text.endIndex
            out.append(String(text[start..<end]))
            start = end
        }
        return out
    }
}
