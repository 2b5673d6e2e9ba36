import Foundation

/// The arithmetic of PPO for language models (Ziegler et al. 2019; the formulas TRL's
/// PPOTrainer uses), each piece a pure function so a test can check it against numbers worked
/// out by hand. Everything is per response token of one rollout; double precision throughout.
public enum PPOMath {
    /// Per-token rewards: −β·(log π − log π_ref) at every token (the KL penalty), plus the
    /// reward model's score at the last token.
    public static func rewards(score: Double, logprobs: [Double], refLogprobs: [Double], klCoef: Double) -> [Double] {
        var r = zip(logprobs, refLogprobs).map { -klCoef * ($0 - $1) }
        if !r.isEmpty { r[r.count - 1] += score }
        return r
    }

    /// Generalised advantage estimation: δ_t = r_t + γ·V_{t+1} − V_t (V after the last token is
    /// 0), A_t = δ_t + γλ·A_{t+1}; returns are A + V, the value head's targets.
    public static func gae(rewards: [Double], values: [Double], gamma: Double, lambda: Double) -> (advantages: [Double], returns: [Double]) {
        precondition(rewards.count == values.count, "one value per reward")
        var advantages = [Double](repeating: 0, count: rewards.count)
        var next = 0.0, nextValue = 0.0
        for t in stride(from: rewards.count - 1, through: 0, by: -1) {
            let delta = rewards[t] + gamma * nextValue - values[t]
            next = delta + gamma * lambda * next
            advantages[t] = next
            nextValue = values[t]
        }
        return (advantages, zip(advantages, values).map(+))
    }

    /// (x − mean) / sqrt(var + 1e-8) over all of x, with the unbiased variance (divided by
    /// n − 1), as TRL's masked_whiten. One value whitens to 0 (TRL refuses a single value: its
    /// variance would divide by zero).
    public static func whiten(_ x: [Double]) -> [Double] {
        guard x.count > 1 else { return x.map { _ in 0 } }
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)
        let scale = 1 / (variance + 1e-8).squareRoot()
        return x.map { ($0 - mean) * scale }
    }

    /// The clipped surrogate for one token: max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) with
    /// ρ = exp(log π − log π_old); its derivative in log π (0 where the clipped term is the
    /// larger: the update has gone far enough), and whether it clipped.
    public static func policyLoss(logprob: Double, oldLogprob: Double, advantage: Double, clip: Double) -> (loss: Double, dLogprob: Double, clipped: Bool, ratio: Double) {
        let ratio = exp(logprob - oldLogprob)
        let unclipped = -advantage * ratio
        let clippedLoss = -advantage * min(max(ratio, 1 - clip), 1 + clip)
        if clippedLoss > unclipped { return (clippedLoss, 0, true, ratio) }
        return (unclipped, -advantage * ratio, false, ratio)
    }

    /// The clipped value loss for one token: ½·max((V − R)², (V_clip − R)²) with
    /// V_clip = V_old + clip(V − V_old, −ε, ε); its derivative in V, and whether it clipped.
    public static func valueLoss(value: Double, oldValue: Double, ret: Double, clip: Double) -> (loss: Double, dValue: Double, clipped: Bool) {
        let clippedValue = oldValue + min(max(value - oldValue, -clip), clip)
        let a = (value - ret) * (value - ret), b = (clippedValue - ret) * (clippedValue - ret)
        if b > a { return (0.5 * b, 0, true) }
        return (0.5 * a, value - ret, false)
    }

    /// The KL coefficient β: fixed, or adapted toward a target KL (Ziegler et al.): after a batch
    /// of `n` rollouts whose mean KL was `kl`, β ← β·(1 + clip(kl/target − 1, −0.2, 0.2)·n/horizon).
    public struct KLController: Sendable, Equatable {
        public var value: Double
        public let target: Double?
        public let horizon: Double

        public init(initial: Double, target: Double?, horizon: Double) {
            value = initial; self.target = target; self.horizon = horizon
        }

        public mutating func update(kl: Double, rollouts n: Int) {
            guard let target, target > 0 else { return }
            let error = min(max(kl / target - 1, -0.2), 0.2)
            value *= 1 + error * Double(n) / horizon
        }
    }
}
