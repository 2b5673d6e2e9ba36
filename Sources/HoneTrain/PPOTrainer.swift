import Foundation
import HoneBase
import HoneModel
import HoneTensor

/// Everything the PPO loop is told, with the defaults TRL's PPOTrainer uses where it has one.
public struct PPOSettings: Sendable {
    /// PPO iterations: each samples `rolloutBatch` rollouts, then updates on them.
    public var steps = 20
    public var rolloutBatch = 16
    /// Passes over each rollout batch, and rollouts per gradient step.
    public var ppoEpochs = 4
    public var minibatch = 4
    public var learningRate: Float = 1e-5
    public var optimizer = Optimizer.Settings()
    public var maxGradNorm: Float? = 1
    /// Sampling of the rollouts.
    public var maxNewTokens = 16
    public var temperature = 1.0
    public var topK = 0
    /// Tokens that end a response (kept in it: the reward model scores the end token).
    public var stopTokens: [Int32] = []
    public var gamma = 1.0
    public var lambda = 0.95
    /// ε of the clipped surrogate and of the value clipping.
    public var clip = 0.2
    public var valueClip = 0.2
    public var valueCoef = 0.1
    /// The KL penalty's coefficient: initial value, and the target KL and horizon of the adaptive
    /// controller (target nil: fixed).
    public var klCoef = 0.2
    public var klTarget: Double? = 6
    public var klHorizon = 10_000.0
    /// A probability ratio above this in an update is reported as exploding.
    public var ratioWarning = 10.0
    public var saveSteps = 10
    public var saveTotalLimit = 2
    /// Streams: the rollouts' sampling, the prompts' order, the minibatches' order.
    public var rolloutKey: UInt64 = 0
    public var promptKey: UInt64 = 0
    public var minibatchKey: UInt64 = 0
    public init() {}
}

/// One sampled response to a prompt and what PPO computes about it, per response token.
public struct Rollout {
    public let prompt: [Int32]
    public let response: [Int32]
    public var score = 0.0
    public var logprobs: [Double] = [], refLogprobs: [Double] = [], values: [Double] = []
    public var advantages: [Double] = [], returns: [Double] = []
    public var sequence: [Int32] { prompt + response }
    /// Σ (log π − log π_ref): this rollout's KL estimate.
    public var kl: Double { zip(logprobs, refLogprobs).reduce(0) { $0 + $1.0 - $1.1 } }
}

/// Progress of one PPO step.
public struct PPOReport {
    public let step: Int, total: Int
    /// The step's metrics (score, kl, entropy, clip_fraction, value_loss, approx_kl, …).
    public let metrics: [String: Double]
}

/// PPO for a causal LM (Ziegler et al. 2019; Ouyang et al. 2022): sample responses from the
/// policy, score each with the reward function at its last token, penalise every token's KL
/// against a frozen reference, estimate advantages with GAE on the policy's value head, and
/// take clipped policy and value steps over minibatches for several epochs. Checkpoints after
/// whole steps; every random draw is keyed by (stream, step, index), so a killed run resumes
/// from its last checkpoint to the same bytes as one never killed.
public final class PPOTrainer {
    public let policy: Model
    let reference: Model
    let reward: ([[Int32]]) throws -> [Double]
    let prompts: [[Int32]]
    public let settings: PPOSettings
    let T: Int
    let policyActs: Activations, referenceActs: Activations
    let optimizer: Optimizer
    let generator: Generator

    // State a checkpoint carries.
    var step = 0
    var kl: PPOMath.KLController
    var history: [JSONValue] = []

    /// `policy` must have a scalar head (its value head) and `reference` the same vocabulary;
    /// `reward` scores whole sequences (prompt + response).
    public init(policy: Model, reference: Model, prompts: [[Int32]], settings: PPOSettings,
                reward: @escaping ([[Int32]]) throws -> [Double]) throws {
        guard policy.config.scalarHead else { throw TrainError("the policy needs a scalar head for its values") }
        guard policy.config.vocabSize == reference.config.vocabSize else { throw TrainError("the policy and the reference differ in vocabulary") }
        guard !prompts.isEmpty, !prompts.contains(where: \.isEmpty) else { throw TrainError("PPO needs prompts, none of them empty") }
        self.policy = policy; self.reference = reference; self.prompts = prompts; self.settings = settings; self.reward = reward
        T = (prompts.map(\.count).max() ?? 0) + settings.maxNewTokens
        guard T + policy.config.virtualTokens <= policy.config.maxPositions else {
            throw TrainError("the longest prompt (\(T - settings.maxNewTokens) tokens) and max_new_tokens \(settings.maxNewTokens) pass the model's \(policy.config.maxPositions) positions")
        }
        policyActs = Activations(for: policy, B: settings.minibatch, T: T)
        referenceActs = Activations(for: reference, B: settings.minibatch, T: T)
        optimizer = Optimizer(settings.optimizer, parameters: policy.trainable)
        optimizer.threads = policy.threads
        generator = Generator(model: policy)
        kl = PPOMath.KLController(initial: settings.klCoef, target: settings.klTarget, horizon: settings.klHorizon)
    }

    public var klCoefficient: Double { kl.value }

    /// Runs to `settings.steps`, resuming from the newest checkpoint in `scratch`.
    public func run(scratch: URL?, report: (PPOReport) throws -> Void, log: (String) -> Void) throws -> [JSONValue] {
        if let scratch, let last = Checkpoint.list(in: scratch).last {
            try restore(try Checkpoint.read(last.url))
            log("resumed from \(last.url.lastPathComponent) (step \(step) of \(settings.steps))")
            Checkpoint.prune(scratch, keep: settings.saveTotalLimit)
        }
        while step < settings.steps {
            log("step \(step + 1): sampling \(settings.rolloutBatch) rollouts")
            var rollouts = try sample(step: step)
            log("step \(step + 1): updating on them")
            let metrics = try update(&rollouts, step: step, log: log)
            step += 1
            var line: [String: JSONValue] = ["step": .int(step)]
            for (k, v) in metrics { line[k] = .double(round6(v)) }
            history.append(.object(line))
            try report(PPOReport(step: step, total: settings.steps, metrics: metrics))
            if let scratch, (settings.saveSteps > 0 && step % settings.saveSteps == 0) || step == settings.steps {
                try checkpoint().write(to: scratch, step: step, keep: settings.saveTotalLimit)
            }
        }
        return history
    }

    /// The prompts of step s: `rolloutBatch` of them in a shuffled order over epochs.
    func prompts(step s: Int) -> [Int] {
        (0..<settings.rolloutBatch).map { i in
            let c = s * settings.rolloutBatch + i
            return epochOrder(prompts.count, epoch: c / prompts.count, key: settings.promptKey, shuffle: true)[c % prompts.count]
        }
    }

    /// Samples step s's responses with the KV cache, then scores them: reward, the policy's
    /// log-probabilities and values, the reference's log-probabilities (batched forward passes,
    /// so the update compares like with like).
    public func sample(step s: Int) throws -> [Rollout] {
        var rollouts: [Rollout] = []
        for (i, p) in prompts(step: s).enumerated() {
            var sampler = Sampler(temperature: settings.temperature, topK: settings.topK, topP: 1,
                                  seed: settings.rolloutKey ^ (UInt64(s) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(i) &* 0xC2B2_AE3D_27D4_EB4F))
            let response = try generator.respond(to: prompts[p], sampler: &sampler, maxNewTokens: settings.maxNewTokens, stop: settings.stopTokens)
            rollouts.append(Rollout(prompt: prompts[p], response: response))
        }
        let scores = try reward(rollouts.map(\.sequence))
        for i in rollouts.indices { rollouts[i].score = scores[i] }
        for start in stride(from: 0, to: rollouts.count, by: settings.minibatch) {
            let range = start..<min(rollouts.count, start + settings.minibatch)
            let own = forward(policy, policyActs, rollouts[range], values: true)
            let ref = forward(reference, referenceActs, rollouts[range], values: false)
            for (k, i) in range.enumerated() {
                rollouts[i].logprobs = own[k].logprobs
                rollouts[i].values = own[k].values
                rollouts[i].refLogprobs = ref[k].logprobs
            }
        }
        return rollouts
    }

    typealias TokenStats = (logprobs: [Double], entropies: [Double], values: [Double], rows: [Int])

    /// One forward pass over up to acts.B rollouts: per response token, its log-probability, the
    /// entropy of its distribution and (with `values`) the value head at the position before it.
    func forward(_ model: Model, _ acts: Activations, _ batch: ArraySlice<Rollout>, values: Bool) -> [TokenStats] {
        for (r, rollout) in batch.enumerated() {
            let s = rollout.sequence
            for t in 0..<T { acts.tokens[r * T + t] = t < s.count ? s[t] : 0 }
        }
        for r in batch.count..<acts.B { for t in 0..<T { acts.tokens[r * T + t] = 0 } }
        model.forward(acts)
        model.lmHeadForward(acts)
        if values { model.scoreForward(acts) }
        // π is the distribution the rollouts were sampled from: softmax(logits / temperature).
        if settings.temperature != 1 {
            let scale = Float(1 / settings.temperature), logits = acts.logits.pointer
            for i in 0..<acts.logits.count { logits[i] *= scale }
        }
        let V = model.config.vocabSize
        return batch.enumerated().map { r, rollout in
            var stats: TokenStats = ([], [], [], [])
            for (j, token) in rollout.response.enumerated() {
                let row = r * T + rollout.prompt.count + j - 1
                let (lp, h) = TokenLogits.logprob(acts.logits.pointer + row * V, V: V, token: Int(token))
                stats.logprobs.append(lp); stats.entropies.append(h); stats.rows.append(row)
                if values { stats.values.append(Double(acts.scores[row])) }
            }
            return stats
        }
    }

    /// Rewards, advantages and the PPO epochs on one batch of rollouts; the step's metrics.
    func update(_ rollouts: inout [Rollout], step s: Int, log: (String) -> Void) throws -> [String: Double] {
        for i in rollouts.indices {
            let r = PPOMath.rewards(score: rollouts[i].score, logprobs: rollouts[i].logprobs, refLogprobs: rollouts[i].refLogprobs, klCoef: kl.value)
            (rollouts[i].advantages, rollouts[i].returns) = PPOMath.gae(rewards: r, values: rollouts[i].values, gamma: settings.gamma, lambda: settings.lambda)
        }
        // Advantages are whitened over every token of the batch.
        var white = PPOMath.whiten(rollouts.flatMap(\.advantages))[...]
        for i in rollouts.indices {
            rollouts[i].advantages = Array(white.prefix(rollouts[i].response.count))
            white = white.dropFirst(rollouts[i].response.count)
        }
        let V = policy.config.vocabSize
        var tokens = 0, clipped = 0, valueClipped = 0, policyLoss = 0.0, valueLoss = 0.0, approxKL = 0.0, entropy = 0.0
        var maxRatio = 0.0, gradNorm = 0.0, updates = 0
        for epoch in 0..<settings.ppoEpochs {
            let order = epochOrder(rollouts.count, epoch: s * settings.ppoEpochs + epoch, key: settings.minibatchKey, shuffle: true)
            for start in stride(from: 0, to: order.count, by: settings.minibatch) {
                let batch = order[start..<min(order.count, start + settings.minibatch)].map { rollouts[$0] }
                let stats = forward(policy, policyActs, batch[...], values: true)
                let n = Double(batch.reduce(0) { $0 + $1.response.count })
                policyActs.dscores.zero()
                var rows = Set<Int>()
                for (k, rollout) in batch.enumerated() {
                    for j in rollout.response.indices {
                        let row = stats[k].rows[j]
                        let pg = PPOMath.policyLoss(logprob: stats[k].logprobs[j], oldLogprob: rollout.logprobs[j], advantage: rollout.advantages[j], clip: settings.clip)
                        let vf = PPOMath.valueLoss(value: stats[k].values[j], oldValue: rollout.values[j], ret: rollout.returns[j], clip: settings.valueClip)
                        // The logits were divided by the temperature: the chain rule divides once more.
                        TokenLogits.writeGradient(policyActs.logits.pointer + row * V, V: V, token: Int(rollout.response[j]),
                                                  g: pg.dLogprob / n / settings.temperature)
                        policyActs.dscores[row] = Float(settings.valueCoef * vf.dValue / n)
                        rows.insert(row)
                        tokens += 1; clipped += pg.clipped ? 1 : 0; valueClipped += vf.clipped ? 1 : 0
                        policyLoss += pg.loss; valueLoss += vf.loss; entropy += stats[k].entropies[j]
                        let d = stats[k].logprobs[j] - rollout.logprobs[j]
                        approxKL += 0.5 * d * d
                        maxRatio = max(maxRatio, pg.ratio)
                    }
                }
                // The loss reads only the response rows: every other row's gradient is zero.
                for row in 0..<policyActs.M where !rows.contains(row) {
                    (policyActs.logits.pointer + row * V).update(repeating: 0, count: V)
                }
                policy.zeroGrads()
                policy.lmHeadBackward(policyActs)
                policy.scoreBackward(policyActs)
                policy.backward(policyActs)
                let norm = clipGradients(policy.trainable, maxNorm: settings.maxGradNorm, threads: policy.threads)
                guard norm.isFinite else {
                    throw ModelError.nonFinite(step: s + 1, tensor: firstNonFinite(policy.trainable) ?? "the gradients (global norm overflowed)")
                }
                optimizer.step(lr: settings.learningRate)
                gradNorm += Double(norm); updates += 1
            }
        }
        let meanKL = rollouts.reduce(0) { $0 + $1.kl } / Double(rollouts.count)
        let coef = kl.value
        kl.update(kl: meanKL, rollouts: rollouts.count)
        let responseTokens = Double(rollouts.reduce(0) { $0 + $1.response.count })
        let t = Double(max(1, tokens))
        let metrics: [String: Double] = [
            "score": rollouts.reduce(0) { $0 + $1.score } / Double(rollouts.count),
            "kl": meanKL, "kl_coef": coef,
            "entropy": entropy / t, "clip_fraction": Double(clipped) / t, "value_clip_fraction": Double(valueClipped) / t,
            "policy_loss": policyLoss / t, "value_loss": valueLoss / t, "approx_kl": approxKL / t,
            "max_ratio": maxRatio, "grad_norm": gradNorm / Double(max(1, updates)),
            "response_length": responseTokens / Double(rollouts.count),
        ]
        // The diagnostics TRL users ask about (huggingface/trl#1857).
        if meanKL < -0.01 {
            log(String(format: "step %d: warning: KL is negative (%.4f): the policy samples tokens the reference finds likelier than the policy does; sampling must use temperature 1 and no top-k for the estimate to hold", s + 1, meanKL))
        }
        if maxRatio > settings.ratioWarning {
            log(String(format: "step %d: warning: the probability ratio reached %.1f: the policy moved far within one batch; lower lr or ppo_epochs", s + 1, maxRatio))
        }
        return metrics
    }

    func round6(_ x: Double) -> Double { x.isFinite ? (x * 1e6).rounded() / 1e6 : x }

    func checkpoint() -> Checkpoint {
        let state = Checkpoint.trainingState(policy, optimizer).merging([
            "kind": .string("ppo"), "step": .int(step), "kl_coef": .double(kl.value), "history": .array(history),
        ]) { $1 }
        return Checkpoint(state: .object(state), arrays: Checkpoint.trainingArrays(policy, optimizer))
    }

    func restore(_ c: Checkpoint) throws {
        let s = c.state
        let mismatch = "the checkpoint does not match this PPO run (different model or tuning method?)"
        guard s["kind"]?.stringValue == "ppo", let coef = s["kl_coef"]?.doubleValue else { throw TrainError(mismatch) }
        try c.restoreTraining(policy, optimizer, mismatch: mismatch)
        kl.value = coef
        step = s["step"]?.intValue ?? 0
        history = s["history"]?.arrayValue ?? []
    }
}
