import HoneTensor

/// Every buffer one forward and backward pass of B sequences of T tokens needs, allocated once
/// for that shape and reused by every step: the step loop allocates nothing.
///
/// With prompt tuning each sequence is P virtual tokens and then its T tokens: the layers work on
/// S = P + T rows a sequence (`layerRows` in all), tokens, targets and logits on the T real ones.
public final class Activations {
    public let B: Int, T: Int
    public var M: Int { B * T }
    /// Virtual tokens before each sequence, and the rows a sequence takes in the layers.
    public let P: Int
    public var S: Int { P + T }
    public var layerRows: Int { B * S }

    public let tokens: UnsafeMutablePointer<Int32>
    /// Residual stream: resid[l] enters layer l; resid[layers] leaves the last one.
    let resid: [Buffer]
    let layers: [LayerActivations]
    /// The final norm's output (what the heads read) and its 1/rms.
    public let final: Buffer
    let finalRstd: Buffer
    /// Gradient flowing into `final`; heads accumulate into it before `Model.backward`.
    public let dfinal: Buffer
    /// LM head logits [M, V]. The fused cross-entropy overwrites them with their gradient
    /// (`dlogits`): one M×V buffer instead of two, 32 MB less to stream on config A.
    public let logits: Buffer
    public var dlogits: Buffer { logits }
    public let rowLosses: Buffer
    /// Scalar head output [M] and its gradient.
    public let scores: Buffer
    public let dscores: Buffer

    // Backward scratch, shared by the layers one at a time. The residual's gradient is in dres
    // as a layer starts and ends, in dresMid between its branches: a weight gradient still
    // reading one while row slices write the other (`Model.backward`).
    let dres: Buffer, dresMid: Buffer, dxn: Buffer, dbranch: Buffer
    /// Each norm's per-task partial sums of its gain's gradient, the MLP's and the attention's.
    let normPartials: [Buffer]
    let dq: Buffer, dk: Buffer, dv: Buffer, datt: Buffer
    let dgate: Buffer, dup: Buffer, dh: Buffer
    let attnScratch: Buffer
    /// LoRA's per-pass buffers, for a model with adapters.
    let lora: LoRAActivations?
    /// Bottleneck adapters' per-layer buffers and backward scratch (empty without adapters).
    let adapters: [AdapterActivations]
    let dadapter: Buffer, dbranchAdapted: Buffer
    /// The dropout draw of the last forward: its backward draws LoRA's masks again from it.
    var dropout: Model.DropoutDraw?

    /// Buffers for `model`: its config, and its LoRA adapters when it has some.
    public convenience init(for model: Model, B: Int, T: Int, withLogits: Bool = true) {
        self.init(config: model.config, B: B, T: T, withLogits: withLogits, lora: model.lora)
    }

    public init(config c: ModelConfig, B: Int, T: Int, withLogits: Bool = true, lora: LoRA? = nil) {
        self.B = B; self.T = T
        P = c.virtualTokens
        let M = B * T, d = c.hiddenSize, Ms = B * (c.virtualTokens + T)
        tokens = .allocate(capacity: max(1, M))
        tokens.initialize(repeating: 0, count: max(1, M))
        resid = (0...c.layers).map { _ in Buffer(Ms * d) }
        layers = (0..<c.layers).map { _ in LayerActivations(c, B: B, T: c.virtualTokens + T) }
        final = Buffer(M * d); finalRstd = Buffer(M); dfinal = Buffer(M * d)
        logits = Buffer(withLogits ? M * c.vocabSize : 0)
        rowLosses = Buffer(M)
        scores = Buffer(M); dscores = Buffer(M)
        dres = Buffer(Ms * d); dresMid = Buffer(Ms * d); dxn = Buffer(Ms * d); dbranch = Buffer(Ms * d)
        normPartials = (0..<2).map { _ in Buffer(RMSNorm.partialCount(M: Ms, C: d)) }
        dq = Buffer(Ms * c.heads * c.headDim); datt = Buffer(Ms * c.heads * c.headDim)
        dk = Buffer(Ms * c.kv * c.headDim); dv = Buffer(Ms * c.kv * c.headDim)
        dgate = Buffer(Ms * c.ffn); dup = Buffer(Ms * c.ffn); dh = Buffer(Ms * c.ffn)
        attnScratch = Buffer(Attention.Shape(B: B, T: c.virtualTokens + T, H: c.heads, Hkv: c.kv, D: c.headDim).scratchCount)
        self.lora = lora.map { LoRAActivations($0, M: Ms) }
        let m = c.adapterSize
        adapters = m > 0 ? (0..<c.layers).map { _ in AdapterActivations(M: Ms, d: d, m: m) } : []
        dadapter = Buffer(m > 0 ? Ms * m : 0); dbranchAdapted = Buffer(m > 0 ? Ms * d : 0)
    }

    deinit { tokens.deallocate() }

    /// Bytes held, for memory reports.
    public var bytes: Int {
        var n = resid.reduce(0) { $0 + $1.count } + layers.reduce(0) { $0 + $1.floats }
        for b in [final, finalRstd, dfinal, logits, rowLosses, scores, dscores, dres, dresMid, dxn, dbranch,
                  dq, dk, dv, datt, dgate, dup, dh, attnScratch] + normPartials { n += b.count }
        n += adapters.reduce(0) { $0 + $1.floats } + dadapter.count + dbranchAdapted.count
        return (n + (lora?.floats ?? 0)) * 4 + M * 4
    }
}

/// What one layer keeps from its forward for its backward.
final class LayerActivations {
    let xn1: Buffer, rstd1: Buffer
    /// q and k after the rotary embedding (what attention saw).
    let q: Buffer, k: Buffer, v: Buffer
    let probs: Buffer, att: Buffer
    /// The residual stream after the attention branch.
    let mid: Buffer
    let xn2: Buffer, rstd2: Buffer
    let gate: Buffer, up: Buffer, h: Buffer
    /// Dropout masks of the two branches (empty without dropout).
    let mask1: Buffer, mask2: Buffer

    init(_ c: ModelConfig, B: Int, T: Int) {
        let M = B * T, d = c.hiddenSize, hd = c.headDim
        xn1 = Buffer(M * d); rstd1 = Buffer(M)
        q = Buffer(M * c.heads * hd); k = Buffer(M * c.kv * hd); v = Buffer(M * c.kv * hd)
        probs = Buffer(B * c.heads * T * T); att = Buffer(M * c.heads * hd)
        mid = Buffer(M * d); xn2 = Buffer(M * d); rstd2 = Buffer(M)
        gate = Buffer(M * c.ffn); up = Buffer(M * c.ffn); h = Buffer(M * c.ffn)
        mask1 = Buffer(c.dropout > 0 ? M * d : 0); mask2 = Buffer(c.dropout > 0 ? M * d : 0)
    }

    var floats: Int {
        [xn1, rstd1, q, k, v, probs, att, mid, xn2, rstd2, gate, up, h, mask1, mask2].reduce(0) { $0 + $1.count }
    }
}
