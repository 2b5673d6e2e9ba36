import Foundation
import HoneBase
import HoneModel
import HonePipeline
import HoneTrain

/// Params the training kinds share, each with its default in one place, and their reading into
/// a model config and the trainer's settings.
enum TrainParams {
    /// The architecture of a model trained from scratch (ignored when a base model is given).
    static let model: [ParamSpec] = [
        ParamSpec("hidden_size", .int(min: 2), default: .int(64), help: "model width d (from scratch)"),
        ParamSpec("layers", .int(min: 1), default: .int(2), help: "decoder layers (from scratch)"),
        ParamSpec("heads", .int(min: 1), default: .int(4), help: "attention heads (from scratch)"),
        ParamSpec("kv_heads", .int(min: 0), default: .int(0), help: "key/value heads, fewer for grouped-query attention; 0: heads"),
        ParamSpec("intermediate_size", .int(min: 0), default: .int(0), help: "SwiGLU width; 0: Llama's 256·ceil(8d/3/256)"),
        ParamSpec("max_positions", .int(min: 0), default: .int(0), help: "longest sequence the model takes, prompt and generated text included; 0: seq_len"),
        ParamSpec("rope_theta", .number(min: 1), default: .double(10_000), help: "rotary embedding base"),
        ParamSpec("norm_eps", .number(min: 0, max: 1), default: .double(1e-5), help: "RMSNorm epsilon"),
        ParamSpec("tied_embeddings", .bool, default: .bool(true), help: "the LM head reuses the embedding table"),
        ParamSpec("init_std", .number(min: 0), default: .double(0.02), help: "standard deviation of the initial weights"),
    ]

    static let training: [ParamSpec] = [
        ParamSpec("dropout", .number(min: 0, max: 0.95), default: .double(0), help: "dropout on the residual branches while training"),
        ParamSpec("seq_len", .int(min: 2), default: .int(64), help: "tokens per training row"),
        ParamSpec("batch_size", .int(min: 1), default: .int(8), help: "rows per micro-batch"),
        ParamSpec("grad_accumulation", .int(min: 1), default: .int(1), help: "micro-batches per optimizer step"),
        ParamSpec("steps", .int(min: 0), default: .int(0), help: "optimizer steps; 0: as many as `epochs` take"),
        ParamSpec("epochs", .number(min: 0), default: .double(1), help: "passes over the training data when steps is 0"),
        ParamSpec("lr", .number(min: 0), default: .double(1e-3), help: "peak learning rate"),
        ParamSpec("optimizer", .string(choices: Optimizer.Kind.allCases.map(\.rawValue)), default: .string("adamw"),
                  help: "adamw (decoupled weight decay), adam or sgd (both with L2 decay)"),
        ParamSpec("beta1", .number(min: 0, max: 1), default: .double(0.9), help: "Adam's first-moment decay"),
        ParamSpec("beta2", .number(min: 0, max: 1), default: .double(0.95), help: "Adam's second-moment decay"),
        ParamSpec("adam_eps", .number(min: 0), default: .double(1e-8), help: "Adam's epsilon"),
        ParamSpec("momentum", .number(min: 0, max: 1), default: .double(0.9), help: "SGD momentum"),
        ParamSpec("weight_decay", .number(min: 0), default: .double(0.1), help: "weight decay on matrices (never on norm gains)"),
        ParamSpec("schedule", .string(choices: Schedule.Kind.allCases.map(\.rawValue)), default: .string("cosine"),
                  help: "learning-rate schedule after warmup"),
        ParamSpec("warmup_steps", .int(min: 0), default: .int(0), help: "steps of linear warmup"),
        ParamSpec("min_lr_ratio", .number(min: 0, max: 1), default: .double(0.1), help: "cosine: the final rate as a fraction of lr"),
        ParamSpec("step_size", .int(min: 1), default: .int(1000), help: "step schedule: steps between decays"),
        ParamSpec("gamma", .number(min: 0, max: 1), default: .double(0.1), help: "step schedule: the decay factor"),
        ParamSpec("plateau_patience", .int(min: 0), default: .int(2), help: "plateau schedule: evaluations without improvement before reducing"),
        ParamSpec("plateau_factor", .number(min: 0, max: 1), default: .double(0.5), help: "plateau schedule: the reduction factor"),
        ParamSpec("max_grad_norm", .number(min: 0), default: .double(1), help: "clip gradients to this global norm; 0: no clipping"),
        ParamSpec("eval_every", .int(min: 0), default: .int(50), help: "evaluate on val every N steps (and at the end); 0: only at the end"),
        ParamSpec("eval_before", .bool, default: .bool(false), help: "also evaluate once before training (step 0): the starting model's val loss, val_loss_first"),
        ParamSpec("eval_batches", .int(min: 0), default: .int(0), help: "most val batches per evaluation; 0: all of val"),
        ParamSpec("patience", .int(min: 0), default: .int(0), help: "stop after this many evaluations without improvement, keeping the best model; 0: never"),
        ParamSpec("save_steps", .int(min: 0), default: .int(100), help: "checkpoint every N steps (resume after a crash); 0: only at the end"),
        ParamSpec("save_total_limit", .int(min: 1), default: .int(2), help: "checkpoints kept"),
        ParamSpec("keep_checkpoints", .bool, default: .bool(false), help: "copy the kept checkpoints into the `checkpoints` output"),
        ParamSpec("shuffle", .bool, default: .bool(true), help: "shuffle the training examples each epoch (seeded)"),
        ParamSpec("replay_fraction", .number(min: 0, max: 0.9), default: .double(0.25),
                  help: "with a replay input: the share of the mixed training tokens that come from it"),
    ]

    static func config(_ p: Params, vocabSize: Int) -> ModelConfig {
        var c = ModelConfig(vocabSize: vocabSize)
        c.hiddenSize = p.int("hidden_size") ?? 64
        c.layers = p.int("layers") ?? 2
        c.heads = p.int("heads") ?? 4
        c.kvHeads = p.int("kv_heads") ?? 0
        c.intermediateSize = p.int("intermediate_size") ?? 0
        let maxPositions = p.int("max_positions") ?? 0
        c.maxPositions = maxPositions > 0 ? maxPositions : p.int("seq_len") ?? 64
        c.ropeTheta = p.double("rope_theta") ?? 10_000
        c.normEps = Float(p.double("norm_eps") ?? 1e-5)
        c.tiedEmbeddings = p.bool("tied_embeddings") ?? true
        c.initStd = Float(p.double("init_std") ?? 0.02)
        return c
    }

    /// The trainer's settings; `examples` (train) decides the step count when `steps` is 0.
    static func settings(_ p: Params, examples: Int, context: StageContext) -> TrainSettings {
        var s = TrainSettings()
        s.batchSize = p.int("batch_size") ?? 8
        s.gradAccumulation = p.int("grad_accumulation") ?? 1
        let perStep = s.batchSize * s.gradAccumulation
        let steps = p.int("steps") ?? 0
        s.steps = steps > 0 ? steps : max(1, Int((Double(examples) * (p.double("epochs") ?? 1) / Double(perStep)).rounded(.up)))
        s.learningRate = Float(p.double("lr") ?? 1e-3)
        s.optimizer.kind = Optimizer.Kind(rawValue: p.string("optimizer") ?? "adamw") ?? .adamw
        s.optimizer.beta1 = Float(p.double("beta1") ?? 0.9)
        s.optimizer.beta2 = Float(p.double("beta2") ?? 0.95)
        s.optimizer.eps = Float(p.double("adam_eps") ?? 1e-8)
        s.optimizer.momentum = Float(p.double("momentum") ?? 0.9)
        s.optimizer.weightDecay = Float(p.double("weight_decay") ?? 0.1)
        s.schedule.kind = Schedule.Kind(rawValue: p.string("schedule") ?? "cosine") ?? .cosine
        s.schedule.warmup = p.int("warmup_steps") ?? 0
        s.schedule.total = s.steps
        s.schedule.minRatio = p.double("min_lr_ratio") ?? 0.1
        s.schedule.stepSize = p.int("step_size") ?? 1000
        s.schedule.gamma = p.double("gamma") ?? 0.1
        s.plateau = Plateau(patience: p.int("plateau_patience") ?? 2, reduce: p.double("plateau_factor") ?? 0.5)
        let clip = p.double("max_grad_norm") ?? 1
        s.maxGradNorm = clip > 0 ? Float(clip) : nil
        let every = p.int("eval_every") ?? 50
        s.evalEvery = every > 0 ? every : s.steps
        s.evalBatches = p.int("eval_batches") ?? 0
        s.evalBefore = p.bool("eval_before") ?? false
        s.patience = p.int("patience") ?? 0
        let save = p.int("save_steps") ?? 100
        s.saveSteps = save
        s.saveTotalLimit = p.int("save_total_limit") ?? 2
        s.shuffle = p.bool("shuffle") ?? true
        s.dataKey = context.seed(for: "data order")
        s.dropoutKey = context.seed(for: "dropout")
        return s
    }

    static func check(_ p: Params) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        if let d = p.int("hidden_size"), let h = p.int("heads"), d % h != 0 || (d / h) % 2 != 0 {
            issues.append(ParamIssue(param: "heads", message: "hidden_size \(d) must be a multiple of heads \(h), with an even quotient (rotary embeddings)"))
        }
        if let h = p.int("heads"), let kv = p.int("kv_heads"), kv > 0, h % kv != 0 {
            issues.append(ParamIssue(param: "kv_heads", message: "heads \(h) must be a multiple of kv_heads \(kv)"))
        }
        for beta in ["beta1", "beta2"] where (p.double(beta) ?? 0) >= 1 {
            issues.append(ParamIssue(param: beta, message: "\(beta) must be below 1 (Adam's bias correction divides by 1 − beta^step)"))
        }
        if let m = p.int("max_positions"), m > 0, let t = p.int("seq_len"), t > m {
            issues.append(ParamIssue(param: "seq_len", message: "seq_len \(t) is longer than max_positions \(m)"))
        }
        return issues
    }

}
