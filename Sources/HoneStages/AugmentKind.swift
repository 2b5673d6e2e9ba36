import Foundation
import HoneBase
import HoneData
import HonePipeline

/// `augment`: EDA-style text augmentation of a training split (HoneData's `Augmenter`).
struct AugmentKind: StageKind {
    let name = "augment"
    let version = "1"
    let summary = "EDA text augmentation (synonym, insert, swap, delete, character noise) of the train split"
    let inputs = [InputSpec("data", help: "the train split"),
                  InputSpec("synonyms", help: "a synonym list: 'word: syn1, syn2' per line, or JSON word -> [syn]", optional: true)]
    let outputs = [OutputSpec("data", help: "data.jsonl: the originals, then for each `multiplier - 1` augmented copies with augmented_from and augment fields")]
    let params = [
        ParamSpec("multiplier", .int(min: 1, max: 100), default: .int(2), help: "output records per input record (the original included)"),
        ParamSpec("synonym", .number(min: 0, max: 1), default: .double(0.1), help: "share of words replaced by a synonym"),
        ParamSpec("insert", .number(min: 0, max: 1), default: .double(0.1), help: "share of words inserted"),
        ParamSpec("swap", .number(min: 0, max: 1), default: .double(0.1), help: "share of word swaps"),
        ParamSpec("delete", .number(min: 0, max: 1), default: .double(0.1), help: "probability each word is deleted"),
        ParamSpec("char_noise", .number(min: 0, max: 1), default: .double(0), help: "probability each letter swaps with the next"),
        ParamSpec("fields", .list(.string()), default: .array([]), help: "text fields to rewrite; empty: the prompt side of the format (never an answer or label)"),
        RecordParams.format,
        RecordParams.maxRejectFraction(0),
    ]

    /// The fields augmented by default: what the model reads, never what it must answer.
    static func defaultFields(_ format: RecordFormat) -> [String] {
        switch format {
        case .alpaca: return ["instruction", "input"]
        case .preference: return ["prompt"]
        case .textLabel, .text: return ["text"]
        case .chat: return []
        }
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let input = context.inputs["data"], let out = context.outputs["data"] else { throw StageFailure("augment: input missing") }
        let p = context.params
        var rates = Augmenter.Rates()
        rates.synonym = p.double("synonym") ?? 0.1
        rates.insert = p.double("insert") ?? 0.1
        rates.swap = p.double("swap") ?? 0.1
        rates.delete = p.double("delete") ?? 0.1
        rates.charNoise = p.double("char_noise") ?? 0
        var synonyms: [String: [String]] = [:]
        if let dir = context.inputs["synonyms"] {
            for (path, _) in try RecordReader(root: dir, format: nil).allFiles() {
                let parsed = try Augmenter.parseSynonyms(try String(contentsOfFile: path, encoding: .utf8))
                synonyms.merge(parsed) { a, b in a + b }
            }
        }
        let augmenter = Augmenter(rates: rates, synonyms: synonyms, key: context.seed(for: "augment"))
        let multiplier = p.int("multiplier") ?? 2
        let chosen = p["fields"]?.arrayValue?.compactMap(\.stringValue) ?? []

        let reader = RecordReader(root: input, format: RecordParams.format(p))
        if chosen.isEmpty, try reader.detectFormat() == .chat {
            throw StageFailure("augment: chat records have no default fields to rewrite; name them with the 'fields' param")
        }
        let writer = try LineWriter(path: out.appendingPathComponent("data.jsonl").path)
        // Copies go to scratch first (originals lead the output); memory stays flat.
        let copiesPath = context.scratch.appendingPathComponent("copies.jsonl").path
        let copies = try LineWriter(path: copiesPath)
        var index = 0, read = 0, malformed = 0
        try reader.forEach { item in
            read += 1
            guard case let .success(record) = item else { malformed += 1; return }
            try writer.write(record.jsonLine)
            let fields = chosen.isEmpty ? AugmentKind.defaultFields(reader.format ?? .text) : chosen
            for copy in 1..<max(1, multiplier) {
                var r = record
                var ops: [String] = []
                for (f, field) in fields.enumerated() {
                    guard let text = r.fields[field]?.stringValue, !text.isEmpty else { continue }
                    let (newText, o) = augmenter.augment(text, index: index, copy: copy * 64 + f)
                    r.fields[field] = .string(newText)
                    for op in o where !ops.contains(op) { ops.append(op) }
                }
                r.fields["augmented_from"] = .string(record.source.description)
                r.fields["augment"] = .string(ops.joined(separator: ","))
                try copies.write(r.jsonLine)
            }
            index += 1
        }
        // Originals first, then the copies: a consumer that wants only originals reads a prefix.
        try copies.close()
        for line in LineReader(path: copiesPath) { try writer.write(String(decoding: line.bytes, as: UTF8.self)) }
        try writer.close()
        let augmented = copies.count
        try RecordParams.checkRejects(malformed: malformed, read: read, params: p)
        context.log.write("augment: \(index) records -> \(writer.count) (\(augmented) augmented)")
        return StageResult(metrics: ["originals": Double(index), "augmented": Double(augmented),
                                     "records": Double(writer.count), "malformed": Double(malformed)])
    }
}
