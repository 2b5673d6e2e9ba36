import Foundation
import HoneBase
import HoneTensor
import Testing

/// Shapes and causal-skip block sizes the reference and finite-difference checks run on.
/// T 7 in one block (the whole T×T products), T 7 in blocks of 3 ([0, 3), [3, 6), [6, 7):
/// skipped, partial and short blocks), and T 150 in the blocks training uses (64, 64, 22).
/// GQA throughout: three query heads per kv head.
let attentionCases = [(Attention.Shape(B: 2, T: 7, H: 6, Hkv: 2, D: 8), Attention.block),
                      (Attention.Shape(B: 2, T: 7, H: 6, Hkv: 2, D: 8), 3),
                      (Attention.Shape(B: 1, T: 150, H: 3, Hkv: 1, D: 8), Attention.block)]

@Suite struct AttentionTests {

    /// Double-precision causal attention with GQA, the reference the fast path is checked against.
    func reference(_ q: Buffer, _ k: Buffer, _ v: Buffer, _ s: Attention.Shape) -> [Double] {
        var out = [Double](repeating: 0, count: s.B * s.T * s.H * s.D)
        for b in 0..<s.B { for h in 0..<s.H {
            let kvh = h / (s.H / s.Hkv)
            for t in 0..<s.T {
                var scores = (0...t).map { u in
                    (0..<s.D).reduce(0.0) { $0 + Double(q[((b * s.T + t) * s.H + h) * s.D + $1]) * Double(k[((b * s.T + u) * s.Hkv + kvh) * s.D + $1]) }
                        / Double(s.D).squareRoot()
                }
                let mx = scores.max() ?? 0
                scores = scores.map { Foundation.exp($0 - mx) }
                let sum = scores.reduce(0, +)
                for u in 0...t { for d in 0..<s.D {
                    out[((b * s.T + t) * s.H + h) * s.D + d] += scores[u] / sum * Double(v[((b * s.T + u) * s.Hkv + kvh) * s.D + d])
                } }
            }
        } }
        return out
    }

    @Test(arguments: attentionCases)
    func forwardMatchesTheReferenceAndIsCausal(s: Attention.Shape, block: Int) {
        let q = random(s.B * s.T * s.H * s.D, key: 60, std: 1), k = random(s.B * s.T * s.Hkv * s.D, key: 61, std: 1)
        let v = random(s.B * s.T * s.Hkv * s.D, key: 62, std: 1)
        let out = Buffer(q.count), probs = Buffer(s.B * s.H * s.T * s.T)
        Attention.forward(out: out.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer, s, block: block, threads: 2)
        let ref = reference(q, k, v, s)
        #expect((0..<out.count).allSatisfy { abs(Double(out[$0]) - ref[$0]) < 1e-5 })
        // Changing the last position's key leaves every earlier output alone.
        k[((0 * s.T + s.T - 1) * s.Hkv + 0) * s.D] += 5
        let out2 = Buffer(q.count)
        Attention.forward(out: out2.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer, s, block: block, threads: 2)
        #expect((0..<((s.T - 1) * s.H * s.D)).allSatisfy { out[$0] == out2[$0] })
    }

    @Test(arguments: attentionCases)
    func backwardMatchesFiniteDifferencesForQKAndV(s: Attention.Shape, block: Int) {
        let q = random(s.B * s.T * s.H * s.D, key: 70, std: 1), k = random(s.B * s.T * s.Hkv * s.D, key: 71, std: 1)
        let v = random(s.B * s.T * s.Hkv * s.D, key: 72, std: 1), r = random(q.count, key: 73, std: 1)
        let out = Buffer(q.count), probs = Buffer(s.B * s.H * s.T * s.T)
        let dq = Buffer(q.count), dk = Buffer(k.count), dv = Buffer(v.count)
        Attention.forward(out: out.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer, s, block: block, threads: 2)
        // The scratch must outlive the call: a temporary Buffer could be freed before it runs.
        let scratch = Buffer(s.scratchCount)
        withExtendedLifetime(scratch) {
            Attention.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dout: r.pointer, probs: probs.pointer,
                               q: q.pointer, k: k.pointer, v: v.pointer, scratch: scratch.pointer, s, block: block, threads: 2)
        }
        func loss() -> Double { zip(reference(q, k, v, s), (0..<r.count).map { Double(r[$0]) }).reduce(0) { $0 + $1.0 * $1.1 } }
        var rng = CounterRNG(key: 74)
        for (x, g, name) in [(q, dq, "dq"), (k, dk, "dk"), (v, dv, "dv")] {
            expectGradient(name, x, g, samples: 10, tolerance: 2e-3, floor: 1e-2, rng: &rng, loss: loss)
        }
    }

    @Test func ropeBackwardIsTheInverseRotationAndKeepsNorms() {
        let B = 2, T = 5, heads = 3, D = 8
        let x = random(B * T * heads * D, key: 80, std: 1)
        let original = Array(x.buffer)
        let (c, sn) = RoPE.tables(T: T, D: D, theta: 10_000)
        RoPE.apply(x.pointer, B: B, T: T, heads: heads, D: D, cos: c, sin: sn, threads: 2)
        // Position 0 is not turned; every vector keeps its length.
        #expect((0..<(heads * D)).allSatisfy { x[$0] == original[$0] })
        for v in 0..<(B * T * heads) {
            let a = (0..<D).reduce(Float(0)) { $0 + x[v * D + $1] * x[v * D + $1] }
            let b = (0..<D).reduce(Float(0)) { $0 + original[v * D + $1] * original[v * D + $1] }
            #expect(abs(a - b) < 1e-4)
        }
        RoPE.apply(x.pointer, B: B, T: T, heads: heads, D: D, cos: c, sin: sn, inverse: true, threads: 2)
        #expect((0..<x.count).allSatisfy { abs(x[$0] - original[$0]) < 1e-5 })
    }

    /// Forward and backward outputs, as bit patterns, on `threads` threads with blocks of `block`;
    /// `probs` and the backward's scratch start filled with `fill`.
    func bits(_ s: Attention.Shape, key: UInt64, block: Int, threads: Int, fill: Float = 0) -> [UInt32] {
        let q = random(s.B * s.T * s.H * s.D, key: key, std: 1), k = random(s.B * s.T * s.Hkv * s.D, key: key + 1, std: 1)
        let v = random(s.B * s.T * s.Hkv * s.D, key: key + 2, std: 1), r = random(q.count, key: key + 3, std: 1)
        let out = Buffer(q.count), probs = Buffer(s.B * s.H * s.T * s.T)
        let dq = Buffer(q.count), dk = Buffer(k.count), dv = Buffer(v.count)
        let scratch = Buffer(s.scratchCount)
        probs.pointer.update(repeating: fill, count: probs.count)
        scratch.pointer.update(repeating: fill, count: scratch.count)
        Attention.forward(out: out.pointer, probs: probs.pointer, q: q.pointer, k: k.pointer, v: v.pointer, s,
                          block: block, threads: threads)
        withExtendedLifetime(scratch) {
            Attention.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dout: r.pointer, probs: probs.pointer,
                               q: q.pointer, k: k.pointer, v: v.pointer, scratch: scratch.pointer, s, block: block, threads: threads)
        }
        return (Array(out.buffer) + Array(dq.buffer) + Array(dk.buffer) + Array(dv.buffer)).map(\.bitPattern)
    }

    /// One block and several (T 200: 64, 64, 64, 8).
    @Test(arguments: [Attention.Shape(B: 2, T: 7, H: 6, Hkv: 2, D: 8), Attention.Shape(B: 2, T: 200, H: 4, Hkv: 2, D: 16)])
    func attentionGivesTheSameBitsOnOneAndTwoThreads(s: Attention.Shape) {
        #expect(bits(s, key: 90, block: Attention.block, threads: 1) == bits(s, key: 90, block: Attention.block, threads: 2))
    }

    /// The probabilities and scores past each query block's end are never written, so they must
    /// never be read: starting them as NaN changes no bit of any output (one NaN read would
    /// spread through a product). Blocks of 3 on T 7 and of 64 on T 200.
    @Test(arguments: [(Attention.Shape(B: 2, T: 7, H: 6, Hkv: 2, D: 8), 3), (Attention.Shape(B: 2, T: 200, H: 4, Hkv: 2, D: 16), Attention.block)])
    func attentionNeverReadsPastABlocksEnd(s: Attention.Shape, block: Int) {
        let poisoned = bits(s, key: 95, block: block, threads: 2, fill: .nan), clean = bits(s, key: 95, block: block, threads: 2)
        let differing = zip(poisoned, clean).filter { $0 != $1 }.count
        #expect(poisoned.count == clean.count && differing == 0)
    }
}
