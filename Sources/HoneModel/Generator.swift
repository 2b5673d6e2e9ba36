import Foundation
import HoneBase
import HoneTensor

/// Inference with a KV cache: each new token costs one row through the decoder, attending to
/// the keys and values cached for the positions before it. Same weights, same kernels as
/// `Model`; the attention over the cache is its own short loop.
public final class Generator {
    public let model: Model
    let c: ModelConfig
    /// Per layer, for positions 0..<capacity: keys transposed, [kvHeads, headDim, pos] with
    /// rows `keyStride` apart, so a query's scores over the positions run along contiguous memory
    /// (a vector loop that keeps each position's sum in order); values [pos, kvHeads, headDim].
    private(set) var keys: [Buffer], values: [Buffer]
    /// capacity plus 16: rows a power of two apart (32 KB for 8,192 positions) all fall in the
    /// same L1 sets, and the 64 rows a score reads evicted each other (perf: stalls on loads).
    private(set) var keyStride: Int
    /// Positions the cache holds now. It starts at `initialCapacity` and doubles as sequences
    /// grow, up to the model's maxPositions: memory follows what is fed, not the context the
    /// model allows (SmolLM2's 8,192 positions were 380 MB of keys and values for a 320-token
    /// generation). No stride, chunk or task depends on it, so neither do the bits.
    public private(set) var capacity: Int
    public static let initialCapacity = 512
    /// Positions filled so far.
    public private(set) var length = 0
    let chunk: Int
    // Scratch for up to `chunk` rows at a time.
    let x: Buffer, xn: Buffer, q: Buffer, k: Buffer, v: Buffer, att: Buffer, o: Buffer
    let gate: Buffer, up: Buffer, h: Buffer, rstd: Buffer
    /// Attention scores for up to `chunk` rows over `capacity` positions.
    private var scores: Buffer
    public let logits: Buffer
    /// LoRA's branch buffers, for a model with adapters.
    let lora: LoRAActivations?
    /// A bottleneck adapter's buffers (nil without adapters).
    let adapter: AdapterActivations?
    /// Weights kept in blocks, read by products of up to `blockRows` rows.
    let blocks: BlockWeights?

    /// Products of this many rows or fewer read `blocks` where there are some: a token's pass
    /// reads each weight once, so fewer bytes a weight is what makes it faster. Longer chunks
    /// (a prompt) are matrix products, where the fp32 weights and sgemm win.
    public static let blockRows = 4

    /// `blocks` defaults to a QLoRA base's own; `capacity` is the cache's first size.
    public init(model: Model, chunk: Int = 256, blocks: BlockWeights? = nil, capacity: Int = initialCapacity) {
        self.model = model
        self.blocks = blocks ?? model.quantized.map(BlockWeights.init)
        if let b = self.blocks {
            precondition(b.fits(model.config), "block weights do not match the model's shapes")
        }
        let c = model.config
        self.c = c
        self.chunk = chunk
        let kvWidth = c.kv * c.headDim, d = c.hiddenSize
        self.capacity = max(1, min(capacity, c.maxPositions))
        keyStride = self.capacity + 16
        keys = (0..<c.layers).map { [keyStride] _ in Buffer(keyStride * kvWidth) }
        values = (0..<c.layers).map { [capacity = self.capacity] _ in Buffer(capacity * kvWidth) }
        x = Buffer(chunk * d); xn = Buffer(chunk * d); o = Buffer(chunk * d); rstd = Buffer(chunk)
        q = Buffer(chunk * c.heads * c.headDim); att = Buffer(chunk * c.heads * c.headDim)
        k = Buffer(chunk * kvWidth); v = Buffer(chunk * kvWidth)
        gate = Buffer(chunk * c.ffn); up = Buffer(chunk * c.ffn); h = Buffer(chunk * c.ffn)
        scores = Buffer(CachedAttention.scoresCount(rows: chunk, heads: c.heads, positions: self.capacity))
        logits = Buffer(chunk * c.vocabSize)
        lora = model.lora.map { LoRAActivations($0, M: chunk) }
        adapter = c.adapterSize > 0 ? AdapterActivations(M: chunk, d: d, m: c.adapterSize) : nil
    }

    /// outs[i] = inp · Wᵀ for projections ps[i] of layer l, which share the input, each plus its
    /// LoRA branch (no dropout). Few rows read the blocks, in one set of tasks for all of ps.
    private func project(_ l: Int, _ ps: [Projection], outs: [Buffer], inp: Buffer, rows n: Int) {
        if n <= Self.blockRows, let blocks, case let matrices = ps.compactMap({ blocks.projections[l][$0.index] }), matrices.count == ps.count {
            BlockMatmul.forward(zip(outs, matrices).map { ($0.pointer, $1) }, inp: inp.pointer, M: n, threads: model.threads)
        } else {
            for (p, out) in zip(ps, outs) {
                let s = p.shape(c)
                Matmul.forward(out: out.pointer, inp: inp.pointer, weight: model.weight(l, p), bias: nil, M: n, K: s.in, N: s.out, threads: model.threads)
            }
        }
        for (p, out) in zip(ps, outs) {
            if let adapters = model.lora, let slot = adapters.slot(l, p), let la = lora, let v = la.v[l][p.index] {
                adapters.forward(slot, out: out.pointer, inp: inp.pointer, v: v, M: n, la, dropout: nil, threads: model.threads)
            }
        }
    }

    public func reset() { length = 0 }

    /// Grows the cache to hold `positions` (at least doubling, at most maxPositions), keeping
    /// the filled positions.
    private func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        let grown = min(c.maxPositions, max(positions, 2 * capacity)), stride = grown + 16, kvWidth = c.kv * c.headDim
        keys = keys.map { old in
            let new = Buffer(stride * kvWidth)
            for f in 0..<kvWidth { (new.pointer + f * stride).update(from: old.pointer + f * keyStride, count: length) }
            return new
        }
        values = values.map { old in
            let new = Buffer(grown * kvWidth)
            new.pointer.update(from: old.pointer, count: length * kvWidth)
            return new
        }
        scores = Buffer(CachedAttention.scoresCount(rows: chunk, heads: c.heads, positions: grown))
        capacity = grown
        keyStride = stride
    }

    /// Forgets every position from n on: the next feed continues after position n − 1 (scoring
    /// several continuations of one prompt without feeding the prompt again).
    public func rewind(to n: Int) {
        precondition(n <= length && (n == 0 || n >= c.virtualTokens), "cannot rewind forward, or into the virtual tokens")
        length = n
    }

    /// A response to `prompt` from the start of the context: tokens picked by `sampler` until a
    /// stop token (kept, last) or `maxNewTokens`.
    public func respond(to prompt: [Int32], sampler: inout Sampler, maxNewTokens: Int, stop: [Int32]) throws -> [Int32] {
        reset()
        var logits = try feed(prompt)
        var response: [Int32] = []
        while true {
            let token = Int32(sampler.pick(logits[...]))
            response.append(token)
            if stop.contains(token) || response.count >= maxNewTokens || length >= c.maxPositions { return response }
            logits = try feed([token])
        }
    }

    /// The cached key and value (after the rotary embedding) of layer l at a filled position:
    /// kv heads × head dimension each.
    public func cached(layer l: Int, position: Int) -> (key: [Float], value: [Float]) {
        precondition(position < length, "position \(position) is not filled")
        let w = c.kv * c.headDim
        let key = (0..<w).map { keys[l][$0 * keyStride + position] }
        return (key, Array(UnsafeBufferPointer(start: values[l].pointer + position * w, count: w)))
    }

    /// Feeds `tokens` at positions length..<length + n and returns the logits of the last one
    /// (`allLogits`: of every one, row after row). Throws when the model's context is full.
    /// A model with virtual tokens (prompt tuning) gets them first, at positions 0..<P.
    public func feed(_ tokens: [Int32], allLogits: Bool = false) throws -> [Float] {
        let P = length == 0 ? c.virtualTokens : 0
        guard length + P + tokens.count <= c.maxPositions else {
            throw ModelError.config("the sequence would pass the model's \(c.maxPositions) positions (max_position_embeddings)")
        }
        reserve(length + P + tokens.count)
        var i = 0
        while i < P {
            let n = min(chunk, P - i)
            _ = forward(Array(repeating: 0, count: n), prompt: i, logitsFor: n..<n)
            i += n
        }
        var out: [Float] = []
        i = 0
        while i < tokens.count {
            let n = min(chunk, tokens.count - i)
            let last = i + n == tokens.count
            let rows = forward(Array(tokens[i..<(i + n)]), prompt: nil, logitsFor: allLogits ? 0..<n : (last ? (n - 1)..<n : n..<n))
            out += rows
            i += n
        }
        return out
    }

    /// One chunk of n rows — tokens, or the virtual tokens from `prompt` on (their count is
    /// tokens.count) —; returns the logits of the rows in `logitsFor`.
    private func forward(_ tokens: [Int32], prompt: Int?, logitsFor: Range<Int>) -> [Float] {
        let n = tokens.count, d = c.hiddenSize, hd = c.headDim, kvWidth = c.kv * hd, w = model.weights.pointer
        let threads = model.threads, start = length
        if let prompt {
            if c.prefixTuning { x.zero() } else { x.pointer.update(from: w + model.promptOffset + prompt * d, count: n * d) }
        } else {
            tokens.withUnsafeBufferPointer { t in
                if let base = t.baseAddress {
                    Embedding.forward(out: x.pointer, tokens: base, table: w + model.embedOffset, M: n, C: d, threads: threads)
                }
            }
        }
        for l in 0..<c.layers {
            let off = model.offsets[l]
            RMSNorm.forward(out: xn.pointer, rstd: rstd.pointer, inp: x.pointer, weight: w + off.attnNorm, M: n, C: d, eps: c.normEps, threads: threads)
            project(l, [.q, .k, .v], outs: [q, k, v], inp: xn, rows: n)
            RoPE.apply(q.pointer, B: 1, T: n, heads: c.heads, D: hd, cos: model.rope.cos, sin: model.rope.sin, start: start, threads: threads)
            RoPE.apply(k.pointer, B: 1, T: n, heads: c.kv, D: hd, cos: model.rope.cos, sin: model.rope.sin, start: start, threads: threads)
            if c.prefixTuning, let prompt {
                // The virtual rows' keys and values are the prefix (rows prompt..<prompt + n of it).
                PrefixTuning.insert(k: k.pointer, v: v.pointer, prefix: w + model.prefixOffset + prompt * PrefixTuning.width(c), layer: l,
                                    sequences: 1, S: n, P: n, kvWidth: kvWidth, row: PrefixTuning.width(c))
            }
            let P = keyStride, K = keys[l].pointer, V = values[l].pointer
            for r in 0..<n {
                for f in 0..<kvWidth { K[f * P + start + r] = k[r * kvWidth + f] }
            }
            (V + start * kvWidth).update(from: v.pointer, count: n * kvWidth)
            CachedAttention.forward(out: att.pointer, q: q.pointer, keys: K, keyStride: P, values: V, scores: scores.pointer, scoreStride: capacity,
                                    start: start, rows: n, heads: c.heads, kvHeads: c.kv, D: hd, threads: threads)
            project(l, [.o], outs: [o], inp: att, rows: n)
            for i in 0..<(n * d) { x[i] += o[i] }
            RMSNorm.forward(out: xn.pointer, rstd: rstd.pointer, inp: x.pointer, weight: w + off.mlpNorm, M: n, C: d, eps: c.normEps, threads: threads)
            project(l, [.gate, .up], outs: [gate, up], inp: xn, rows: n)
            SwiGLU.forward(out: h.pointer, gate: gate.pointer, up: up.pointer, count: n * c.ffn, threads: threads)
            project(l, [.down], outs: [o], inp: h, rows: n)
            if let offsets = off.adapter, let adapter {
                BottleneckAdapter.forward(o.pointer, offsets, weights: w, adapter, M: n, d: d, m: c.adapterSize, threads: threads)
            }
            for i in 0..<(n * d) { x[i] += o[i] }
        }
        length += n
        guard !logitsFor.isEmpty else { return [] }
        let rows = logitsFor.count
        RMSNorm.forward(out: xn.pointer, rstd: rstd.pointer, inp: x.pointer + logitsFor.lowerBound * d, weight: w + model.normOffset,
                        M: rows, C: d, eps: c.normEps, threads: threads)
        if rows <= Self.blockRows, let head = blocks?.head {
            BlockMatmul.forward(out: logits.pointer, inp: xn.pointer, matrix: head, M: rows, threads: threads)
        } else {
            Matmul.forward(out: logits.pointer, inp: xn.pointer, weight: w + model.headOffset, bias: nil, M: rows, K: d, N: c.vocabSize, threads: threads)
        }
        return Array(UnsafeBufferPointer(start: logits.pointer, count: rows * c.vocabSize))
    }
}

/// How the next token is picked from the logits: greedy when temperature is 0, else sampled
/// from softmax(logits / temperature) restricted to the top k and the top-p nucleus, with a
/// counter-based stream (the same seed gives the same text).
public struct Sampler {
    public var temperature: Double = 0
    public var topK: Int = 0
    public var topP: Double = 1
    var rng: CounterRNG

    public init(temperature: Double, topK: Int, topP: Double, seed: UInt64) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
        rng = CounterRNG(key: seed)
    }

    public mutating func pick(_ logits: ArraySlice<Float>) -> Int {
        let base = logits.startIndex
        guard temperature > 0 else {
            var best = base
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return best - base
        }
        var order = Array(0..<logits.count).sorted { logits[base + $0] > logits[base + $1] || (logits[base + $0] == logits[base + $1] && $0 < $1) }
        if topK > 0 { order = Array(order.prefix(topK)) }
        let mx = Double(logits[base + order[0]])
        var probs = order.map { exp((Double(logits[base + $0]) - mx) / temperature) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if topP < 1 {
            var cum = 0.0, keep = 0
            while keep < probs.count { cum += probs[keep]; keep += 1; if cum >= topP { break } }
            order = Array(order.prefix(keep)); probs = Array(probs.prefix(keep))
        }
        let mass = probs.reduce(0, +)
        var u = rng.nextDouble() * mass
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return order[i] }
        }
        return order[order.count - 1]
    }
}
