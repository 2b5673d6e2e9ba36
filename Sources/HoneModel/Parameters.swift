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

    /// The tensors of a model with `config`, in Hugging Face's names. Without `projections`,
    /// the seven projections of every layer are left out: a quantized base keeps those in blocks.
    public init(_ config: ModelConfig, projections: Bool = true) {
        let d = config.hiddenSize
        add("model.embed_tokens.weight", [config.vocabSize, d])
        for l in 0..<config.layers {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", [d])
            if projections { for proj in Projection.allCases[0..<4] { add(proj.weightName(layer: l), proj.shape(config)) } }
            add(p + "post_attention_layernorm.weight", [d])
            if projections { for proj in Projection.allCases[4...] { add(proj.weightName(layer: l), proj.shape(config)) } }
            if config.adapterSize > 0 {
                for (name, shape) in BottleneckAdapter.tensors(layer: l, d: d, m: config.adapterSize) { add(name, shape) }
            }
        }
        add("model.norm.weight", [d])
        if config.virtualTokens > 0 {
            if config.prefixTuning {
                add(PrefixTuning.tensorName, [config.virtualTokens, PrefixTuning.width(config)])
            } else {
                add(PromptTuning.tensorName, [config.virtualTokens, d])
            }
        }
        if !config.tiedEmbeddings { add("lm_head.weight", [config.vocabSize, d]) }
        if config.scalarHead { add("score.weight", [1, d]) }
    }

    /// Any list of named tensors, laid out in the order given (adapter tensors).
    public init(_ tensors: [(name: String, shape: [Int])]) {
        for t in tensors { add(t.name, t.shape) }
    }

    private mutating func add(_ name: String, _ shape: (out: Int, in: Int)) { add(name, [shape.out, shape.in]) }

    private mutating func add(_ name: String, _ shape: [Int]) {
        index[name] = tensors.count
        tensors.append(Tensor(name: name, shape: shape, offset: count))
        count += shape.reduce(1, *)
    }

    public subscript(name: String) -> Tensor? { index[name].map { tensors[$0] } }

    /// Offset of a tensor this layout is known to hold.
    func offset(_ name: String) -> Int { index[name].map { tensors[$0].offset } ?? 0 }

    /// `values` laid out as `source` moved into a new buffer in this layout: every tensor both
    /// have, by name; the rest zero (a base model gaining adapters, or losing its projections to
    /// quantized blocks).
    public func relayout(_ values: Buffer, from source: ParameterLayout) -> Buffer {
        let out = Buffer(count)
        copy(values, from: source, into: out)
        return out
    }

    /// The tensors both layouts have, by name, from `values` (in `source`) into `out` (in this one).
    public func copy(_ values: Buffer, from source: ParameterLayout, into out: Buffer) {
        for t in tensors {
            if let s = source[t.name] { (out.pointer + t.offset).update(from: values.pointer + s.offset, count: t.count) }
        }
    }

    /// Every tensor as a trainable view of `weights` and `grads` (both in this layout).
    public func views(weights: Buffer, grads: Buffer) -> [TrainableTensor] {
        tensors.map { TrainableTensor(name: $0.name, count: $0.count, weights: weights.pointer + $0.offset,
                                      grads: grads.pointer + $0.offset, decays: $0.decays) }
    }
}

/// One tensor the optimizer updates: where its values and its gradient live. Full fine-tuning
/// trains every base tensor; LoRA trains only its adapters; freezing trains a chosen few.
public struct TrainableTensor: @unchecked Sendable {
    public let name: String
    public let count: Int
    public let weights: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    /// Matrices take weight decay; norm gains do not.
    public let decays: Bool
    public init(name: String, count: Int, weights: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, decays: Bool) {
        self.name = name; self.count = count; self.weights = weights; self.grads = grads; self.decays = decays
    }
}

/// Initial weights: matrices N(0, initStd²) from the stream `key`, norm gains 1, an adapter's up
/// projection and biases 0. Each tensor draws from its own position range.
public func initialWeights(_ layout: ParameterLayout, config: ModelConfig, key: UInt64) -> Buffer {
    let w = Buffer(layout.count)
    for t in layout.tensors {
        let view = w.pointer + t.offset
        if BottleneckAdapter.startsAtZero(t.name) {
            view.update(repeating: 0, count: t.count)
        } else if t.shape.count == 1 {
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
