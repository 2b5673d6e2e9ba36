import Foundation
import HoneBase
import HoneTensor
import Testing

/// The KV-cache attention's kernels against the scalar loops they replace, bit for bit.
@Suite struct CachedAttentionTests {
    /// The attention helpers compute every value in the scalar loops' order, so they give the
    /// scalar loops' bits: head sizes that are not multiples of 8 or 16, one and three heads per
    /// kv head, position ranges that end off a 16 boundary and span several 64-position chunks.
    @Test(arguments: [(20, 1, 0..<150), (72, 3, 5..<37), (64, 3, 0..<300)])
    func attentionHelpersGiveTheScalarLoopsBits(_ D: Int, _ group: Int, _ positions: Range<Int>) {
        var rng = CounterRNG(key: 31)
        let P = positions.upperBound + 16, R = positions.upperBound, kvWidth = D + 3
        let keys = (0..<(D * P)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        let values = (0..<(R * kvWidth)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        let q = (0..<(group * D)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var p = [Float](repeating: 0, count: group * R), a = [Float](repeating: 0, count: group * D)
        p.withUnsafeMutableBufferPointer { p in
            CachedAttention.scores(p.baseAddress!, rowStride: R, q: q, keys: keys, stride: P, positions: positions, D: D, group: group)
        }
        for g in 0..<group {
            for u in positions {
                var dot: Float = 0
                for j in 0..<D { dot += q[g * D + j] * keys[j * P + u] }
                #expect(p[g * R + u].bitPattern == dot.bitPattern, "score \(g), \(u)")
            }
        }
        // Softmax and mix over 0..<n, from the helper's scores and from scalar loops.
        let n = positions.upperBound
        for g in 0..<group { for u in 0..<positions.lowerBound { p[g * R + u] = Float(u % 7) - 3 } }
        var expected = p
        p.withUnsafeMutableBufferPointer { p in
            for g in 0..<group { CachedAttention.softmax(p.baseAddress! + g * R, scale: 0.125, positions: n) }
        }
        a.withUnsafeMutableBufferPointer { a in
            p.withUnsafeBufferPointer { p in
                CachedAttention.mix(a.baseAddress!, weights: p.baseAddress!, rowStride: R, values: values, stride: kvWidth, positions: n, D: D, group: group)
            }
        }
        for g in 0..<group {
            var mx = -Float.infinity, sum: Float = 0
            for u in 0..<n { expected[g * R + u] *= 0.125; mx = max(mx, expected[g * R + u]) }
            for u in 0..<n { expected[g * R + u] = exp(expected[g * R + u] - mx); sum += expected[g * R + u] }
            for j in 0..<D {
                var acc: Float = 0
                for u in 0..<n { acc += (expected[g * R + u] / sum) * values[u * kvWidth + j] }
                #expect(a[g * D + j].bitPattern == acc.bitPattern, "mix \(g), \(j)")
            }
        }
    }
}
