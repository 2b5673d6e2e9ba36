import CFastMath
import HoneBase
import Testing

/// CFastMath's Adam(W) update gives, on its AVX2 path and its portable one, the bits of the
/// update written out in Swift in the same order (what HoneTrain's Optimizer ran before), for
/// lengths with and without a tail past the eight-lane blocks, AdamW and Adam with L2.
@Suite struct AdamKernelTests {
    func reference(_ p: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float], _ a: hone_adam) {
        for i in p.indices {
            var gi = g[i]
            if a.decoupled != 0 { p[i] *= a.decay } else { gi += a.wd * p[i] }
            m[i] = a.b1 * m[i] + a.c1 * gi
            v[i] = a.b2 * v[i] + a.c2 * gi * gi
            p[i] -= a.step_size * m[i] / (v[i].squareRoot() / a.bc2_root + a.eps)
        }
    }

    @Test func bothPathsGiveTheBitsOfTheUpdateInOrder() {
        var rng = CounterRNG(key: 11)
        for n in [0, 1, 7, 8, 9, 31, 100] {
            for decoupled: Int32 in [0, 1] {
                let lr: Float = 3e-3, wd: Float = 0.1
                var a = hone_adam(decoupled: decoupled, decay: 1 - lr * wd, wd: wd, b1: 0.9, b2: 0.95, c1: 1 - 0.9, c2: 1 - 0.95,
                                  step_size: lr / 0.19, bc2_root: Float(0.0975).squareRoot(), eps: 1e-8)
                let p0 = (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) }, g = (0..<n).map { _ in Float(rng.nextDouble() * 0.2 - 0.1) }
                let m0 = (0..<n).map { _ in Float(rng.nextDouble() * 0.02 - 0.01) }, v0 = (0..<n).map { _ in Float(rng.nextDouble() * 1e-3) }
                func kernel() -> [UInt32] {
                    var p = p0, m = m0, v = v0
                    hone_adam_update(&p, g, &m, &v, n, &a)
                    return (p + m + v).map(\.bitPattern)
                }
                var p = p0, m = m0, v = v0
                reference(&p, g, &m, &v, a)
                let expected = (p + m + v).map(\.bitPattern)
                #expect(kernel() == expected, "n \(n), decoupled \(decoupled), fast path")
                hone_fastmath_allow_simd(0)
                #expect(kernel() == expected, "n \(n), decoupled \(decoupled), portable path")
                hone_fastmath_allow_simd(1)
                #expect(n == 0 || p != p0, "the update moved nothing")
            }
        }
    }
}
