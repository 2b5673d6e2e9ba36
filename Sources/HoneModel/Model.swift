import HoneBase
import HoneTensor

/// What trains: every base tensor (full fine-tuning), a chosen few (freezing), or none, with
/// LoRA adapters over the frozen base when `lora` is set.
public struct Tuning: Sendable {
    public enum Base: Equatable, Sendable { case all, none, only(Set<String>) }
    public var base: Base = .all
    public var lora: LoRAConfig?
    /// The stream LoRA's A matrices are drawn from.
    public var loraKey: UInt64 = 0
    public init() {}

    /// Nothing trains: a model for evaluation or generation.
    public static var frozen: Tuning { var t = Tuning(); t.base = .none; return t }

    /// The base tensor `name` trains too, whatever else does (a new head under LoRA or freezing).
    public mutating func alsoTrain(_ name: String) {
        switch base {
        case .all: break
        case .none: base = .only([name])
        case let .only(names): base = .only(names.union([name]))
        }
    }

    /// What a checkpoint records, so it is never restored into a model tuned another way.
    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        switch base {
        case .all: o["base"] = .string("all")
        case .none: o["base"] = .string("none")
        case let .only(names): o["base"] = .array(names.sorted().map { .string($0) })
        }
        if let lora {
            o["lora"] = .object(["rank": .int(lora.rank), "alpha": .double(Double(lora.alpha)), "dropout": .double(Double(lora.dropout)),
                                 "targets": .array(lora.targets.map { .string($0.rawValue) })])
        }
        return .object(o)
    }
}

/// The Llama decoder: embedding → layers of [RMSNorm → rotary GQA attention → residual,
/// RMSNorm → SwiGLU MLP → residual] → final RMSNorm → heads (LM head, tied or not, and an
/// optional scalar head). Forward and backward are written out by hand, layer by layer, in the
/// order llm.c lays them out; every matmul is a `Matmul` (sgemm) call.
///
/// Weights are one flat buffer in `layout`'s order. Only what trains gets a gradient: `grads`
/// packs the training base tensors in layout order (all of them: the same offsets as
/// `weights`), LoRA keeps its own; frozen tensors cost no weight-gradient product at all, and
/// layers below the lowest trained one are not back-propagated. Gradients accumulate (+=)
/// across backward calls until `zeroGrads`, which is what gradient accumulation needs.
/// With `quantized`, the projections live in blocks and `weights` holds the rest.
public final class Model {
    public let config: ModelConfig
    public let tuning: Tuning
    public let layout: ParameterLayout
    public let weights: Buffer
    public let grads: Buffer
    public let lora: LoRA?
    public let quantized: QuantizedProjections?
    /// What the optimizer updates: training base tensors, then LoRA's.
    public let trainable: [TrainableTensor]
    public var threads: Int
    /// Whether the layers' forward may run in row slices (`layerSlices`). The bits are the same
    /// either way; a test turns it off to compare.
    public var rowSlicing = true
    let rope: (cos: [Float], sin: [Float])
    let offsets: [LayerOffsets]
    /// Offset in `grads` of each training base tensor, by its offset in `weights`.
    let gradOffsets: [Int: Int]
    /// The lowest layer the backward has to reach.
    let backwardFloor: Int
    /// One dequantized projection (empty without `quantized`).
    let scratch: Buffer

    struct LayerOffsets {
        let attnNorm, mlpNorm: Int
        let adapter: BottleneckAdapter.Offsets?
        /// By `Projection.index`; empty when the projections are quantized.
        let proj: [Int]
    }

    public init(config: ModelConfig, weights: Buffer, threads: Int = 1, tuning: Tuning = Tuning(),
                quantized: QuantizedProjections? = nil) {
        precondition(config.problem == nil, config.problem ?? "")
        self.config = config
        self.tuning = tuning
        let layout = ParameterLayout(config, projections: quantized == nil)
        self.layout = layout
        precondition(weights.count == layout.count, "weights do not match the config's layout")
        self.weights = weights
        self.threads = threads
        self.quantized = quantized
        if let quantized {
            let fits = quantized.matrices.count == config.layers && quantized.matrices.allSatisfy { row in
                row.count == Projection.allCases.count && Projection.allCases.allSatisfy { p in
                    row[p.index].rows == p.shape(config).out && row[p.index].columns == p.shape(config).in
                }
            }
            precondition(fits, "quantized projections do not match the config's shapes")
        }
        rope = RoPE.tables(T: config.maxPositions, D: config.headDim, theta: config.ropeTheta)
        offsets = (0..<config.layers).map { l in
            let p = "model.layers.\(l)."
            return LayerOffsets(attnNorm: layout.offset(p + "input_layernorm.weight"), mlpNorm: layout.offset(p + "post_attention_layernorm.weight"),
                                adapter: BottleneckAdapter.offsets(layout, layer: l),
                                proj: quantized == nil ? Projection.allCases.map { layout.offset($0.weightName(layer: l)) } : [])
        }
        let training: [ParameterLayout.Tensor]
        switch tuning.base {
        case .all: training = layout.tensors
        case .none: training = []
        case let .only(names):
            precondition(names.allSatisfy { layout[$0] != nil }, "a tensor to train is not in the model")
            training = layout.tensors.filter { names.contains($0.name) }
        }
        var gradOffsets: [Int: Int] = [:], packed = 0
        for t in training { gradOffsets[t.offset] = packed; packed += t.count }
        self.gradOffsets = gradOffsets
        grads = Buffer(packed)
        let adapters = tuning.lora.map { LoRA(model: config, config: $0, key: tuning.loraKey) }
        lora = adapters
        let g = grads
        trainable = training.map { t in
            TrainableTensor(name: t.name, count: t.count, weights: weights.pointer + t.offset,
                            grads: g.pointer + (gradOffsets[t.offset] ?? 0), decays: t.decays)
        } + (adapters.map { $0.layout.views(weights: $0.weights, grads: $0.grads) } ?? [])
        let lowest = (0..<config.layers).first { l in
            training.contains { $0.name.hasPrefix("model.layers.\(l).") } || (adapters?.slots[l].contains { $0 != nil } ?? false)
        }
        // The embeddings and the prompt sit below every layer: training them takes the whole backward.
        // So does a prefix: layer 0 has one.
        let inputTrains = gradOffsets[0] != nil || [PromptTuning.tensorName, PrefixTuning.tensorName].contains { name in
            layout[name].map { gradOffsets[$0.offset] != nil } == true
        }
        backwardFloor = inputTrains ? 0 : lowest ?? config.layers
        scratch = Buffer(quantized == nil ? 0 : Projection.allCases.map { $0.shape(config).out * $0.shape(config).in }.max() ?? 0)
    }

    /// Zeroes the gradients of everything that trains.
    public func zeroGrads() {
        grads.zero()
        lora?.grads.zero()
    }

    /// Trainable values in all.
    public var trainableCount: Int { trainable.reduce(0) { $0 + $1.count } }

    /// Whether a training forward draws dropout masks (residual or LoRA dropout).
    public var usesDropout: Bool { config.dropout > 0 || (lora?.config.dropout ?? 0) > 0 }

    /// The trainable values one after another into `out` (trainableCount long), or back.
    public func copyTrainable(into out: Buffer) {
        var at = 0
        for t in trainable { (out.pointer + at).update(from: t.weights, count: t.count); at += t.count }
    }

    public func restoreTrainable(from src: Buffer) {
        var at = 0
        for t in trainable { t.weights.update(from: src.pointer + at, count: t.count); at += t.count }
    }

    /// A projection's fp32 weight [out, in]: in `weights`, or dequantized into the scratch
    /// matrix (valid until the next call).
    func weight(_ l: Int, _ p: Projection) -> UnsafePointer<Float> {
        if let quantized {
            quantized.dequantize(l, p, into: scratch.pointer, threads: threads)
            return UnsafePointer(scratch.pointer)
        }
        return UnsafePointer(weights.pointer + offsets[l].proj[p.index])
    }

    /// The gradient of the base tensor at `offset` in `weights`, or nil when it is frozen.
    func grad(_ offset: Int) -> UnsafeMutablePointer<Float>? { gradOffsets[offset].map { grads.pointer + $0 } }

    func projectionGrad(_ l: Int, _ p: Projection) -> UnsafeMutablePointer<Float>? {
        quantized == nil ? grad(offsets[l].proj[p.index]) : nil
    }

    /// The whole model in fp32 under `ParameterLayout(config)`, with the projections
    /// dequantized and LoRA's updates folded in: what a merged export writes. Without LoRA or
    /// quantized projections that is `weights` itself, not a copy.
    public func mergedWeights() -> Buffer {
        guard lora != nil || quantized != nil else { return weights }
        let full = ParameterLayout(config)
        let out = full.relayout(weights, from: layout)
        for l in 0..<config.layers {
            for p in Projection.allCases {
                guard let f = full[p.weightName(layer: l)] else { continue }
                let dst = out.pointer + f.offset
                if let quantized { quantized.dequantize(l, p, into: dst, threads: threads) }
                if let lora, let slot = lora.slot(l, p) { lora.merge(slot, into: dst, threads: threads) }
            }
        }
        return out
    }

    var embedOffset: Int { 0 }
    var normOffset: Int { layout.offset("model.norm.weight") }
    var headOffset: Int { config.tiedEmbeddings ? 0 : layout.offset("lm_head.weight") }
    var scoreOffset: Int { layout.offset("score.weight") }
    var promptOffset: Int { layout.offset(PromptTuning.tensorName) }
    var prefixOffset: Int { layout.offset(PrefixTuning.tensorName) }

    /// Dropout draws for one pass: the stream key and the pass's index (step · micro-batches +
    /// micro-batch), so a resumed run draws the same masks. nil: no dropout (evaluation).
    public struct DropoutDraw {
        public let key: UInt64
        public let pass: UInt64
        public init(key: UInt64, pass: UInt64) { self.key = key; self.pass = pass }
    }

    /// Runs the decoder over `a.tokens` up to the final norm (`a.final`). `dropout` draws the
    /// residual and LoRA dropout masks (training); nil runs without dropout (evaluation).
    public func forward(_ a: Activations, dropout: DropoutDraw? = nil) {
        precondition((lora == nil) == (a.lora == nil) && a.P == config.virtualTokens, "activations made for another model (Activations(for:))")
        let c = config, M = a.layerRows, d = c.hiddenSize, w = weights.pointer
        a.dropout = dropout
        if a.P > 0 {
            PromptTuning.embed(a.resid[0].pointer, tokens: a.tokens, table: w + embedOffset, prompt: c.prefixTuning ? nil : w + promptOffset,
                               B: a.B, T: a.T, P: a.P, d: d, threads: threads)
        } else {
            Embedding.forward(out: a.resid[0].pointer, tokens: a.tokens, table: w + embedOffset, M: M, C: d, threads: threads)
        }
        // Five stages a layer. Row slices go through them each at its own pace when nothing in a
        // layer reaches across slices; else one slice of all rows, stage after stage.
        let slices = layerSlices(a), inner = slices.count > 1 ? 1 : threads
        Parallel.stages(c.layers * 5, slices: slices.count, threads: threads) { stage, slice in
            layerForward(stage / 5, part: stage % 5, rows: slices[slice], threads: inner, a)
        }
        // The final norm (and so the heads) reads the real tokens' rows only.
        for (b, rows) in sequences(a) {
            RMSNorm.forward(out: a.final.pointer + b * a.T * d, rstd: a.finalRstd.pointer + b * a.T, inp: a.resid[c.layers].pointer + rows * d,
                            weight: w + normOffset, M: a.P > 0 ? a.T : a.M, C: d, eps: c.normEps, threads: threads)
        }
    }

    /// The row slices the layers run in: the products' own tasks (512 rows from 2048 rows up)
    /// when every operation of a layer stays within them — each holds whole sequences, for
    /// attention, and there is no LoRA branch, bottleneck adapter or prefix (their products and
    /// inserts run over all rows) and no quantized projection (dequantized into one scratch
    /// matrix) — else one slice of all rows.
    public func layerSlices(_ a: Activations) -> Parallel.Slices {
        let M = a.layerRows, size = Matmul.rowsPerTask(M)
        let rowLocal = rowSlicing && M >= 2 * size && size % a.S == 0 && lora == nil && quantized == nil && config.adapterSize == 0
            && !config.prefixTuning
        return Parallel.slices(M, size: rowLocal ? size : M)
    }

    /// Stage `part` of layer l's forward over `rows` (all rows but for `layerSlices`' slices):
    /// 0 the attention's inputs, 1 attention, 2 its output and residual, 3 the MLP's gate, 4 its
    /// output and residual. Every kernel sees the same rows in the same tasks as over all rows.
    private func layerForward(_ l: Int, part: Int, rows: Range<Int>, threads: Int, _ a: Activations) {
        let c = config, o = offsets[l], x = a.layers[l], w = weights.pointer, d = c.hiddenSize, hd = c.headDim
        let r = rows.lowerBound, n = rows.count, qWidth = c.heads * hd, kvWidth = c.kv * hd
        let inp = a.resid[l].pointer + r * d, out = a.resid[l + 1].pointer + r * d
        let residualDropout = c.dropout > 0 ? a.dropout : nil
        switch part {
        case 0:
            RMSNorm.forward(out: x.xn1.pointer + r * d, rstd: x.rstd1.pointer + r, inp: inp, weight: w + o.attnNorm, M: n, C: d, eps: c.normEps, threads: threads)
            project(l, .q, out: x.q.pointer, inp: x.xn1.pointer, rows: rows, threads: threads, a)
            project(l, .k, out: x.k.pointer, inp: x.xn1.pointer, rows: rows, threads: threads, a)
            project(l, .v, out: x.v.pointer, inp: x.xn1.pointer, rows: rows, threads: threads, a)
            RoPE.apply(x.q.pointer + r * qWidth, B: n / a.S, T: a.S, heads: c.heads, D: hd, cos: rope.cos, sin: rope.sin, threads: threads)
            RoPE.apply(x.k.pointer + r * kvWidth, B: n / a.S, T: a.S, heads: c.kv, D: hd, cos: rope.cos, sin: rope.sin, threads: threads)
            if c.prefixTuning {
                PrefixTuning.insert(k: x.k.pointer, v: x.v.pointer, prefix: w + prefixOffset, layer: l, sequences: a.B, S: a.S, P: a.P,
                                    kvWidth: kvWidth, row: PrefixTuning.width(c))
            }
        case 1:
            let shape = Attention.Shape(B: n / a.S, T: a.S, H: c.heads, Hkv: c.kv, D: hd)
            Attention.forward(out: x.att.pointer + r * qWidth, probs: x.probs.pointer + r / a.S * c.heads * a.S * a.S,
                              q: x.q.pointer + r * qWidth, k: x.k.pointer + r * kvWidth, v: x.v.pointer + r * kvWidth, shape, threads: threads)
        case 2:
            project(l, .o, out: x.mid.pointer, inp: x.att.pointer, rows: rows, threads: threads, a)
            if let residualDropout { drop(x.mid, mask: x.mask1, residualDropout, site: 2 * l, rows: rows, width: d, threads: threads) }
            add(x.mid.pointer + r * d, inp, n * d, threads: threads)
            RMSNorm.forward(out: x.xn2.pointer + r * d, rstd: x.rstd2.pointer + r, inp: x.mid.pointer + r * d, weight: w + o.mlpNorm,
                            M: n, C: d, eps: c.normEps, threads: threads)
        case 3:
            project(l, .gate, out: x.gate.pointer, inp: x.xn2.pointer, rows: rows, threads: threads, a)
            project(l, .up, out: x.up.pointer, inp: x.xn2.pointer, rows: rows, threads: threads, a)
            SwiGLU.forward(out: x.h.pointer + r * c.ffn, sigmoid: x.sig.pointer + r * c.ffn, gate: x.gate.pointer + r * c.ffn,
                           up: x.up.pointer + r * c.ffn, count: n * c.ffn, threads: threads)
        default:
            project(l, .down, out: a.resid[l + 1].pointer, inp: x.h.pointer, rows: rows, threads: threads, a)
            if let adapter = o.adapter {
                BottleneckAdapter.forward(out, adapter, weights: w, a.adapters[l], M: n, d: d, m: c.adapterSize, threads: threads)
            }
            if let residualDropout { drop(a.resid[l + 1], mask: x.mask2, residualDropout, site: 2 * l + 1, rows: rows, width: d, threads: threads) }
            add(out, x.mid.pointer + r * d, n * d, threads: threads)
        }
    }

    /// (sequence, first layer row of its real tokens): every sequence with virtual tokens before
    /// it, or one item (0, 0) for all rows at once without.
    private func sequences(_ a: Activations) -> LazyMapSequence<Range<Int>, (Int, Int)> {
        (0..<(a.P > 0 ? a.B : 1)).lazy.map { ($0, $0 * a.S + a.P) }
    }

    /// out = inp · Wᵀ over `rows` for projection p of layer l, plus its LoRA branch when it has
    /// one (then `rows` are all rows: `layerSlices` keeps LoRA to one slice).
    private func project(_ l: Int, _ p: Projection, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                         rows: Range<Int>, threads: Int, _ a: Activations) {
        let s = p.shape(config)
        Matmul.forward(out: out, inp: inp, weight: weight(l, p), bias: nil, M: a.layerRows, K: s.in, N: s.out, rows: rows, threads: threads)
        if let lora, let slot = lora.slot(l, p), let la = a.lora, let v = la.v[l][p.index] {
            lora.forward(slot, out: out, inp: inp, v: v, M: a.layerRows, la, dropout: a.dropout, threads: threads)
        }
    }

    /// The backward of `project`: dinp (+)= dout · W (+ the LoRA branch's), and the weight's
    /// gradient when it trains.
    private func projectBackward(_ l: Int, _ p: Projection, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                 inp: UnsafePointer<Float>, accumulateInput: Bool = true, _ a: Activations) {
        let s = p.shape(config)
        Matmul.backward(dinp: dinp, dweight: projectionGrad(l, p), dbias: nil, dout: dout, inp: inp, weight: weight(l, p),
                        M: a.layerRows, K: s.in, N: s.out, accumulateInput: accumulateInput, threads: threads)
        if let lora, let slot = lora.slot(l, p), let la = a.lora, let v = la.v[l][p.index] {
            lora.backward(slot, dinp: dinp, dout: dout, inp: inp, v: v, M: a.layerRows, la, dropout: a.dropout, threads: threads)
        }
    }

    /// Dropout on rows `rows` (`width` floats each) of x: element i of x draws word i of the
    /// site's stretch of the stream, whichever rows a call covers.
    private func drop(_ x: Buffer, mask: Buffer, _ draw: DropoutDraw, site: Int, rows: Range<Int>, width: Int, threads: Int) {
        let n = UInt64(x.count), first = rows.lowerBound * width
        let offset = (draw.pass * UInt64(2 * config.layers) + UInt64(site)) * n + UInt64(first)
        Dropout.forward(x.pointer + first, mask: mask.pointer + first, count: rows.count * width, p: config.dropout, key: draw.key, offset: offset, threads: threads)
    }

    private func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, threads: Int) {
        let slices = Parallel.slices(n, size: 1 << 15)
        Parallel.run(tasks: slices.count, threads: threads) { t in for i in slices[t] { y[i] += x[i] } }
    }

    // MARK: heads

    /// logits = final · Wᵀ (W the embedding table when tied).
    public func lmHeadForward(_ a: Activations) {
        Matmul.forward(out: a.logits.pointer, inp: a.final.pointer, weight: weights.pointer + headOffset, bias: nil,
                       M: a.M, K: config.hiddenSize, N: config.vocabSize, threads: threads)
    }

    /// Next-token cross-entropy on the logits: target of row m is `targets[m]`, rows with
    /// mask 0 are left out. Overwrites the logits with their gradient (`a.dlogits`); returns the
    /// loss (see CrossEntropy for `normalizer`).
    public func lmLoss(_ a: Activations, targets: UnsafePointer<Int32>, mask: UnsafePointer<UInt8>?, normalizer: Int? = nil) -> Float {
        CrossEntropy.forwardBackward(dlogits: a.dlogits.pointer, losses: a.rowLosses.pointer, logits: a.logits.pointer,
                                     targets: targets, mask: mask, M: a.M, V: config.vocabSize, normalizer: normalizer, threads: threads)
    }

    /// dfinal += dlogits · W; dW += dlogitsᵀ · final.
    public func lmHeadBackward(_ a: Activations) {
        Matmul.backward(dinp: a.dfinal.pointer, dweight: grad(headOffset), dbias: nil, dout: a.dlogits.pointer,
                        inp: a.final.pointer, weight: weights.pointer + headOffset, M: a.M, K: config.hiddenSize,
                        N: config.vocabSize, threads: threads)
    }

    /// scores[m] = final[m] · score.weight.
    public func scoreForward(_ a: Activations) {
        precondition(config.scalarHead, "the model has no scalar head")
        Matmul.forward(out: a.scores.pointer, inp: a.final.pointer, weight: weights.pointer + scoreOffset, bias: nil,
                       M: a.M, K: config.hiddenSize, N: 1, threads: threads)
    }

    /// Given a.dscores: dfinal += dscores · w; dw += dscoresᵀ · final.
    public func scoreBackward(_ a: Activations) {
        Matmul.backward(dinp: a.dfinal.pointer, dweight: grad(scoreOffset), dbias: nil, dout: a.dscores.pointer,
                        inp: a.final.pointer, weight: weights.pointer + scoreOffset, M: a.M, K: config.hiddenSize, N: 1, threads: threads)
    }

    // MARK: backward

    /// From `a.dfinal` (which the heads filled) back to the gradient of everything that trains,
    /// down to the lowest layer that holds some. Clears dfinal.
    public func backward(_ a: Activations) {
        let c = config, M = a.layerRows, d = c.hiddenSize, hd = c.headDim, w = weights.pointer
        let shape = Attention.Shape(B: a.B, T: a.S, H: c.heads, Hkv: c.kv, D: hd)
        // The masks exist only when the forward drew them (a forward without a draw, as PPO's, had none).
        let residualDropout = c.dropout > 0 && a.dropout != nil
        a.dres.zero()
        for (b, rows) in sequences(a) {
            RMSNorm.backward(dinp: a.dres.pointer + rows * d, dweight: grad(normOffset), dout: a.dfinal.pointer + b * a.T * d,
                             inp: a.resid[c.layers].pointer + rows * d, weight: w + normOffset, rstd: a.finalRstd.pointer + b * a.T,
                             M: a.P > 0 ? a.T : a.M, C: d, threads: threads)
        }
        a.dfinal.zero()
        for l in stride(from: c.layers - 1, through: backwardFloor, by: -1) {
            let o = offsets[l], x = a.layers[l]
            // MLP branch: resid[l+1] = mid + drop(h · Wdownᵀ).
            var branch = UnsafePointer(a.dres.pointer)
            if residualDropout {
                Dropout.backward(out: a.dbranch.pointer, dout: a.dres.pointer, mask: x.mask2.pointer, count: M * d)
                branch = UnsafePointer(a.dbranch.pointer)
            }
            if let adapter = o.adapter {
                BottleneckAdapter.backward(dy: a.dbranchAdapted.pointer, dout: branch, adapter, weights: w, grad: grad, a.adapters[l],
                                           scratch: a.dadapter, M: M, d: d, m: c.adapterSize, threads: threads)
                branch = UnsafePointer(a.dbranchAdapted.pointer)
            }
            projectBackward(l, .down, dinp: a.dh.pointer, dout: branch, inp: x.h.pointer, accumulateInput: false, a)
            SwiGLU.backward(dgate: a.dgate.pointer, dup: a.dup.pointer, dout: a.dh.pointer, gate: x.gate.pointer, up: x.up.pointer,
                            sigmoid: x.sig.pointer, count: M * c.ffn, threads: threads)
            projectBackward(l, .gate, dinp: a.dxn.pointer, dout: a.dgate.pointer, inp: x.xn2.pointer, accumulateInput: false, a)
            projectBackward(l, .up, dinp: a.dxn.pointer, dout: a.dup.pointer, inp: x.xn2.pointer, a)
            RMSNorm.backward(dinp: a.dres.pointer, dweight: grad(o.mlpNorm), dout: a.dxn.pointer, inp: x.mid.pointer,
                             weight: w + o.mlpNorm, rstd: x.rstd2.pointer, M: M, C: d, threads: threads)
            // Attention branch: mid = resid[l] + drop(att · Woᵀ).
            branch = UnsafePointer(a.dres.pointer)
            if residualDropout {
                Dropout.backward(out: a.dbranch.pointer, dout: a.dres.pointer, mask: x.mask1.pointer, count: M * d)
                branch = UnsafePointer(a.dbranch.pointer)
            }
            projectBackward(l, .o, dinp: a.datt.pointer, dout: branch, inp: x.att.pointer, accumulateInput: false, a)
            Attention.backward(dq: a.dq.pointer, dk: a.dk.pointer, dv: a.dv.pointer, dout: a.datt.pointer, probs: x.probs.pointer,
                               q: x.q.pointer, k: x.k.pointer, v: x.v.pointer, scratch: a.attnScratch.pointer, shape, threads: threads)
            if c.prefixTuning {
                PrefixTuning.gather(dk: a.dk.pointer, dv: a.dv.pointer, dprefix: grad(prefixOffset), layer: l, sequences: a.B, S: a.S, P: a.P,
                                    kvWidth: c.kv * hd, row: PrefixTuning.width(c))
            }
            RoPE.apply(a.dq.pointer, B: a.B, T: a.S, heads: c.heads, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
            RoPE.apply(a.dk.pointer, B: a.B, T: a.S, heads: c.kv, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
            projectBackward(l, .q, dinp: a.dxn.pointer, dout: a.dq.pointer, inp: x.xn1.pointer, accumulateInput: false, a)
            projectBackward(l, .k, dinp: a.dxn.pointer, dout: a.dk.pointer, inp: x.xn1.pointer, a)
            projectBackward(l, .v, dinp: a.dxn.pointer, dout: a.dv.pointer, inp: x.xn1.pointer, a)
            RMSNorm.backward(dinp: a.dres.pointer, dweight: grad(o.attnNorm), dout: a.dxn.pointer, inp: a.resid[l].pointer,
                             weight: w + o.attnNorm, rstd: x.rstd1.pointer, M: M, C: d, threads: threads)
        }
        if let dtable = grad(embedOffset) {
            for (b, rows) in sequences(a) {
                Embedding.backward(dtable: dtable, dout: a.dres.pointer + rows * d, tokens: a.tokens + b * a.T, M: a.P > 0 ? a.T : a.M, C: d, threads: threads)
            }
        }
        if a.P > 0, !c.prefixTuning, let dprompt = grad(promptOffset) {
            PromptTuning.backward(dprompt: dprompt, dres: a.dres.pointer, B: a.B, T: a.T, P: a.P, d: d)
        }
    }
}
