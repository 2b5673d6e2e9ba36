import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

/// `reward`: a reward model — the base (or SFT) model with a scalar head, trained on preference
/// pairs with −log σ(r_chosen − r_rejected), each score read at its sequence's last token.
/// Pairs are rendered with the base's chat template, as the policy will see its answers. The
/// training loop is the one `pretrain` and `sft` use (checkpoints, resume, schedules); val
/// reports pair accuracy and mean margin.
struct RewardKind: StageKind {
    let name = "reward"
    /// 2: products of 2048 rows or more run in 512-row tasks (Matmul.rowsPerTask), which changes their bits.
    /// 3: causal attention skips the blocks above the diagonal (Attention.block) and its backward sums rows in lanes (Lanes.dot); the gradient norm sums in four running sums.
    let version = "3"
    let summary = "train a reward model (scalar head, Bradley–Terry loss) on preference pairs; val pair accuracy and margin"
    let isNumeric = true
    let inputs = [
        InputSpec("base", help: "the model to start from (a base or SFT model folder with its tokenizer, or a GGUF file)"),
        InputSpec("train", help: "preference records {prompt, chosen, rejected}, with an optional input rendered as the instruction's"),
        InputSpec("val", help: "preference records held out for pair accuracy", optional: true),
    ]
    let outputs = [
        OutputSpec("model", help: "model.safetensors + config.json (with the scalar head, score.weight) + tokenizer.json"),
        OutputSpec("metrics", help: "history.jsonl: one line per step (loss, lr, grad_norm) and per evaluation (val_loss, val_accuracy, val_margin)"),
    ]
    let params = TrainParams.training.filter { !["replay_fraction", "keep_checkpoints"].contains($0.name) } + TuningParams.specs

    func check(_ params: Params) -> [ParamIssue] { TrainParams.check(params) + TuningParams.check(params) }

    func run(_ context: StageContext) throws -> StageResult {
        guard let baseDir = context.inputs["base"], let trainDir = context.inputs["train"],
              let modelOut = context.outputs["model"], let metricsOut = context.outputs["metrics"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        let p = context.params
        let T = p.int("seq_len") ?? 64
        let base = try TrainStage.loadBase(baseDir, quant: TuningParams.quantFormat(p))
        let chat = try ChatModel(base, input: "base")
        var (config, weights) = ScalarHead.adding(to: base.config, weights: base.weights)
        config.dropout = Float(p.double("dropout") ?? 0)
        (config, weights) = try TuningParams.withAddedTensors(p, config: config, weights: weights, key: context.seed(for: "adapter init"))
        guard T + config.virtualTokens <= config.maxPositions else {
            throw StageFailure("\(context.stageName): seq_len \(T) (and \(config.virtualTokens) virtual tokens) pass the model's max_positions \(config.maxPositions)")
        }
        func pairs(_ dir: URL, _ input: String) throws -> [PreferencePair] {
            try RecordParams.records(dir, format: .preference, input: input).map { r in
                let prompt = try chat.prompt(instruction: r["prompt"] ?? "", input: r["input"] ?? "")
                return PreferencePair(chosen: prompt + chat.response(r["chosen"] ?? ""), rejected: prompt + chat.response(r["rejected"] ?? ""))
            }
        }
        let train = try pairs(trainDir, "train")
        let val = try context.inputs["val"].map { try pairs($0, "val") }
        let cut = (train + (val ?? [])).filter { $0.chosen.count > T || $0.rejected.count > T }.count
        if cut > 0 { context.log.write("\(context.stageName): warning: \(cut) pairs are longer than seq_len \(T); their first tokens are left out") }

        let settings = TrainParams.settings(p, examples: train.count, context: context)
        var tuning = try TuningParams.tuning(p, config: config, loraKey: context.seed(for: "lora init"))
        // Whatever else trains, the new head must.
        tuning.alsoTrain(ScalarHead.tensorName)
        let model = Model(config: config, weights: weights, threads: Parallel.defaultThreads, tuning: tuning, quantized: base.quantized)
        let trainer = Trainer(model: model, settings: settings, train: RewardModeling(train, T: T), val: val.map { RewardModeling($0, T: T) })
        context.log.write("\(context.stageName): \(train.count) train pairs, \(val?.count ?? 0) val pairs, \(settings.steps) steps of \(settings.batchSize) pairs, "
                          + "\(TuningParams.method(p).rawValue): \(model.trainableCount) trainable values")
        let outcome = try trainer.run(scratch: context.scratch, report: TrainStage.progress(context), log: { context.log.write($0) })

        try ModelFiles.save(config: config, weights: model.mergedWeights(), to: modelOut)
        if let json = base.tokenizerJSON { try json.write(to: modelOut.appendingPathComponent("tokenizer.json")) }
        try Data((outcome.history.map(\.canonical).joined(separator: "\n") + "\n").utf8).write(to: metricsOut.appendingPathComponent("history.jsonl"))
        var metrics: [String: Double] = ["steps": Double(outcome.steps), "train_pairs": Double(train.count), "train_loss": outcome.finalTrainLoss]
        let evals = outcome.history.filter { $0["val_loss"] != nil }
        let chosen = settings.patience > 0 ? evals.first { $0["step"]?.intValue == outcome.bestStep } : evals.last
        for key in ["loss", "accuracy", "margin"] {
            if let v = chosen?["val_" + key]?.doubleValue { metrics["val_" + key] = v }
        }
        if let v = val { metrics["val_pairs"] = Double(v.count) }
        return StageResult(metrics: metrics)
    }

    /// The reward model an input names (a reward stage's model output), frozen; it must score
    /// the token ids of a model with `vocabSize` tokens.
    static func judge(_ folder: URL, input: String, vocabSize: Int) throws -> Model {
        let m = try TrainStage.loadBase(folder, quant: nil)
        guard m.config.scalarHead else {
            throw StageFailure("input '\(input)' has no scalar head (hone_scalar_head in its config.json): give a reward stage's model output")
        }
        guard m.config.vocabSize == vocabSize else {
            throw StageFailure("input '\(input)': the reward model's vocabulary (\(m.config.vocabSize)) differs from the model's it judges (\(vocabSize)); train it from the same base")
        }
        return Model(config: m.config, weights: m.weights, threads: Parallel.defaultThreads, tuning: .frozen)
    }
}
