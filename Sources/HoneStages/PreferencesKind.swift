import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneTensor

/// `preferences`: preference pairs from a model's own samples. For each instruction the model
/// answers `samples` times (seeded sampling), a checker scores every answer against the
/// record's reference output, and the best- and worst-scoring answers become a pair (chosen,
/// rejected) when their scores differ. A reward model trained on these pairs learns what
/// separates the policy's right answers from its wrong ones — not a reference answer from a
/// random string, which would make its job trivial.
struct PreferencesKind: StageKind {
    let name = "preferences"
    /// 2: a model read from a GGUF samples from the file's blocks, as `hone generate` does.
    let version = "2"
    let summary = "preference pairs from a model's own samples, scored by a checker against each record's reference"
    let isNumeric = true
    let inputs = [
        InputSpec("model", help: "the model to sample from (a training stage's model output, with its tokenizer)"),
        InputSpec("train", help: "instruction records (instruction, input, output): the output is the reference the checker compares with"),
        InputSpec("val", help: "more instruction records, whose pairs go to the val output", optional: true),
        InputSpec("checker", help: "a file the checker command uses (a script): the folder $HONE_INPUT_checker holds it", optional: true),
    ]
    let outputs = [
        OutputSpec("train", help: "data.jsonl: preference records {prompt, chosen, rejected} (and input, when the record has one) from the train records"),
        OutputSpec("val", help: "data.jsonl: preference records from the val records (empty without val)"),
        OutputSpec("samples", help: "samples.jsonl: every sampled answer with its score"),
    ]
    let params = [
        ParamSpec("samples", .int(min: 2, max: 64), default: .int(4), help: "answers sampled per instruction"),
        ParamSpec("temperature", .number(min: 0.01, max: 10), default: .double(1), help: "sampling temperature"),
        ParamSpec("top_k", .int(min: 0), default: .int(0), help: "sample from the k likeliest tokens only; 0: all"),
        ParamSpec("max_new_tokens", .int(min: 1), default: .int(32), help: "longest answer, in tokens"),
        ParamSpec("max_prompts", .int(min: 0), default: .int(0), help: "most instructions used per split (the first ones); 0: all"),
        ParamSpec("pairs_per_prompt", .int(min: 1), default: .int(1), help: "most pairs per instruction: distinct answers, each better-scored one against each worse-scored one, best against worst first"),
    ] + Checker.params

    func check(_ params: Params) -> [ParamIssue] { Checker.check(params) }

    /// (chosen, rejected) texts from one prompt's scored answers: distinct texts only, every
    /// higher-scored answer against every lower-scored one, ordered by the gap (widest first),
    /// then by the answers' order — the same pairs every run. At most `most`.
    static func pairs(_ answers: [(text: String, score: Double)], most: Int) -> [(String, String)] {
        var seen = Set<String>(), distinct: [(text: String, score: Double)] = []
        for a in answers where seen.insert(a.text).inserted { distinct.append(a) }
        var candidates: [(gap: Double, i: Int, j: Int)] = []
        for i in distinct.indices {
            for j in distinct.indices where distinct[i].score > distinct[j].score { candidates.append((distinct[i].score - distinct[j].score, i, j)) }
        }
        candidates.sort { ($0.gap, -$0.i, -$0.j) > ($1.gap, -$1.i, -$1.j) }
        return candidates.prefix(most).map { (distinct[$0.i].text, distinct[$0.j].text) }
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let modelDir = context.inputs["model"], let trainDir = context.inputs["train"],
              let trainOut = context.outputs["train"], let valOut = context.outputs["val"], let samplesOut = context.outputs["samples"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        let p = context.params
        let chat = try ChatModel(modelDir, input: "model")
        let generator = try chat.generator(context)
        let checker = Checker(context)
        var metrics: [String: Double] = [:]
        var samples: [String] = []
        for (split, dir, out) in [("train", trainDir, trainOut), ("val", context.inputs["val"], valOut)] {
            guard let dir else { continue }
            let records = try RecordParams.records(dir, format: .alpaca, input: split, most: p.int("max_prompts"))
            let k = p.int("samples") ?? 4
            var answers: [(record: Int, text: String)] = []
            for (i, r) in records.enumerated() {
                let prompt = try chat.prompt(instruction: r["instruction"] ?? "", input: r["input"] ?? "")
                for j in 0..<k {
                    var sampler = Sampler(temperature: p.double("temperature") ?? 1, topK: p.int("top_k") ?? 0, topP: 1,
                                          seed: context.seed(for: "\(split) \(i) \(j)"))
                    let ids = try generator.respond(to: prompt, sampler: &sampler, maxNewTokens: p.int("max_new_tokens") ?? 32, stop: chat.stop)
                    answers.append((i, chat.text(ids)))
                }
                if i % 50 == 0 { context.progress.update(done: i, total: records.count, unit: "\(split) prompts", message: nil) }
            }
            let scores = try checker.scores(answers.map { a in
                Checker.Item(prompt: records[a.record]["instruction"] ?? "", response: a.text, reference: records[a.record]["output"] ?? "")
            })
            var pairs: [String] = []
            for i in records.indices {
                let mine = (0..<k).map { i * k + $0 }
                for j in mine {
                    samples.append(JSONValue.object(["split": .string(split), "prompt": .string(records[i]["instruction"] ?? ""),
                                                     "response": .string(answers[j].text), "score": .double(scores[j])]).canonical)
                }
                for (better, worse) in Self.pairs(mine.map { (answers[$0].text, scores[$0]) }, most: p.int("pairs_per_prompt") ?? 1) {
                    var pair: [String: JSONValue] = ["prompt": .string(records[i]["instruction"] ?? ""), "chosen": .string(better), "rejected": .string(worse)]
                    // The record's input travels with it, so the reward model sees the prompt the policy saw.
                    if let input = records[i]["input"], !input.isEmpty { pair["input"] = .string(input) }
                    pairs.append(JSONValue.object(pair).canonical)
                }
            }
            try Data(pairs.map { $0 + "\n" }.joined().utf8).write(to: out.appendingPathComponent("data.jsonl"))
            let passRate = scores.reduce(0, +) / Double(max(1, scores.count))
            metrics["\(split)_prompts"] = Double(records.count)
            metrics["\(split)_pairs"] = Double(pairs.count)
            metrics["\(split)_pass_rate"] = (passRate * 1e6).rounded() / 1e6
            context.log.write(String(format: "%@: %@: %d prompts × %d samples, mean checker score %.3f, %d pairs",
                                     context.stageName, split, records.count, k, passRate, pairs.count))
            if pairs.isEmpty {
                throw StageFailure("\(context.stageName): no \(split) prompt got both a passing and a failing answer, so there is no pair; raise samples or temperature")
            }
        }
        try Data(samples.map { $0 + "\n" }.joined().utf8).write(to: samplesOut.appendingPathComponent("samples.jsonl"))
        return StageResult(metrics: metrics)
    }
}
