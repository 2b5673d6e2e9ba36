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
        let residualDropout = residualDropout(a)
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
            SwiGLU.forward(out: x.h.pointer + r * c.ffn, gate: x.gate.pointer + r * c.ffn, up: x.up.pointer + r * c.ffn, count: n * c.ffn,
                           threads: threads)
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

    /// The input half of `project`'s backward over `rows`: dinp (+)= dout · W, plus its LoRA
    /// branch's (then `rows` are all rows, and the branch's own gradients are done here too).
    /// The weight's gradient is a `gradientTask`.
    private func projectInputBackward(_ l: Int, _ p: Projection, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                      inp: UnsafePointer<Float>, rows: Range<Int>, accumulate: Bool, threads: Int, _ a: Activations) {
        let s = p.shape(config)
        Matmul.inputGradient(dinp: dinp, dout: dout, weight: weight(l, p), M: a.layerRows, K: s.in, N: s.out, rows: rows,
                             accumulate: accumulate, threads: threads)
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
    ///
    /// Four stages a layer run in the forward's row slices (`backwardStage`), each slice at its
    /// own pace, and between them the weights' gradients (`gradientTask`), which sum over every
    /// row: they start once all slices are past what they read, and fill the time a thread
    /// would wait for the other. Every kernel computes what it did over all rows, so the bits
    /// do not depend on the slices or the threads.
    public func backward(_ a: Activations) {
        let c = config, d = c.hiddenSize, w = weights.pointer
        a.dres.zero()
        for (b, rows) in sequences(a) {
            RMSNorm.backward(dinp: a.dres.pointer + rows * d, dweight: grad(normOffset), dout: a.dfinal.pointer + b * a.T * d,
                             inp: a.resid[c.layers].pointer + rows * d, weight: w + normOffset, rstd: a.finalRstd.pointer + b * a.T,
                             M: a.P > 0 ? a.T : a.M, C: d, threads: threads)
        }
        a.dfinal.zero()
        let layers = c.layers - backwardFloor, slices = layerSlices(a), inner = slices.count > 1 ? 1 : threads
        withUnsafeTemporaryAllocation(of: Parallel.Group.self, capacity: 6 * layers) { groups in
            for i in 0..<layers { for kind in 0..<6 { groups.initializeElement(at: 6 * i + kind, to: gradientGroup(kind, index: i, of: layers, a)) } }
            Parallel.stages(4 * layers, slices: slices.count, groups: 6 * layers, group: { groups[$0] }, threads: threads) { step in
                switch step {
                case let .stage(stage, slice):
                    backwardStage(c.layers - 1 - stage / 4, part: stage % 4, rows: slices[slice], threads: inner, a)
                case let .task(task, group):
                    gradientTask(c.layers - 1 - group / 6, kind: group % 6, task: task, a)
                }
            }
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

    /// Stage `part` of layer l's backward over `rows`: 0 the MLP's output and SwiGLU, 1 its
    /// inputs and norm (into dresMid), 2 the attention's output, attention and the rotary
    /// embedding, 3 its inputs and norm (back into dres).
    private func backwardStage(_ l: Int, part: Int, rows: Range<Int>, threads: Int, _ a: Activations) {
        let c = config, o = offsets[l], x = a.layers[l], w = weights.pointer, d = c.hiddenSize, hd = c.headDim, f = c.ffn
        let r = rows.lowerBound, n = rows.count, qWidth = c.heads * hd, kvWidth = c.kv * hd
        let residualDropout = residualDropout(a) != nil
        switch part {
        case 0:
            // MLP branch: resid[l+1] = mid + drop(h · Wdownᵀ).
            if residualDropout {
                Dropout.backward(out: a.dbranch.pointer + r * d, dout: a.dres.pointer + r * d, mask: x.mask2.pointer + r * d, count: n * d)
            }
            if let adapter = o.adapter {
                BottleneckAdapter.backward(dy: a.dbranchAdapted.pointer, dout: mlpBranch(a), adapter, weights: w, grad: grad, a.adapters[l],
                                           scratch: a.dadapter, M: a.layerRows, d: d, m: c.adapterSize, threads: threads)
            }
            projectInputBackward(l, .down, dinp: a.dh.pointer, dout: mlpBranchGradient(l, a), inp: x.h.pointer, rows: rows, accumulate: false,
                                 threads: threads, a)
            SwiGLU.backward(dgate: a.dgate.pointer + r * f, dup: a.dup.pointer + r * f, dout: a.dh.pointer + r * f, gate: x.gate.pointer + r * f,
                            up: x.up.pointer + r * f, count: n * f, threads: threads)
        case 1:
            projectInputBackward(l, .gate, dinp: a.dxn.pointer, dout: a.dgate.pointer, inp: x.xn2.pointer, rows: rows, accumulate: false,
                                 threads: threads, a)
            projectInputBackward(l, .up, dinp: a.dxn.pointer, dout: a.dup.pointer, inp: x.xn2.pointer, rows: rows, accumulate: true,
                                 threads: threads, a)
            RMSNorm.backwardRows(dinp: a.dresMid.pointer, base: a.dres.pointer, partials: a.normPartials[0].pointer, dout: a.dxn.pointer,
                                 inp: x.mid.pointer, weight: w + o.mlpNorm, rstd: x.rstd2.pointer, rows: rows, C: d, threads: threads)
        case 2:
            // Attention branch: mid = resid[l] + drop(att · Woᵀ).
            if residualDropout {
                Dropout.backward(out: a.dbranch.pointer + r * d, dout: a.dresMid.pointer + r * d, mask: x.mask1.pointer + r * d, count: n * d)
            }
            projectInputBackward(l, .o, dinp: a.datt.pointer, dout: attentionBranchGradient(a), inp: x.att.pointer, rows: rows,
                                 accumulate: false, threads: threads, a)
            let sequences = r / a.S, shape = Attention.Shape(B: n / a.S, T: a.S, H: c.heads, Hkv: c.kv, D: hd)
            Attention.backward(dq: a.dq.pointer + r * qWidth, dk: a.dk.pointer + r * kvWidth, dv: a.dv.pointer + r * kvWidth,
                               dout: a.datt.pointer + r * qWidth, probs: x.probs.pointer + sequences * c.heads * a.S * a.S,
                               q: x.q.pointer + r * qWidth, k: x.k.pointer + r * kvWidth, v: x.v.pointer + r * kvWidth,
                               scratch: a.attnScratch.pointer + sequences * c.kv * a.S * a.S, shape, threads: threads)
            if c.prefixTuning {
                PrefixTuning.gather(dk: a.dk.pointer, dv: a.dv.pointer, dprefix: grad(prefixOffset), layer: l, sequences: a.B, S: a.S, P: a.P,
                                    kvWidth: kvWidth, row: PrefixTuning.width(c))
            }
            RoPE.apply(a.dq.pointer + r * qWidth, B: n / a.S, T: a.S, heads: c.heads, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
            RoPE.apply(a.dk.pointer + r * kvWidth, B: n / a.S, T: a.S, heads: c.kv, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
        default:
            projectInputBackward(l, .q, dinp: a.dxn.pointer, dout: a.dq.pointer, inp: x.xn1.pointer, rows: rows, accumulate: false, threads: threads, a)
            projectInputBackward(l, .k, dinp: a.dxn.pointer, dout: a.dk.pointer, inp: x.xn1.pointer, rows: rows, accumulate: true, threads: threads, a)
            projectInputBackward(l, .v, dinp: a.dxn.pointer, dout: a.dv.pointer, inp: x.xn1.pointer, rows: rows, accumulate: true, threads: threads, a)
            RMSNorm.backwardRows(dinp: a.dres.pointer, base: a.dresMid.pointer, partials: a.normPartials[1].pointer, dout: a.dxn.pointer,
                                 inp: a.resid[l].pointer, weight: w + o.attnNorm, rstd: x.rstd1.pointer, rows: rows, C: d, threads: threads)
        }
    }

    /// The pass's residual dropout draw: nil without dropout, or when the forward drew no masks
    /// (a forward without a draw, as PPO's, has none for its backward either).
    private func residualDropout(_ a: Activations) -> DropoutDraw? { config.dropout > 0 ? a.dropout : nil }

    /// The gradient reaching the MLP's output projection (after dropout and adapter), and the
    /// one reaching the attention's.
    private func mlpBranch(_ a: Activations) -> UnsafePointer<Float> {
        UnsafePointer(residualDropout(a) != nil ? a.dbranch.pointer : a.dres.pointer)
    }
    private func mlpBranchGradient(_ l: Int, _ a: Activations) -> UnsafePointer<Float> {
        offsets[l].adapter != nil ? UnsafePointer(a.dbranchAdapted.pointer) : mlpBranch(a)
    }
    private func attentionBranchGradient(_ a: Activations) -> UnsafePointer<Float> {
        UnsafePointer(residualDropout(a) != nil ? a.dbranch.pointer : a.dresMid.pointer)
    }

    /// Group `kind` of the weight gradients of the i-th layer the backward reaches (0: the top
    /// one): when its tasks may start (after the stage that wrote the last of what they read)
    /// and by when they must end (before the stage that overwrites it). 0 the MLP's output
    /// projection, 1 its inputs, 2 its norm's gain, 3 the attention's output, 4 its inputs,
    /// 5 its norm's gain.
    private func gradientGroup(_ kind: Int, index i: Int, of layers: Int, _ a: Activations) -> Parallel.Group {
        let l = config.layers - 1 - i, o = offsets[l], M = a.layerRows, d = config.hiddenSize
        func tasks(_ p: Projection) -> Int { projectionGrad(l, p) == nil ? 0 : Matmul.weightTasks(p.shape(config).out, M: M).count }
        let norm = grad(kind == 2 ? o.mlpNorm : o.attnNorm) == nil ? 0 : RMSNorm.reduceTasks(C: d)
        let stage = 4 * i, next = i + 1 < layers ? 4 * (i + 1) : Int.max / 2
        // The MLP's output gradient is read from dres (written again by stage 3) or dbranch
        // (by stage 2, the attention's dropout).
        let downEnds = residualDropout(a) != nil ? stage + 2 : stage + 3
        switch kind {
        case 0: return Parallel.Group(tasks: tasks(.down), after: stage, before: downEnds)
        case 1: return Parallel.Group(tasks: tasks(.gate) + tasks(.up), after: stage, before: next)
        case 2: return Parallel.Group(tasks: norm, after: stage + 1, before: next + 1)
        case 3: return Parallel.Group(tasks: tasks(.o), after: stage + 2, before: next)
        case 4: return Parallel.Group(tasks: tasks(.q) + tasks(.k) + tasks(.v), after: stage + 2, before: next + 2)
        default: return Parallel.Group(tasks: norm, after: stage + 3, before: next + 3)
        }
    }

    /// Task `task` of group `kind` (`gradientGroup`) of layer l.
    private func gradientTask(_ l: Int, kind: Int, task: Int, _ a: Activations) {
        let x = a.layers[l], o = offsets[l], M = a.layerRows
        func product(_ p: Projection, _ task: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>) -> Int {
            guard let dweight = projectionGrad(l, p) else { return task }
            let s = p.shape(config), count = Matmul.weightTasks(s.out, M: M).count
            if task >= 0, task < count {
                Matmul.weightGradient(task: task, dweight: dweight, dbias: nil, dout: dout, inp: inp, M: M, K: s.in, N: s.out)
            }
            return task - count
        }
        switch kind {
        case 0: _ = product(.down, task, dout: mlpBranchGradient(l, a), inp: x.h.pointer)
        case 1: _ = product(.up, product(.gate, task, dout: a.dgate.pointer, inp: x.xn2.pointer), dout: a.dup.pointer, inp: x.xn2.pointer)
        case 3: _ = product(.o, task, dout: attentionBranchGradient(a), inp: x.att.pointer)
        case 4:
            let t = product(.k, product(.q, task, dout: a.dq.pointer, inp: x.xn1.pointer), dout: a.dk.pointer, inp: x.xn1.pointer)
            _ = product(.v, t, dout: a.dv.pointer, inp: x.xn1.pointer)
        default:
            let gain = kind == 2 ? o.mlpNorm : o.attnNorm
            RMSNorm.reduce(task: task, dweight: grad(gain)!, partials: a.normPartials[kind == 2 ? 0 : 1].pointer, M: M, C: config.hiddenSize)
        }
    }
}
