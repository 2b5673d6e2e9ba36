import Foundation
import HoneBase
import HoneData
import HoneFormats
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

/// What `pretrain` and `sft` share: read token shards (and a base model or the architecture
/// params), train with checkpoints in the stage's scratch folder, write the model as Hugging
/// Face files, the metric history as JSON lines, and the kept checkpoints when asked.
enum TrainStage {
    static let inputs = [
        InputSpec("data", help: "token shards from tokenize: train (and val for evaluation)"),
        InputSpec("tokenizer", help: "the folder with tokenizer.json (from tokenize); copied next to the model", optional: true),
        InputSpec("base", help: "a model folder (config.json + model.safetensors), a checkpoints output (its newest checkpoint), or a Llama GGUF file, to start from instead of random weights", optional: true),
        InputSpec("replay", help: "token shards of a general corpus whose train shard is mixed into training (replay_fraction), against forgetting", optional: true),
    ]
    static let outputs = [
        OutputSpec("model", help: "model.safetensors + config.json (Hugging Face Llama) + tokenizer.json"),
        OutputSpec("metrics", help: "history.jsonl: one line per step (loss, lr, grad_norm) and per evaluation (val_loss, val_perplexity)"),
        OutputSpec("checkpoints", help: "the kept checkpoints when keep_checkpoints is true (else empty)"),
        OutputSpec("adapter", help: "lora/qlora: adapter_model.safetensors + adapter_config.json in Hugging Face PEFT's layout (else empty)"),
    ]

    static func run(_ context: StageContext, packing: Examples.Packing) throws -> StageResult {
        guard let dataDir = context.inputs["data"], let modelOut = context.outputs["model"], let metricsOut = context.outputs["metrics"],
              let checkpointsOut = context.outputs["checkpoints"], let adapterOut = context.outputs["adapter"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        let p = context.params
        let T = p.int("seq_len") ?? 64
        let useMask = packing == .documents

        // The tokenizer and the base model decide the vocabulary; the shards must fit it.
        var tokenizerJSON: Data?
        var tokenizer: Tokenizer?
        if let dir = context.inputs["tokenizer"] {
            let url = dir.appendingPathComponent("tokenizer.json")
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw StageFailure("input 'tokenizer' holds no tokenizer.json")
            }
            tokenizerJSON = data
            tokenizer = try Tokenizer(json: try JSONValue.parse(data))
        }
        var config: ModelConfig
        var weights: Buffer
        var quantized: QuantizedProjections?
        let quant = TuningParams.quantFormat(p)
        if let base = context.inputs["base"] {
            let loaded = try loadBase(base, quant: quant)
            config = loaded.config
            weights = loaded.weights
            quantized = loaded.quantized
            if tokenizerJSON == nil { tokenizerJSON = loaded.tokenizerJSON }
            context.log.write("\(context.stageName): starting from the base model (\(config.layers) layers, d \(config.hiddenSize), vocab \(config.vocabSize))")
        } else {
            guard let tokenizer else {
                throw StageFailure("\(context.stageName): a model from scratch needs the 'tokenizer' input (its vocabulary sizes the model), or give a 'base' model")
            }
            config = TrainParams.config(p, vocabSize: tokenizer.bpe.tokens.count)
            if let problem = config.problem { throw StageFailure("\(context.stageName): \(problem)") }
            weights = initialWeights(ParameterLayout(config), config: config, key: context.seed(for: "init"))
            if let quant { (weights, quantized) = try QuantizedProjections.split(weights, config: config, format: quant) }
        }
        if let tokenizer {
            let ids = Dictionary(tokenizer.specialTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
            config.eosTokenId = config.eosTokenId ?? ids[ChatTemplate.endOfText]
        }
        config.dropout = Float(p.double("dropout") ?? 0)
        guard T <= config.maxPositions else {
            throw StageFailure("\(context.stageName): seq_len \(T) is longer than the model's max_positions \(config.maxPositions)")
        }

        guard var train = try shard(dataDir, "train", vocab: config.vocabSize, required: true, stage: context.stageName) else {
            throw StageFailure("\(context.stageName): no train shard")
        }
        var replayTokens = 0
        if context.inputs["replay"] == nil && p.double("replay_fraction") != 0.25 {
            context.log.write("\(context.stageName): warning: replay_fraction is set but there is no replay input, so nothing is mixed in")
        }
        if let replayDir = context.inputs["replay"],
           let general = try shard(replayDir, "train", vocab: config.vocabSize, required: true, stage: context.stageName) {
            (train, replayTokens) = Replay.mix(train, with: general, fraction: p.double("replay_fraction") ?? 0.25)
            context.log.write("\(context.stageName): replay: \(replayTokens) tokens of the replay corpus mixed into \(train.tokens.count - replayTokens) of the training data")
        }
        if useMask && train.mask == nil {
            throw StageFailure("\(context.stageName): the train shard has no loss mask; tokenize the records with a chat template (template: chatml or alpaca)")
        }
        let trainExamples = Examples(shard: train, T: T, packing: packing, useMask: useMask)
        guard trainExamples.count > 0 else {
            throw StageFailure("\(context.stageName): the train shard (\(train.tokens.count) tokens) holds no example of seq_len + 1 = \(T + 1) tokens; lower seq_len")
        }
        let valExamples = try shard(dataDir, "val", vocab: config.vocabSize, required: false, stage: context.stageName)
            .map { Examples(shard: $0, T: T, packing: packing, useMask: useMask) }
            .flatMap { $0.count > 0 ? $0 : nil }

        let settings = TrainParams.settings(p, examples: trainExamples.count, context: context)
        if valExamples == nil && (settings.patience > 0 || settings.schedule.kind == .plateau || settings.evalBefore) {
            context.log.write("\(context.stageName): warning: patience, the plateau schedule and eval_before need val data; there is none, so they do nothing")
        }
        if context.inputs["base"] == nil && TuningParams.method(p) != .full {
            context.log.write("\(context.stageName): warning: method \(TuningParams.method(p).rawValue) without a base model tunes part of a randomly initialised one")
        }
        (config, weights) = try TuningParams.withAddedTensors(p, config: config, weights: weights, key: context.seed(for: "adapter init"))
        guard T + config.virtualTokens <= config.maxPositions else {
            throw StageFailure("\(context.stageName): seq_len \(T) and \(config.virtualTokens) virtual tokens pass the model's max_positions \(config.maxPositions); lower seq_len to \(config.maxPositions - config.virtualTokens) or fewer virtual_tokens")
        }
        let tuning = try TuningParams.tuning(p, config: config, loraKey: context.seed(for: "lora init"))
        let model = Model(config: config, weights: weights, threads: Parallel.defaultThreads, tuning: tuning, quantized: quantized)
        let trainer = Trainer(model: model, settings: settings, train: trainExamples, val: valExamples)
        let parameters = ParameterLayout(config).count
        context.log.write("\(context.stageName): \(parameters) parameters (\(TuningParams.method(p).rawValue): \(model.trainableCount) train"
                          + (quantized.map { ", projections in \($0.format.rawValue) blocks, \($0.bytes / 1_048_576) MiB" } ?? "") + ")"
                          + ", \(trainExamples.count) training examples of \(T) tokens"
                          + ", \(settings.steps) steps of \(settings.batchSize)×\(settings.gradAccumulation) rows, \(model.threads) threads")

        let outcome = try trainer.run(scratch: context.scratch, report: progress(context), log: { context.log.write($0) })

        // A tuned-in-part model is written whole: LoRA folded in, quantized blocks in fp32.
        try ModelFiles.save(config: config, weights: model.mergedWeights(), to: modelOut)
        if let lora = model.lora { try AdapterFiles.save(lora, to: adapterOut) }
        if [.prompt, .prefix].contains(TuningParams.method(p)) { try AdapterFiles.saveVirtualTokens(config: config, weights: model.weights, to: adapterOut) }
        if let tokenizerJSON { try tokenizerJSON.write(to: modelOut.appendingPathComponent("tokenizer.json")) }
        let lines = outcome.history.map(\.canonical).joined(separator: "\n") + "\n"
        try Data(lines.utf8).write(to: metricsOut.appendingPathComponent("history.jsonl"))
        if p.bool("keep_checkpoints") ?? false {
            for c in Checkpoint.list(in: context.scratch).suffix(max(1, settings.saveTotalLimit)) {
                try FileManager.default.copyItem(at: c.url, to: checkpointsOut.appendingPathComponent(c.url.lastPathComponent))
            }
        }

        var metrics: [String: Double] = [
            "steps": Double(outcome.steps), "parameters": Double(parameters), "trainable_parameters": Double(model.trainableCount),
            "train_loss": outcome.finalTrainLoss, "train_examples": Double(trainExamples.count), "replay_tokens": Double(replayTokens),
        ]
        let evals = outcome.history.compactMap { $0["val_loss"]?.doubleValue }
        if let first = evals.first { metrics["val_loss_first"] = first }
        if let v = settings.patience > 0 ? outcome.bestValLoss : evals.last {
            metrics["val_loss"] = v
            metrics["val_perplexity"] = exp(v)
        }
        if let b = outcome.bestStep { metrics["best_step"] = Double(b) }
        if outcome.stoppedEarly { metrics["stopped_early"] = 1 }
        return StageResult(metrics: metrics)
    }

    /// Each step on the progress line; the first, every tenth and each evaluation in the log.
    static func progress(_ context: StageContext) -> (StepReport) -> Void {
        { r in
            var message = String(format: "loss %.4f  lr %.2e  gnorm %.3f  %.0f tok/s", r.loss, r.lr, r.gradNorm, r.tokensPerSecond)
            if let v = r.valLoss { message += String(format: "  val %.4f", v) }
            context.progress.update(done: r.step, total: r.total, unit: "step", message: message)
            if r.valLoss != nil || r.step == 1 || r.step % 10 == 0 { context.log.write("step \(r.step)/\(r.total): \(message)") }
        }
    }

    typealias Base = (config: ModelConfig, weights: Buffer, quantized: QuantizedProjections?, tokenizerJSON: Data?)

    /// A model folder, a GGUF file, or a folder of checkpoints (the newest one's weights). With
    /// `quant`, the projections come back in blocks and `weights` holds the rest.
    static func loadBase(_ folder: URL, quant: BlockMatrix.Format?) throws -> Base {
        func quantizing(_ config: ModelConfig, _ weights: Buffer, _ tokenizer: Data?) throws -> Base {
            guard let quant else { return (config, weights, nil, tokenizer) }
            let (rest, q) = try QuantizedProjections.split(weights, config: config, format: quant)
            return (config, rest, q, tokenizer)
        }
        guard !FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelFiles.configName).path) else {
            let m = try ModelFiles.load(folder)
            return try quantizing(m.config, m.weights, FileManager.default.contents(atPath: folder.appendingPathComponent("tokenizer.json").path))
        }
        if let url = ggufFile(in: folder) {
            if let quant {
                let m = try GGUFModel.loadQuantized(url, format: quant)
                return (m.config, m.weights, m.quantized, Data(try Tokenizer(gguf: m.gguf).json.pretty.utf8))
            }
            let m = try GGUFModel.load(url)
            return (m.config, m.weights, nil, Data(try Tokenizer(gguf: m.gguf).json.pretty.utf8))
        }
        if let newest = Checkpoint.list(in: folder).last {
            let m = try Checkpoint.read(newest.url).model()
            return try quantizing(m.config, m.weights, nil)
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }
        if names.isEmpty {
            throw StageFailure("input 'base' is empty: a model output holds config.json and model.safetensors; a checkpoints output is empty unless its stage sets keep_checkpoints: true")
        }
        throw StageFailure("input 'base' holds neither config.json + model.safetensors nor checkpoint-*.hck files (found: \(names.sorted().prefix(5).joined(separator: ", ")))")
    }

    /// The GGUF file a model input is when it is one (the folder holds that file alone).
    static func ggufFile(in folder: URL) -> URL? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }
        guard names.count == 1, let name = names.first, name.hasSuffix(".gguf") else { return nil }
        return folder.appendingPathComponent(name)
    }

    /// The shard NAME in the data folder, its token ids checked against the vocabulary.
    static func shard(_ dir: URL, _ name: String, vocab: Int, required: Bool, stage: String) throws -> TokenShard.Shard? {
        let base = dir.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: base + ".tokens") else {
            if required { throw StageFailure("\(stage): input 'data' has no \(name).tokens (expected token shards from a tokenize stage)") }
            return nil
        }
        let s = try TokenShard.read(base: base)
        if let bad = s.tokens.firstIndex(where: { Int($0) >= vocab }) {
            throw StageFailure("\(stage): \(name).tokens: token \(s.tokens[bad]) at position \(bad) is outside the model's vocabulary of \(vocab); was the data tokenized with this model's tokenizer?")
        }
        return s
    }
}
