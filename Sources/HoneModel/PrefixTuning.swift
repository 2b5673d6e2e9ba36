import HoneBase
import HoneTensor

/// Prefix tuning (Li & Liang 2021): every layer gets P trainable keys and values that every
/// token attends to before its own context, as if a prompt had been cached; nothing else
/// changes. Unlike prompt tuning (embeddings at the input only), each layer has its own prefix.
///
/// It runs on the virtual-token rows prompt tuning adds (positions 0..<P of each sequence, the
/// real tokens after them, as PEFT's past_key_values place them): their keys (after the rotary
/// embedding) and values are overwritten by the prefix in every layer, so whatever those rows
/// compute never reaches a real token, and their key/value gradients go to the prefix instead of
/// the projections. The prefix starts as the keys and values the base model computes for P tokens
/// drawn from the vocabulary (Li & Liang's initialisation from real words).
///
/// One tensor [P, L·2·kv·D] holds it, laid out as PEFT's prefix-tuning embedding: for virtual
/// token j, layer l's key then value, each kv heads × D.
public enum PrefixTuning {
    public static let tensorName = "prefix_key_values"

    static func width(_ c: ModelConfig) -> Int { c.layers * 2 * c.kv * c.headDim }

    /// A base model with a P-token prefix added, from the base's own keys and values for P tokens
    /// drawn by `key`.
    public static func adding(to config: ModelConfig, weights: Buffer, count P: Int, key: UInt64) throws -> (config: ModelConfig, weights: Buffer) {
        var c = config
        c.virtualTokens = P
        c.prefixTuning = true
        let new = ParameterLayout(c)
        let out = new.relayout(weights, from: ParameterLayout(config))
        guard let prefix = new[tensorName] else { return (c, out) }
        var rng = CounterRNG(key: key)
        let tokens = (0..<P).map { _ in Int32(rng.below(config.vocabSize)) }
        let g = Generator(model: Model(config: config, weights: weights, tuning: .frozen))
        _ = try g.feed(tokens)
        let kvWidth = config.kv * config.headDim, row = width(config)
        for j in 0..<P {
            for l in 0..<config.layers {
                let kv = g.cached(layer: l, position: j)
                (out.pointer + prefix.offset + j * row + 2 * l * kvWidth).update(from: kv.key, count: kvWidth)
                (out.pointer + prefix.offset + j * row + (2 * l + 1) * kvWidth).update(from: kv.value, count: kvWidth)
            }
        }
        return (c, out)
    }

    /// Layer l's prefix into the first P rows of each sequence's keys and values (rows of kvWidth).
    static func insert(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, prefix: UnsafePointer<Float>,
                       layer l: Int, sequences B: Int, S: Int, P: Int, kvWidth: Int, row: Int) {
        for b in 0..<B {
            for j in 0..<P {
                (k + (b * S + j) * kvWidth).update(from: prefix + j * row + 2 * l * kvWidth, count: kvWidth)
                (v + (b * S + j) * kvWidth).update(from: prefix + j * row + (2 * l + 1) * kvWidth, count: kvWidth)
            }
        }
    }

    /// The gradient at the prefix rows of dk and dv into layer l's prefix gradient (sequences in
    /// order; nil: frozen), and those rows zeroed: no gradient reaches the projections from them.
    static func gather(dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dprefix: UnsafeMutablePointer<Float>?,
                       layer l: Int, sequences B: Int, S: Int, P: Int, kvWidth: Int, row: Int) {
        for b in 0..<B {
            for j in 0..<P {
                let kr = dk + (b * S + j) * kvWidth, vr = dv + (b * S + j) * kvWidth
                if let dprefix {
                    let gk = dprefix + j * row + 2 * l * kvWidth, gv = dprefix + j * row + (2 * l + 1) * kvWidth
                    for i in 0..<kvWidth { gk[i] += kr[i]; gv[i] += vr[i] }
                }
                kr.update(repeating: 0, count: kvWidth)
                vr.update(repeating: 0, count: kvWidth)
            }
        }
    }

    /// PEFT's adapter_config.json for a P-token prefix on a model with `config`.
    public static func peftConfig(_ config: ModelConfig, baseModel: String?) -> JSONValue {
        .object([
            "peft_type": .string("PREFIX_TUNING"), "task_type": .string("CAUSAL_LM"),
            "num_virtual_tokens": .int(config.virtualTokens), "token_dim": .int(config.kv * config.headDim),
            "num_transformer_submodules": .int(1), "num_attention_heads": .int(config.kv), "num_layers": .int(config.layers),
            "encoder_hidden_size": .int(config.hiddenSize), "prefix_projection": .bool(false), "inference_mode": .bool(true),
            "base_model_name_or_path": baseModel.map { .string($0) } ?? .null,
        ])
    }
}
