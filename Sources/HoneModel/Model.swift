import HoneTensor

/// The Llama decoder: embedding → layers of [RMSNorm → rotary GQA attention → residual,
/// RMSNorm → SwiGLU MLP → residual] → final RMSNorm → heads (LM head, tied or not, and an
/// optional scalar head). Forward and backward are written out by hand, layer by layer, in the
/// order llm.c lays them out; every matmul is a `Matmul` (sgemm) call.
///
/// Weights and gradients are flat buffers in `layout`'s order. Gradients accumulate (+=) across
/// backward calls until the optimizer zeroes them, which is what gradient accumulation needs.
public final class Model {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let weights: Buffer
    public let grads: Buffer
    public var threads: Int
    let rope: (cos: [Float], sin: [Float])
    let offsets: [LayerOffsets]

    struct LayerOffsets {
        let attnNorm, q, k, v, o, mlpNorm, gate, up, down: Int
    }

    public init(config: ModelConfig, weights: Buffer, threads: Int = 1) {
        precondition(config.problem == nil, config.problem ?? "")
        self.config = config
        layout = ParameterLayout(config)
        precondition(weights.count == layout.count, "weights do not match the config's layout")
        self.weights = weights
        grads = Buffer(layout.count)
        self.threads = threads
        rope = RoPE.tables(T: config.maxPositions, D: config.headDim, theta: config.ropeTheta)
        let layout = self.layout
        offsets = (0..<config.layers).map { l in
            let p = "model.layers.\(l)."
            return LayerOffsets(attnNorm: layout.offset(p + "input_layernorm.weight"), q: layout.offset(p + "self_attn.q_proj.weight"),
                                k: layout.offset(p + "self_attn.k_proj.weight"), v: layout.offset(p + "self_attn.v_proj.weight"),
                                o: layout.offset(p + "self_attn.o_proj.weight"), mlpNorm: layout.offset(p + "post_attention_layernorm.weight"),
                                gate: layout.offset(p + "mlp.gate_proj.weight"), up: layout.offset(p + "mlp.up_proj.weight"),
                                down: layout.offset(p + "mlp.down_proj.weight"))
        }
    }

    var embedOffset: Int { 0 }
    var normOffset: Int { layout.offset("model.norm.weight") }
    var headOffset: Int { config.tiedEmbeddings ? 0 : layout.offset("lm_head.weight") }
    var scoreOffset: Int { layout.offset("score.weight") }

    /// Dropout draws for one pass: the stream key and the pass's index (step · micro-batches +
    /// micro-batch), so a resumed run draws the same masks. nil: no dropout (evaluation).
    public struct DropoutDraw {
        public let key: UInt64
        public let pass: UInt64
        public init(key: UInt64, pass: UInt64) { self.key = key; self.pass = pass }
    }

    /// Runs the decoder over `a.tokens` up to the final norm (`a.final`).
    public func forward(_ a: Activations, dropout: DropoutDraw? = nil) {
        let c = config, M = a.M, d = c.hiddenSize, hd = c.headDim, w = weights.pointer
        let shape = Attention.Shape(B: a.B, T: a.T, H: c.heads, Hkv: c.kv, D: hd)
        Embedding.forward(out: a.resid[0].pointer, tokens: a.tokens, table: w + embedOffset, M: M, C: d, threads: threads)
        for l in 0..<c.layers {
            let o = offsets[l], x = a.layers[l], inp = a.resid[l].pointer, out = a.resid[l + 1].pointer
            RMSNorm.forward(out: x.xn1.pointer, rstd: x.rstd1.pointer, inp: inp, weight: w + o.attnNorm, M: M, C: d, eps: c.normEps, threads: threads)
            Matmul.forward(out: x.q.pointer, inp: x.xn1.pointer, weight: w + o.q, bias: nil, M: M, K: d, N: c.heads * hd, threads: threads)
            Matmul.forward(out: x.k.pointer, inp: x.xn1.pointer, weight: w + o.k, bias: nil, M: M, K: d, N: c.kv * hd, threads: threads)
            Matmul.forward(out: x.v.pointer, inp: x.xn1.pointer, weight: w + o.v, bias: nil, M: M, K: d, N: c.kv * hd, threads: threads)
            RoPE.apply(x.q.pointer, B: a.B, T: a.T, heads: c.heads, D: hd, cos: rope.cos, sin: rope.sin, threads: threads)
            RoPE.apply(x.k.pointer, B: a.B, T: a.T, heads: c.kv, D: hd, cos: rope.cos, sin: rope.sin, threads: threads)
            Attention.forward(out: x.att.pointer, probs: x.probs.pointer, q: x.q.pointer, k: x.k.pointer, v: x.v.pointer, shape, threads: threads)
            Matmul.forward(out: x.mid.pointer, inp: x.att.pointer, weight: w + o.o, bias: nil, M: M, K: c.heads * hd, N: d, threads: threads)
            if let dropout { drop(x.mid, mask: x.mask1, dropout, site: 2 * l) }
            add(x.mid.pointer, inp, M * d)
            RMSNorm.forward(out: x.xn2.pointer, rstd: x.rstd2.pointer, inp: x.mid.pointer, weight: w + o.mlpNorm, M: M, C: d, eps: c.normEps, threads: threads)
            Matmul.forward(out: x.gate.pointer, inp: x.xn2.pointer, weight: w + o.gate, bias: nil, M: M, K: d, N: c.ffn, threads: threads)
            Matmul.forward(out: x.up.pointer, inp: x.xn2.pointer, weight: w + o.up, bias: nil, M: M, K: d, N: c.ffn, threads: threads)
            SwiGLU.forward(out: x.h.pointer, sigmoid: x.sig.pointer, gate: x.gate.pointer, up: x.up.pointer, count: M * c.ffn, threads: threads)
            Matmul.forward(out: out, inp: x.h.pointer, weight: w + o.down, bias: nil, M: M, K: c.ffn, N: d, threads: threads)
            if let dropout { drop(a.resid[l + 1], mask: x.mask2, dropout, site: 2 * l + 1) }
            add(out, x.mid.pointer, M * d)
        }
        RMSNorm.forward(out: a.final.pointer, rstd: a.finalRstd.pointer, inp: a.resid[c.layers].pointer, weight: w + normOffset,
                        M: M, C: d, eps: c.normEps, threads: threads)
    }

    private func drop(_ x: Buffer, mask: Buffer, _ draw: DropoutDraw, site: Int) {
        let n = UInt64(x.count)
        let offset = (draw.pass * UInt64(2 * config.layers) + UInt64(site)) * n
        Dropout.forward(x.pointer, mask: mask.pointer, count: x.count, p: config.dropout, key: draw.key, offset: offset, threads: threads)
    }

    private func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
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
        Matmul.backward(dinp: a.dfinal.pointer, dweight: grads.pointer + headOffset, dbias: nil, dout: a.dlogits.pointer,
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
        Matmul.backward(dinp: a.dfinal.pointer, dweight: grads.pointer + scoreOffset, dbias: nil, dout: a.dscores.pointer,
                        inp: a.final.pointer, weight: weights.pointer + scoreOffset, M: a.M, K: config.hiddenSize, N: 1, threads: threads)
    }

    // MARK: backward

    /// From `a.dfinal` (which the heads filled) back to every weight's gradient. Clears dfinal.
    public func backward(_ a: Activations) {
        let c = config, M = a.M, d = c.hiddenSize, hd = c.headDim, w = weights.pointer, g = grads.pointer
        let shape = Attention.Shape(B: a.B, T: a.T, H: c.heads, Hkv: c.kv, D: hd)
        a.dres.zero()
        RMSNorm.backward(dinp: a.dres.pointer, dweight: g + normOffset, dout: a.dfinal.pointer, inp: a.resid[c.layers].pointer,
                         weight: w + normOffset, rstd: a.finalRstd.pointer, M: M, C: d, threads: threads)
        a.dfinal.zero()
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let o = offsets[l], x = a.layers[l]
            // MLP branch: resid[l+1] = mid + drop(h · Wdownᵀ).
            var branch = UnsafePointer(a.dres.pointer)
            if c.dropout > 0 {
                Dropout.backward(out: a.dbranch.pointer, dout: a.dres.pointer, mask: x.mask2.pointer, count: M * d)
                branch = UnsafePointer(a.dbranch.pointer)
            }
            Matmul.backward(dinp: a.dh.pointer, dweight: g + o.down, dbias: nil, dout: branch, inp: x.h.pointer, weight: w + o.down,
                            M: M, K: c.ffn, N: d, accumulateInput: false, threads: threads)
            SwiGLU.backward(dgate: a.dgate.pointer, dup: a.dup.pointer, dout: a.dh.pointer, gate: x.gate.pointer, up: x.up.pointer,
                            sigmoid: x.sig.pointer, count: M * c.ffn, threads: threads)
            Matmul.backward(dinp: a.dxn.pointer, dweight: g + o.gate, dbias: nil, dout: a.dgate.pointer, inp: x.xn2.pointer,
                            weight: w + o.gate, M: M, K: d, N: c.ffn, accumulateInput: false, threads: threads)
            Matmul.backward(dinp: a.dxn.pointer, dweight: g + o.up, dbias: nil, dout: a.dup.pointer, inp: x.xn2.pointer,
                            weight: w + o.up, M: M, K: d, N: c.ffn, threads: threads)
            RMSNorm.backward(dinp: a.dres.pointer, dweight: g + o.mlpNorm, dout: a.dxn.pointer, inp: x.mid.pointer,
                             weight: w + o.mlpNorm, rstd: x.rstd2.pointer, M: M, C: d, threads: threads)
            // Attention branch: mid = resid[l] + drop(att · Woᵀ).
            branch = UnsafePointer(a.dres.pointer)
            if c.dropout > 0 {
                Dropout.backward(out: a.dbranch.pointer, dout: a.dres.pointer, mask: x.mask1.pointer, count: M * d)
                branch = UnsafePointer(a.dbranch.pointer)
            }
            Matmul.backward(dinp: a.datt.pointer, dweight: g + o.o, dbias: nil, dout: branch, inp: x.att.pointer, weight: w + o.o,
                            M: M, K: c.heads * hd, N: d, accumulateInput: false, threads: threads)
            Attention.backward(dq: a.dq.pointer, dk: a.dk.pointer, dv: a.dv.pointer, dout: a.datt.pointer, probs: x.probs.pointer,
                               q: x.q.pointer, k: x.k.pointer, v: x.v.pointer, scratch: a.attnScratch.pointer, shape, threads: threads)
            RoPE.apply(a.dq.pointer, B: a.B, T: a.T, heads: c.heads, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
            RoPE.apply(a.dk.pointer, B: a.B, T: a.T, heads: c.kv, D: hd, cos: rope.cos, sin: rope.sin, inverse: true, threads: threads)
            Matmul.backward(dinp: a.dxn.pointer, dweight: g + o.q, dbias: nil, dout: a.dq.pointer, inp: x.xn1.pointer, weight: w + o.q,
                            M: M, K: d, N: c.heads * hd, accumulateInput: false, threads: threads)
            Matmul.backward(dinp: a.dxn.pointer, dweight: g + o.k, dbias: nil, dout: a.dk.pointer, inp: x.xn1.pointer, weight: w + o.k,
                            M: M, K: d, N: c.kv * hd, threads: threads)
            Matmul.backward(dinp: a.dxn.pointer, dweight: g + o.v, dbias: nil, dout: a.dv.pointer, inp: x.xn1.pointer, weight: w + o.v,
                            M: M, K: d, N: c.kv * hd, threads: threads)
            RMSNorm.backward(dinp: a.dres.pointer, dweight: g + o.attnNorm, dout: a.dxn.pointer, inp: a.resid[l].pointer,
                             weight: w + o.attnNorm, rstd: x.rstd1.pointer, M: M, C: d, threads: threads)
        }
        Embedding.backward(dtable: g + embedOffset, dout: a.dres.pointer, tokens: a.tokens, M: M, C: d, threads: threads)
    }
}
