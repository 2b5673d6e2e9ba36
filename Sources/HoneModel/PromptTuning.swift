import HoneBase
import HoneTensor

/// Prompt tuning (Lester et al. 2021): P trainable embeddings [P, d] put before every sequence at
/// the input, nothing else changed; the model attends to them as to P tokens at positions
/// 0..<P, and the real tokens follow at P. They start as the embeddings of P tokens drawn from
/// the vocabulary (Lester et al.'s "sampled vocab" init), not at zero: a zero prompt would still
/// shift every position.
///
/// Unlike prefix tuning (keys and values in every layer), this touches the input only. The
/// embeddings stay in the model (`ModelConfig.virtualTokens`), and the stage's adapter output
/// holds them in HF PEFT's PROMPT_TUNING layout.
public enum PromptTuning {
    public static let tensorName = "prompt_embeddings"

    /// A base model with P virtual tokens added, drawn from its own token embeddings by `key`.
    public static func adding(to config: ModelConfig, weights: Buffer, count P: Int, key: UInt64) -> (config: ModelConfig, weights: Buffer) {
        var c = config
        c.virtualTokens = P
        let old = ParameterLayout(config), new = ParameterLayout(c)
        let out = new.relayout(weights, from: old)
        if let prompt = new[tensorName], let embed = old["model.embed_tokens.weight"] {
            var rng = CounterRNG(key: key)
            let d = config.hiddenSize
            for j in 0..<P {
                let token = rng.below(config.vocabSize)
                (out.pointer + prompt.offset + j * d).update(from: weights.pointer + embed.offset + token * d, count: d)
            }
        }
        return (c, out)
    }

    /// resid[0]: each sequence's P prompt rows (zeros for prefix tuning, whose rows never reach
    /// a real token), then its tokens' embeddings.
    static func embed(_ out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, table: UnsafePointer<Float>,
                      prompt: UnsafePointer<Float>?, B: Int, T: Int, P: Int, d: Int, threads: Int) {
        let S = P + T
        for b in 0..<B {
            if let prompt { (out + b * S * d).update(from: prompt, count: P * d) } else { (out + b * S * d).update(repeating: 0, count: P * d) }
            Embedding.forward(out: out + (b * S + P) * d, tokens: tokens + b * T, table: table, M: T, C: d, threads: threads)
        }
    }

    /// dprompt += Σ over sequences of the gradient at their prompt rows (sequences in order).
    static func backward(dprompt: UnsafeMutablePointer<Float>, dres: UnsafePointer<Float>, B: Int, T: Int, P: Int, d: Int) {
        let S = P + T
        for b in 0..<B {
            let src = dres + b * S * d
            for i in 0..<(P * d) { dprompt[i] += src[i] }
        }
    }

    /// PEFT's adapter_config.json for P virtual tokens on a model with `config`.
    public static func peftConfig(_ config: ModelConfig, baseModel: String?) -> JSONValue {
        .object([
            "peft_type": .string("PROMPT_TUNING"), "task_type": .string("CAUSAL_LM"),
            "num_virtual_tokens": .int(config.virtualTokens), "token_dim": .int(config.hiddenSize),
            "num_transformer_submodules": .int(1), "num_attention_heads": .int(config.heads), "num_layers": .int(config.layers),
            "prompt_tuning_init": .string("RANDOM"), "inference_mode": .bool(true),
            "base_model_name_or_path": baseModel.map { .string($0) } ?? .null,
        ])
    }
}
