import Foundation
import HoneBase
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

/// `evaluate`: how good a model is, three ways (`task`), each a report and metrics in the run
/// record and the lockfile:
///
/// - perplexity: loss per token and perplexity on held-out token shards, for each split named —
///   before/after comparisons, what continued pretraining learned and what it forgot;
/// - classify: text/label records; the prediction is the label whose text the model finds
///   likeliest as the answer (a verbaliser: any SFT-tuned model, no new head); accuracy,
///   precision, recall, F1 (macro and weighted) and the confusion matrix;
/// - generate: instruction records answered by the model and scored by a checker against their
///   reference output (pass rate), beside the reward model's mean score when one is given — a
///   reward model alone is never trusted.
struct EvaluateKind: StageKind {
    let name = "evaluate"
    /// 3: products of 2048 rows or more run in 512-row tasks (Matmul.rowsPerTask), which changes their bits.
    /// 4: causal attention skips the blocks above the diagonal (Attention.block), which changes the bits of sequences over 64 positions.
    /// 5: a model read from a GGUF generates from the file's blocks, as `hone generate` does (classify and generate tasks).
    let version = "5"
    let summary = "evaluate a model: perplexity on token shards, classification by verbaliser (P/R/F1, confusion), or generation scored by a checker"
    let isNumeric = true
    let inputs = [
        InputSpec("model", help: "a model folder (a training stage's model output), a checkpoints output, or a Llama GGUF file"),
        InputSpec("data", help: "perplexity: token shards from tokenize (this model's tokenizer); classify: text/label records; generate: instruction records"),
        InputSpec("reward_model", help: "generate: a reward model whose mean score is reported beside the checker's pass rate", optional: true),
        InputSpec("checker", help: "generate: a file the checker command uses (a script): the folder $HONE_INPUT_checker holds it", optional: true),
    ]
    let outputs = [OutputSpec("report", help: "metrics.json (per split, or the classification report with its confusion matrix); generate: samples.jsonl")]
    let params = [
        ParamSpec("task", .string(choices: ["perplexity", "classify", "generate"]), default: .string("perplexity"),
                  help: "perplexity (token shards), classify (text/label records) or generate (instruction records and a checker)"),
        ParamSpec("splits", .list(.string()), default: .array([.string("val")]), help: "perplexity: the shards to evaluate (train, val, test)"),
        ParamSpec("seq_len", .int(min: 2), default: .int(128), help: "perplexity: tokens per row"),
        ParamSpec("batch_size", .int(min: 1), default: .int(4), help: "perplexity: rows per forward pass"),
        ParamSpec("max_batches", .int(min: 0), default: .int(0), help: "perplexity: most batches per split; 0: the whole split"),
        ParamSpec("packing", .string(choices: ["packed", "documents"]), default: .string("packed"),
                  help: "perplexity: packed (windows of the whole stream, every token counted) or documents (one record a row, loss-masked tokens only)"),
        ParamSpec("labels", .list(.string()), default: .array([]), help: "classify: the label set, in order; empty: the labels found in the data, sorted"),
        ParamSpec("max_examples", .int(min: 0), default: .int(0), help: "classify, generate: most records used (the first ones); 0: all"),
        ParamSpec("max_new_tokens", .int(min: 1), default: .int(32), help: "generate: longest answer, in tokens"),
        ParamSpec("temperature", .number(min: 0, max: 10), default: .double(0), help: "generate: 0 answers greedily; above 0 samples (seeded)"),
    ] + Checker.params

    func check(_ params: Params) -> [ParamIssue] {
        var issues = Checker.check(params)
        let splits = params["splits"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if splits.isEmpty { issues.append(ParamIssue(param: "splits", message: "name at least one shard to evaluate (val, test or train)")) }
        if let bad = splits.first(where: { !["train", "val", "test"].contains($0) }) {
            issues.append(ParamIssue(param: "splits", message: "'\(bad)' is not a shard tokenize writes: expected train, val or test"))
        }
        if Set(splits).count != splits.count { issues.append(ParamIssue(param: "splits", message: "a split is listed twice")) }
        let labels = params["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if Set(labels).count != labels.count { issues.append(ParamIssue(param: "labels", message: "a label is listed twice")) }
        if labels.count == 1 { issues.append(ParamIssue(param: "labels", message: "classification needs at least two labels")) }
        return issues
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let modelDir = context.inputs["model"], let dataDir = context.inputs["data"], let out = context.outputs["report"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        switch context.params.string("task") ?? "perplexity" {
        case "classify": return try classify(context, modelDir, dataDir, out)
        case "generate": return try generate(context, modelDir, dataDir, out)
        default: return try perplexity(context, modelDir, dataDir, out)
        }
    }

    func perplexity(_ context: StageContext, _ modelDir: URL, _ dataDir: URL, _ out: URL) throws -> StageResult {
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
