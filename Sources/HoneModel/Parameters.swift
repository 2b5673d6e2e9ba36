import HoneBase
import HoneTensor

/// Where each named tensor sits in one flat buffer. Weights, gradients and the optimizer's
/// moments share this layout, so the optimizer, the global norm and checkpoints are loops over
/// one array, and the names (Hugging Face's) are what safetensors files use.
public struct ParameterLayout: Sendable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Matrices take weight decay; norm gains do not (as HF Trainer and nanoGPT do).
        public var decays: Bool { shape.count >= 2 }
    }

    public private(set) var tensors: [Tensor] = []
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    public init(_ config: ModelConfig) {
        let d = config.hiddenSize, hd = config.headDim
        add("model.embed_tokens.weight", [config.vocabSize, d])
        for l in 0..<config.layers {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", [d])
            add(p + "self_attn.q_proj.weight", [config.heads * hd, d])
            add(p + "self_attn.k_proj.weight", [config.kv * hd, d])
            add(p + "self_attn.v_proj.weight", [config.kv * hd, d])
            add(p + "self_attn.o_proj.weight", [d, config.heads * hd])
            add(p + "post_attention_layernorm.weight", [d])
            add(p + "mlp.gate_proj.weight", [config.ffn, d])
            add(p + "mlp.up_proj.weight", [config.ffn, d])
            add(p + "mlp.down_proj.weight", [d, config.ffn])
        }
        add("model.norm.weight", [d])
        if !config.tiedEmbeddings { add("lm_head.weight", [config.vocabSize, d]) }
        if config.scalarHead { add("score.weight", [1, d]) }
    }

    private mutating func add(_ name: String, _ shape: [Int]) {
        index[name] = tensors.count
        tensors.append(Tensor(name: name, shape: shape, offset: count))
        count += shape.reduce(1, *)
    }

    public subscript(name: String) -> Tensor? { index[name].map { tensors[$0] } }

    /// Offset of a tensor this layout is known to hold.
    func offset(_ name: String) -> Int { index[name].map { tensors[$0].offset } ?? 0 }
}

/// Initial weights: matrices N(0, initStd²) from the stream `key`, norm gains 1. Each tensor
/// draws from its own position range, so adding a tensor never changes the others' values.
public func initialWeights(_ layout: ParameterLayout, config: ModelConfig, key: UInt64) -> Buffer {
    let w = Buffer(layout.count)
    for t in layout.tensors {
        let view = w.pointer + t.offset
        if t.shape.count == 1 {
            view.update(repeating: 1, count: t.count)
        } else {
            var rng = CounterRNG(key: key, position: UInt64(t.offset) * 2)
            let tmp = Buffer(t.count)
            tmp.fillNormal(std: config.initStd, rng: &rng)
            view.update(from: tmp.pointer, count: t.count)
        }
    }
    return w
}
