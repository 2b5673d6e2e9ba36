import Foundation
import HoneBase
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

/// `evaluate`: how well a model predicts held-out token shards — loss per token and perplexity
/// for each split named — so that a pipeline can put numbers before and after a training stage
/// side by side: what continued pretraining learned on its domain, and what it forgot of a
/// general corpus. (Classification and generation checks come with the RLHF work.)
struct EvaluateKind: StageKind {
    let name = "evaluate"
    let version = "1"
    let summary = "perplexity of a model on token shards (each split named), for before/after and forgetting comparisons"
    let isNumeric = true
    let inputs = [
        InputSpec("model", help: "a model folder (a training stage's model output), a checkpoints output, or a Llama GGUF file"),
        InputSpec("data", help: "token shards from tokenize, tokenized with this model's tokenizer"),
    ]
    let outputs = [OutputSpec("report", help: "metrics.json: loss, perplexity and tokens for each split")]
    let params = [
        ParamSpec("splits", .list(.string()), default: .array([.string("val")]), help: "the shards to evaluate (train, val, test)"),
        ParamSpec("seq_len", .int(min: 2), default: .int(128), help: "tokens per row"),
        ParamSpec("batch_size", .int(min: 1), default: .int(4), help: "rows per forward pass"),
        ParamSpec("max_batches", .int(min: 0), default: .int(0), help: "most batches per split; 0: the whole split"),
        ParamSpec("packing", .string(choices: ["packed", "documents"]), default: .string("packed"),
                  help: "packed: windows of the whole stream, every token counted (text); documents: one record a row, loss-masked tokens only (chat)"),
    ]

    func check(_ params: Params) -> [ParamIssue] {
        let splits = params["splits"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if splits.isEmpty { return [ParamIssue(param: "splits", message: "name at least one shard to evaluate (val, test or train)")] }
        if let bad = splits.first(where: { !["train", "val", "test"].contains($0) }) {
            return [ParamIssue(param: "splits", message: "'\(bad)' is not a shard tokenize writes: expected train, val or test")]
        }
        return Set(splits).count == splits.count ? [] : [ParamIssue(param: "splits", message: "a split is listed twice")]
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let modelDir = context.inputs["model"], let dataDir = context.inputs["data"], let out = context.outputs["report"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        let p = context.params
        let T = p.int("seq_len") ?? 128, B = p.int("batch_size") ?? 4, maxBatches = p.int("max_batches") ?? 0
        let packing = Examples.Packing(rawValue: p.string("packing") ?? "packed") ?? .packed
        let base = try TrainStage.loadBase(modelDir, quant: nil)
        guard T + base.config.virtualTokens <= base.config.maxPositions else {
            throw StageFailure("\(context.stageName): seq_len \(T) is longer than the model's max_positions \(base.config.maxPositions)")
        }
        let model = Model(config: base.config, weights: base.weights, threads: Parallel.defaultThreads, tuning: .frozen)
        let acts = Activations(for: model, B: B, T: T)
        let targets = UnsafeMutablePointer<Int32>.allocate(capacity: acts.M), mask = UnsafeMutablePointer<UInt8>.allocate(capacity: acts.M)
        defer { targets.deallocate(); mask.deallocate() }
        var metrics: [String: Double] = [:]
        var report: [String: JSONValue] = [:]
        for split in p["splits"]?.arrayValue?.compactMap(\.stringValue) ?? ["val"] {
            guard let shard = try TrainStage.shard(dataDir, split, vocab: base.config.vocabSize, required: true, stage: context.stageName) else { continue }
            if packing == .documents && shard.mask == nil {
                throw StageFailure("\(context.stageName): \(split).tokens has no loss mask; use packing: packed, or tokenize with a chat template")
            }
            let examples = Examples(shard: shard, T: T, packing: packing, useMask: packing == .documents)
            guard examples.count > 0 else {
                throw StageFailure("\(context.stageName): \(split) (\(shard.tokens.count) tokens) holds no row of seq_len + 1 = \(T + 1) tokens; lower seq_len")
            }
            context.progress.update(done: 0, total: nil, unit: "split", message: "\(split): \(examples.count) rows")
            let (loss, tokens) = meanLoss(model, on: examples, acts: acts, targets: targets, mask: mask, batches: maxBatches)
            guard tokens > 0 else { throw StageFailure("\(context.stageName): \(split) has no token in the loss") }
            let rounded = (loss * 1e6).rounded() / 1e6
            metrics["\(split)_loss"] = rounded
            metrics["\(split)_perplexity"] = exp(rounded)
            metrics["\(split)_tokens"] = Double(tokens)
            report[split] = .object(["loss": .double(rounded), "perplexity": .double(exp(rounded)), "tokens": .int(tokens)])
            context.log.write(String(format: "%@: %@ loss %.4f, perplexity %.3f over %d tokens", context.stageName, split, rounded, exp(rounded), tokens))
        }
        try Data((JSONValue.object(report).pretty + "\n").utf8).write(to: out.appendingPathComponent("metrics.json"))
        return StageResult(metrics: metrics)
    }
}
