import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

extension EvaluateKind {
    /// Answers every instruction record, scores the answers with the checker against the
    /// records' outputs, and, given a reward model, its mean score of the same answers.
    func generate(_ context: StageContext, _ modelDir: URL, _ dataDir: URL, _ out: URL) throws -> StageResult {
        let p = context.params
        let chat = try ChatModel(modelDir, input: "model")
        let records = try RecordParams.records(dataDir, format: .alpaca, input: "data", most: p.int("max_examples"))
        let generator = try chat.generator(context)
        let temperature = p.double("temperature") ?? 0, maxNew = p.int("max_new_tokens") ?? 32
        var sequences: [[Int32]] = [], texts: [String] = []
        for (i, r) in records.enumerated() {
            let prompt = try chat.prompt(instruction: r["instruction"] ?? "", input: r["input"] ?? "")
            var sampler = Sampler(temperature: temperature, topK: 0, topP: 1, seed: context.seed(for: "answer \(i)"))
            let response = try generator.respond(to: prompt, sampler: &sampler, maxNewTokens: maxNew, stop: chat.stop)
            sequences.append(prompt + response)
            texts.append(chat.text(response))
            if i % 50 == 0 { context.progress.update(done: i, total: records.count, unit: "records", message: nil) }
        }
        let scores = try Checker(context).scores(records.indices.map { i in
            Checker.Item(prompt: records[i]["instruction"] ?? "", response: texts[i], reference: records[i]["output"] ?? "")
        })
        var rewards: [Double]?
        if let judgeDir = context.inputs["reward_model"] {
            let judgeModel = try RewardKind.judge(judgeDir, input: "reward_model", vocabSize: chat.config.vocabSize)
            let judge = judgeModel.config
            let T = min(judge.maxPositions - judge.virtualTokens, sequences.map(\.count).max() ?? 1)
            rewards = RewardModeling.scores(judgeModel, Activations(for: judgeModel, B: 8, T: T), sequences: sequences)
        }
        func r6(_ x: Double) -> Double { (x * 1e6).rounded() / 1e6 }
        let passRate = r6(scores.reduce(0, +) / Double(scores.count))
        var metrics: [String: Double] = ["examples": Double(records.count), "pass_rate": passRate]
        if let rewards { metrics["reward_mean"] = r6(rewards.reduce(0, +) / Double(rewards.count)) }
        let lines = records.indices.map { i -> String in
            var o: [String: JSONValue] = ["prompt": .string(records[i]["instruction"] ?? ""), "response": .string(texts[i]),
                                          "reference": .string(records[i]["output"] ?? ""), "score": .double(scores[i])]
            if let rewards { o["reward"] = .double(r6(rewards[i])) }
            return JSONValue.object(o).canonical + "\n"
        }
        try Data(lines.joined().utf8).write(to: out.appendingPathComponent("samples.jsonl"))
        try Data((JSONValue.object(metrics.mapValues { .double($0) }).pretty + "\n").utf8).write(to: out.appendingPathComponent("metrics.json"))
        context.log.write(String(format: "%@: %d answers, checker pass rate %.4f", context.stageName, records.count, passRate)
                          + (metrics["reward_mean"].map { String(format: ", reward model mean %.4f", $0) } ?? ""))
        return StageResult(metrics: metrics)
    }
}
