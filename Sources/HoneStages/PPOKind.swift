import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneTensor
import HoneTrain

/// `ppo`: RLHF with PPO (PPOTrainer). The policy starts from a model (usually SFT's) and gets a
/// value head; a frozen copy of it is the KL reference; the reward model scores each rollout
/// at its last token. Checkpoints after whole steps, so a killed run resumes to the same bytes.
struct PPOKind: StageKind {
    let name = "ppo"
    /// 2: products of 2048 rows or more run in 512-row tasks (Matmul.rowsPerTask), which changes their bits.
    /// 3: causal attention skips the blocks above the diagonal (Attention.block) and its backward sums rows in lanes (Lanes.dot); the gradient norm sums in four running sums.
    /// 4: advantages are whitened with the unbiased variance, as TRL's masked_whiten.
    let version = "4"
    let summary = "RLHF with PPO: rollouts from the policy, reward model score + KL penalty, GAE, clipped policy and value losses"
    let isNumeric = true
    let inputs = [
        InputSpec("policy", help: "the model to tune (an SFT model folder with its tokenizer); also the frozen KL reference"),
        InputSpec("reward", help: "a reward model (a reward stage's model output) with the policy's vocabulary"),
        InputSpec("prompts", help: "instruction records (instruction, input; output is not read): the prompts rollouts answer"),
    ]
    let outputs = [
        OutputSpec("model", help: "the tuned policy without its value head: model.safetensors + config.json + tokenizer.json"),
        OutputSpec("metrics", help: "history.jsonl: one line per PPO step (score, kl, kl_coef, entropy, clip_fraction, value_loss, approx_kl, …)"),
        OutputSpec("adapter", help: "method lora: the adapter alone in Hugging Face PEFT's layout (else empty)"),
    ]
    let params = [
        ParamSpec("steps", .int(min: 1), default: .int(20), help: "PPO steps: each samples rollout_batch rollouts and updates on them"),
        ParamSpec("rollout_batch", .int(min: 1), default: .int(16), help: "rollouts per step"),
        ParamSpec("ppo_epochs", .int(min: 1), default: .int(4), help: "passes over each rollout batch"),
        ParamSpec("minibatch", .int(min: 1), default: .int(4), help: "rollouts per gradient step"),
        ParamSpec("lr", .number(min: 0), default: .double(1e-5), help: "learning rate (constant)"),
        ParamSpec("beta1", .number(min: 0, max: 1), default: .double(0.9), help: "Adam's first-moment decay"),
        ParamSpec("beta2", .number(min: 0, max: 1), default: .double(0.999), help: "Adam's second-moment decay"),
        ParamSpec("weight_decay", .number(min: 0), default: .double(0), help: "AdamW's decoupled weight decay"),
        ParamSpec("max_grad_norm", .number(min: 0), default: .double(1), help: "clip gradients to this global norm; 0: no clipping"),
        ParamSpec("max_new_tokens", .int(min: 1), default: .int(16), help: "longest response, in tokens"),
        ParamSpec("temperature", .number(min: 0.01, max: 10), default: .double(1), help: "rollout sampling temperature; the policy's log-probabilities are taken at the same temperature, as TRL does"),
        ParamSpec("top_k", .int(min: 0), default: .int(0), help: "sample from the k likeliest tokens; 0: all (a cut biases the KL estimate: rollouts no longer come from the policy)"),
        ParamSpec("gamma", .number(min: 0, max: 1), default: .double(1), help: "discount of GAE"),
        ParamSpec("lambda", .number(min: 0, max: 1), default: .double(0.95), help: "λ of GAE"),
        ParamSpec("clip", .number(min: 0), default: .double(0.2), help: "ε of the clipped policy loss"),
        ParamSpec("value_clip", .number(min: 0), default: .double(0.2), help: "ε of the clipped value loss"),
        ParamSpec("vf_coef", .number(min: 0), default: .double(0.1), help: "weight of the value loss"),
        ParamSpec("kl_coef", .number(min: 0), default: .double(0.2), help: "initial coefficient β of the per-token KL penalty"),
        ParamSpec("kl_target", .number(min: 0), default: .double(6), help: "adaptive KL: the KL per rollout β is steered toward; 0: β stays fixed"),
        ParamSpec("kl_horizon", .number(min: 1), default: .double(10_000), help: "adaptive KL: the horizon (in rollouts) of β's adjustment"),
        ParamSpec("ratio_warning", .number(min: 1), default: .double(10), help: "warn when a probability ratio passes this in an update"),
        ParamSpec("max_prompts", .int(min: 0), default: .int(0), help: "most prompt records used (the first ones); 0: all"),
        ParamSpec("save_steps", .int(min: 0), default: .int(5), help: "checkpoint every N steps (resume after a crash); 0: only at the end"),
        ParamSpec("save_total_limit", .int(min: 1), default: .int(2), help: "checkpoints kept"),
    ] + TuningParams.specs

    func check(_ params: Params) -> [ParamIssue] {
        var issues = TuningParams.check(params)
        let method = TuningParams.method(params)
        if ![.full, .lora, .freeze].contains(method) {
            issues.append(ParamIssue(param: "method", message: "ppo tunes with method full, lora or freeze; \(method.rawValue) is not supported here"))
        }
        if let m = params.int("minibatch"), let b = params.int("rollout_batch"), m > b {
            issues.append(ParamIssue(param: "minibatch", message: "minibatch \(m) is larger than rollout_batch \(b)"))
        }
        for beta in ["beta1", "beta2"] where (params.double(beta) ?? 0) >= 1 {
            issues.append(ParamIssue(param: beta, message: "\(beta) must be below 1"))
        }
        return issues
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let policyDir = context.inputs["policy"], let rewardDir = context.inputs["reward"], let promptsDir = context.inputs["prompts"],
              let modelOut = context.outputs["model"], let metricsOut = context.outputs["metrics"], let adapterOut = context.outputs["adapter"] else {
            throw StageFailure("\(context.stageName): inputs or outputs missing")
        }
        let p = context.params
        let chat = try ChatModel(policyDir, input: "policy")
        let judgeModel = try RewardKind.judge(rewardDir, input: "reward", vocabSize: chat.config.vocabSize)
        let judge = judgeModel.config
        let records = try RecordParams.records(promptsDir, format: .alpaca, input: "prompts", most: p.int("max_prompts"))
        let prompts = try records.map { try chat.prompt(instruction: $0["instruction"] ?? "", input: $0["input"] ?? "") }

        var s = PPOSettings()
        s.steps = p.int("steps") ?? 20
        s.rolloutBatch = p.int("rollout_batch") ?? 16
        s.ppoEpochs = p.int("ppo_epochs") ?? 4
        s.minibatch = p.int("minibatch") ?? 4
        s.learningRate = Float(p.double("lr") ?? 1e-5)
        s.optimizer.beta1 = Float(p.double("beta1") ?? 0.9)
        s.optimizer.beta2 = Float(p.double("beta2") ?? 0.999)
        s.optimizer.weightDecay = Float(p.double("weight_decay") ?? 0)
        let clip = p.double("max_grad_norm") ?? 1
        s.maxGradNorm = clip > 0 ? Float(clip) : nil
        s.maxNewTokens = p.int("max_new_tokens") ?? 16
        s.temperature = p.double("temperature") ?? 1
        s.topK = p.int("top_k") ?? 0
        s.stopTokens = chat.stop
        s.gamma = p.double("gamma") ?? 1
        s.lambda = p.double("lambda") ?? 0.95
        s.clip = p.double("clip") ?? 0.2
        s.valueClip = p.double("value_clip") ?? 0.2
        s.valueCoef = p.double("vf_coef") ?? 0.1
        s.klCoef = p.double("kl_coef") ?? 0.2
        let target = p.double("kl_target") ?? 6
        s.klTarget = target > 0 ? target : nil
        s.klHorizon = p.double("kl_horizon") ?? 10_000
        s.ratioWarning = p.double("ratio_warning") ?? 10
        s.saveSteps = p.int("save_steps") ?? 5
        s.saveTotalLimit = p.int("save_total_limit") ?? 2
        s.rolloutKey = context.seed(for: "rollouts")
        s.promptKey = context.seed(for: "prompt order")
        s.minibatchKey = context.seed(for: "minibatch order")

        let (config, weights) = ScalarHead.adding(to: chat.config, weights: chat.weights)
        var tuning = try TuningParams.tuning(p, config: config, loraKey: context.seed(for: "lora init"))
        tuning.alsoTrain(ScalarHead.tensorName)
        let threads = Parallel.defaultThreads
        let policy = Model(config: config, weights: weights, threads: threads, tuning: tuning)
        // With LoRA the base never changes, so the reference can share its weights.
        let reference = Model(config: config, weights: tuning.lora != nil ? weights : weights.copy(), threads: threads, tuning: .frozen)
        let longest = (prompts.map(\.count).max() ?? 0) + s.maxNewTokens
        guard longest + judge.virtualTokens <= judge.maxPositions else {
            throw StageFailure("\(context.stageName): the longest prompt and max_new_tokens (\(longest) tokens) pass the reward model's max_positions \(judge.maxPositions)")
        }
        let judgeActs = Activations(for: judgeModel, B: s.minibatch, T: longest)
        let trainer: PPOTrainer
        do {
            trainer = try PPOTrainer(policy: policy, reference: reference, prompts: prompts, settings: s) { sequences in
                RewardModeling.scores(judgeModel, judgeActs, sequences: sequences)
            }
        } catch let e as TrainError { throw StageFailure("\(context.stageName): \(e.description)") }
        context.log.write("\(context.stageName): \(prompts.count) prompts, \(s.steps) steps of \(s.rolloutBatch) rollouts (≤ \(s.maxNewTokens) tokens), "
                          + "\(s.ppoEpochs) epochs of minibatches of \(s.minibatch), \(TuningParams.method(p).rawValue): \(policy.trainableCount) trainable values")
        let history = try trainer.run(scratch: context.scratch, report: { r in
            let m = r.metrics
            let message = String(format: "score %.3f  kl %.3f  β %.3f  entropy %.2f  clip %.2f  vloss %.3f", m["score"] ?? 0, m["kl"] ?? 0,
                                 m["kl_coef"] ?? 0, m["entropy"] ?? 0, m["clip_fraction"] ?? 0, m["value_loss"] ?? 0)
            context.progress.update(done: r.step, total: r.total, unit: "step", message: message)
            context.log.write("step \(r.step)/\(r.total): \(message)")
        }, log: { context.log.write($0) })

        let exported = ScalarHead.removing(from: config, weights: policy.mergedWeights())
        try ModelFiles.save(config: exported.config, weights: exported.weights, to: modelOut)
        try chat.tokenizerJSON.write(to: modelOut.appendingPathComponent("tokenizer.json"))
        if let lora = policy.lora { try AdapterFiles.save(lora, to: adapterOut) }
        try Data((history.map(\.canonical).joined(separator: "\n") + "\n").utf8).write(to: metricsOut.appendingPathComponent("history.jsonl"))

        var metrics: [String: Double] = ["steps": Double(history.count), "prompts": Double(prompts.count)]
        let scores = history.compactMap { $0["score"]?.doubleValue }
        if let first = scores.first { metrics["score_first"] = first }
        // The last steps' mean: one step's score is a small sample.
        let tail = scores.suffix(max(1, min(5, scores.count / 4)))
        if !tail.isEmpty { metrics["score_last"] = (tail.reduce(0, +) / Double(tail.count) * 1e6).rounded() / 1e6 }
        for key in ["kl", "kl_coef", "entropy", "clip_fraction", "value_loss", "approx_kl"] {
            if let v = history.last?[key]?.doubleValue { metrics[key] = v }
        }
        return StageResult(metrics: metrics)
    }
}
