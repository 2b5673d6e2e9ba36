import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

extension EvaluateKind {
    /// Classification by verbaliser: each record's text is the prompt, each label's text (and
    /// the template's end token) a candidate answer; the prediction is the candidate with the
    /// highest total log-probability. The prompt goes through the KV cache once per record.
    func classify(_ context: StageContext, _ modelDir: URL, _ dataDir: URL, _ out: URL) throws -> StageResult {
        let p = context.params
        let chat = try ChatModel(modelDir, input: "model")
        let records = try RecordParams.records(dataDir, format: .textLabel, input: "data", most: p.int("max_examples"))
        var labels = p["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if labels.isEmpty { labels = Array(Set(records.compactMap { $0["label"] })).sorted() }
        guard labels.count >= 2 else { throw StageFailure("\(context.stageName): the data has one label only (\(labels.first ?? "")); classification needs two or more") }
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let generator = try chat.generator(context)
        let V = chat.config.vocabSize
        let answers = labels.map { chat.response($0) }
        var truth: [Int] = [], predicted: [Int] = []
        for (n, r) in records.enumerated() {
            guard let t = index[r["label"] ?? ""] else {
                throw StageFailure("\(context.stageName): \(r.source): label '\(r["label"] ?? "")' is not one of the labels \(labels)")
            }
            generator.reset()
            let prompt = try chat.prompt(instruction: r["text"] ?? "")
            let first = try generator.feed(prompt)
            var best = 0, bestScore = -Double.infinity
            for (l, answer) in answers.enumerated() {
                generator.rewind(to: prompt.count + chat.config.virtualTokens)
                // Logits before each answer token: the prompt's last, then the answer's own but its last.
                let rows = first + (answer.count > 1 ? try generator.feed(Array(answer.dropLast()), allLogits: true) : [])
                var total = 0.0
                for (j, token) in answer.enumerated() {
                    total += rows.withUnsafeBufferPointer { TokenLogits.logprob($0.baseAddress! + j * V, V: V, token: Int(token)).logprob }
                }
                if total > bestScore { best = l; bestScore = total }
            }
            truth.append(t); predicted.append(best)
            if n % 50 == 0 { context.progress.update(done: n, total: records.count, unit: "records", message: nil) }
        }
        let c = Classification(labels: labels, truth: truth, predicted: predicted)
        func r6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
        let metrics: [String: Double] = [
            "examples": Double(c.total), "accuracy": r6(c.accuracy),
            "precision_macro": r6(c.macro(c.precision)), "recall_macro": r6(c.macro(c.recall)), "f1_macro": r6(c.macro(c.f1)),
            "precision_weighted": r6(c.weighted(c.precision)), "recall_weighted": r6(c.weighted(c.recall)), "f1_weighted": r6(c.weighted(c.f1)),
        ]
        let perLabel = JSONValue.object(Dictionary(uniqueKeysWithValues: labels.enumerated().map { i, l in
            (l, JSONValue.object(["precision": .double(r6(c.precision(i))), "recall": .double(r6(c.recall(i))), "f1": .double(r6(c.f1(i))),
                                  "support": .int(c.support(i))]))
        }))
        let report = JSONValue.object([
            "labels": .array(labels.map { .string($0) }),
            "confusion": .array(c.confusion.map { .array($0.map { .int($0) }) }),
            "per_label": perLabel,
            "metrics": .object(metrics.mapValues { .double($0) }),
        ])
        try Data((report.pretty + "\n").utf8).write(to: out.appendingPathComponent("metrics.json"))
        context.log.write(String(format: "%@: %d records, accuracy %.4f, macro F1 %.4f", context.stageName, c.total, c.accuracy, c.macro(c.f1)))
        return StageResult(metrics: metrics)
    }
}
