import CFastMath
import Foundation
import HoneBase
import HoneTensor
import Testing

/// Central differences in double precision against each layer's analytic backward.
@Suite struct LayerGradientTests {
    func check(_ name: String, _ param: Buffer, _ grad: Buffer, samples: Int = 8, h: Float = 1e-2,
               tolerance: Double = 2e-3, key: UInt64, loss: () -> Double) {
        var rng = CounterRNG(key: key)
        expectGradient(name, param, grad, samples: samples, h: h, tolerance: tolerance, floor: 1e-2, rng: &rng, loss: loss)
    }

    @Test func rmsNormBackwardMatchesFiniteDifferences() {
        let M = 37, C = 48
        let x = random(M * C, key: 20, std: 1), g = random(C, key: 21, std: 1), r = random(M * C, key: 22, std: 1)
        let out = Buffer(M * C), rstd = Buffer(M), dx = Buffer(M * C), dg = Buffer(C)
        RMSNorm.forward(out: out.pointer, rstd: rstd.pointer, inp: x.pointer, weight: g.pointer, M: M, C: C, eps: 1e-5, threads: 2)
        RMSNorm.backward(dinp: dx.pointer, dweight: dg.pointer, dout: r.pointer, inp: x.pointer, weight: g.pointer,
                         rstd: rstd.pointer, M: M, C: C, threads: 2)
        func loss() -> Double {  // Σ r ⊙ rmsnorm(x), in doubles
            var total = 0.0
            for i in 0..<M {
                var ss = 0.0
                for j in 0..<C { ss += Double(x[i * C + j]) * Double(x[i * C + j]) }
                let inv = 1 / (ss / Double(C) + 1e-5).squareRoot()
                for j in 0..<C { total += Double(r[i * C + j]) * Double(x[i * C + j]) * inv * Double(g[j]) }
            }
            return total
        }
        check("dx", x, dx, key: 23, loss: loss)
        check("dweight", g, dg, key: 24, loss: loss)
    }

    @Test func swigluBackwardMatchesFiniteDifferences() {
        let n = 500
        let a = random(n, key: 30, std: 2), b = random(n, key: 31, std: 1), r = random(n, key: 32, std: 1)
        let da = Buffer(n), db = Buffer(n), h = Buffer(n)
        SwiGLU.forward(out: h.pointer, gate: a.pointer, up: b.pointer, count: n, threads: 2)
        let forwardOK = (0..<n).allSatisfy { i in
            let x = Double(a[i]), want = x / (1 + Foundation.exp(-x)) * Double(b[i])
            return abs(Double(h[i]) - want) <= 1e-6 * max(1, abs(want))
        }
        #expect(forwardOK)
        SwiGLU.backward(dgate: da.pointer, dup: db.pointer, dout: r.pointer, gate: a.pointer, up: b.pointer, count: n, threads: 2)
        func loss() -> Double {
            (0..<n).reduce(0.0) { s, i in
                let x = Double(a[i])
                return s + Double(r[i]) * x / (1 + Foundation.exp(-x)) * Double(b[i])
            }
        }
        check("dgate", a, da, key: 33, loss: loss)
        check("dup", b, db, key: 34, loss: loss)
        // The backward takes σ again: with the bits of the σ SiLU's forward keeps, its lanes and
        // its tail (of 4) give the scalar formula's bits, on the AVX2 path and the portable one.
        let sig = Buffer(n), silu = Buffer(n)
        SiLU.forward(out: silu.pointer, sigmoid: sig.pointer, inp: a.pointer, count: n, threads: 2)
        for simd: Int32 in [1, 0] {
            hone_fastmath_allow_simd(simd)
            defer { hone_fastmath_allow_simd(1) }
            SwiGLU.backward(dgate: da.pointer, dup: db.pointer, dout: r.pointer, gate: a.pointer, up: b.pointer, count: n, threads: 2)
            let wrong = (0..<n).first { i in
                let x = a[i], s = sig[i]
                return db[i].bitPattern != (r[i] * x * s).bitPattern || da[i].bitPattern != (r[i] * b[i] * s * (1 + x * (1 - s))).bitPattern
            }
            #expect(wrong == nil, "element \(wrong ?? -1) differs from the formula, \(simd == 1 ? "fast" : "portable") path")
        }
    }

    /// Each pair (x[i], x[i + D/2]) turns by its position's angle, bit for bit as the formula
    /// written out here, from a start position (a KV cache's new rows); the inverse turns back.
    @Test func ropeTurnsEachPairByItsPositionsAngle() {
        let B = 2, T = 5, heads = 3, D = 10, start = 4, half = D / 2
        let tables = RoPE.tables(T: start + T, D: D, theta: 10_000)
        let x = random(B * T * heads * D, key: 35, std: 1)
        let before = Array(x.buffer)
        RoPE.apply(x.pointer, B: B, T: T, heads: heads, D: D, cos: tables.cos, sin: tables.sin, start: start, threads: 2)
        var same = true
        for bt in 0..<(B * T) {
            let p = start + bt % T
            for h in 0..<heads {
                for i in 0..<half {
                    let at = (bt * heads + h) * D + i, c = tables.cos[p * half + i], s = tables.sin[p * half + i]
                    let a = before[at], b = before[at + half]
                    same = same && x[at].bitPattern == (a * c - b * s).bitPattern && x[at + half].bitPattern == (b * c + a * s).bitPattern
                }
            }
        }
        #expect(same)
        RoPE.apply(x.pointer, B: B, T: T, heads: heads, D: D, cos: tables.cos, sin: tables.sin, start: start, inverse: true, threads: 2)
        #expect((0..<x.count).allSatisfy { abs(x[$0] - before[$0]) < 1e-5 })
    }

    @Test func maskedCrossEntropyMatchesFiniteDifferencesAndIgnoresUnmaskedRows() {
        let M = 9, V = 31
        let z = random(M * V, key: 40, std: 2)
        let targets = (0..<M).map { Int32(($0 * 7) % V) }
        let mask: [UInt8] = [1, 0, 1, 1, 0, 1, 1, 1, 0]
        let d = Buffer(M * V), losses = Buffer(M)
        let value = targets.withUnsafeBufferPointer { t in mask.withUnsafeBufferPointer { m in
            CrossEntropy.forwardBackward(dlogits: d.pointer, losses: losses.pointer, logits: z.pointer, targets: t.baseAddress!,
                                         mask: m.baseAddress, M: M, V: V, threads: 2)
        } }
        func loss() -> Double {
            var total = 0.0, n = 0.0
            for i in 0..<M where mask[i] != 0 {
                let row = (0..<V).map { Double(z[i * V + $0]) }
                let mx = row.max() ?? 0
                let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - mx) }) + mx
                total += lse - row[Int(targets[i])]; n += 1
            }
            return total / n
        }
        #expect(abs(Double(value) - loss()) < 1e-5)
        check("dlogits", z, d, samples: 20, key: 41, loss: loss)
        for i in 0..<M where mask[i] == 0 { #expect((0..<V).allSatisfy { d[i * V + $0] == 0 }) }
        // In place (the model's way: the logits become their gradient) gives the same bits.
        let inPlace = Buffer(M * V), inPlaceLosses = Buffer(M)
        inPlace.pointer.update(from: z.pointer, count: M * V)
        let again = targets.withUnsafeBufferPointer { t in mask.withUnsafeBufferPointer { m in
            CrossEntropy.forwardBackward(dlogits: inPlace.pointer, losses: inPlaceLosses.pointer, logits: inPlace.pointer,
                                         targets: t.baseAddress!, mask: m.baseAddress, M: M, V: V, threads: 2)
        } }
        #expect(again == value)
        let same = (0..<(M * V)).allSatisfy { inPlace[$0] == d[$0] }
        #expect(same, "in-place gradient differs")
    }

    @Test func layersGiveTheSameBitsOnOneAndTwoThreads() {
        let M = 130, C = 64
        let x = random(M * C, key: 50, std: 1), g = random(C, key: 51, std: 1), r = random(M * C, key: 52, std: 1)
        func run(_ threads: Int) -> [UInt32] {
            let out = Buffer(M * C), rstd = Buffer(M), dx = Buffer(M * C), dg = Buffer(C)
            RMSNorm.forward(out: out.pointer, rstd: rstd.pointer, inp: x.pointer, weight: g.pointer, M: M, C: C, eps: 1e-5, threads: threads)
            RMSNorm.backward(dinp: dx.pointer, dweight: dg.pointer, dout: r.pointer, inp: x.pointer, weight: g.pointer,
                             rstd: rstd.pointer, M: M, C: C, threads: threads)
            let d = Buffer(M * C), losses = Buffer(M)
            let targets = (0..<M).map { Int32($0 % C) }
            let loss = targets.withUnsafeBufferPointer {
                CrossEntropy.forwardBackward(dlogits: d.pointer, losses: losses.pointer, logits: out.pointer, targets: $0.baseAddress!,
                                             mask: nil, M: M, V: C, threads: threads)
            }
            return (Array(out.buffer) + Array(dx.buffer) + Array(dg.buffer) + Array(d.buffer) + [loss]).map(\.bitPattern)
        }
        #expect(run(1) == run(2))
    }
}
