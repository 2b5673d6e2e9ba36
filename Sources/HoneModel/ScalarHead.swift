import HoneTensor

/// The scalar head (`score.weight`, [1, d]) a reward model scores with and a PPO policy
/// estimates values with: added to a model that has none (zeros, so every score starts at 0),
/// and taken off again when a policy is exported as a plain language model.
public enum ScalarHead {
    public static let tensorName = "score.weight"

    /// `weights` in the layout of `config` (without its projections when they are quantized).
    public static func adding(to config: ModelConfig, weights: Buffer) -> (config: ModelConfig, weights: Buffer) {
        guard !config.scalarHead else { return (config, weights) }
        var c = config
        c.scalarHead = true
        return (c, change(weights, from: config, to: c))
    }

    public static func removing(from config: ModelConfig, weights: Buffer) -> (config: ModelConfig, weights: Buffer) {
        guard config.scalarHead else { return (config, weights) }
        var c = config
        c.scalarHead = false
        return (c, change(weights, from: config, to: c))
    }

    static func change(_ weights: Buffer, from: ModelConfig, to: ModelConfig) -> Buffer {
        let whole = weights.count == ParameterLayout(from).count
        return ParameterLayout(to, projections: whole).relayout(weights, from: ParameterLayout(from, projections: whole))
    }
}
