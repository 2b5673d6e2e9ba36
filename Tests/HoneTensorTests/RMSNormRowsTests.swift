import CFastMath
import HoneBase
import HoneTensor
import Testing

/// RMSNorm sums eight rows side by side (CFastMath's row sums, on their AVX2 path and their
/// portable one, which also takes a last group of fewer rows): all give the bits of the norm
/// written out a row at a time, each sum in column order, as it was before the eight-row kernel.
/// Widths with and without columns past the eight-column blocks. 37 rows: four groups of eight
/// and a tail of five in one task; 130 rows: a second task that starts mid-way.
@Suite struct RMSNormRowsTests {
    func reference(x: [Float], g: [Float], dy: [Float], base: [Float], M: Int, C: Int, eps: Float) -> (y: [Float], rstd: [Float], dx: [Float]) {
        var y = [Float](repeating: 0, count: M * C), rstd = [Float](repeating: 0, count: M), dx = base
        for i in 0..<M {
            var ss: Float = 0
            for j in 0..<C { ss += x[i * C + j] * x[i * C + j] }
            let r = 1 / (ss / Float(C) + eps).squareRoot()
            rstd[i] = r
            for j in 0..<C { y[i * C + j] = x[i * C + j] * r * g[j] }
            var dot: Float = 0
            for j in 0..<C { dot += dy[i * C + j] * g[j] * x[i * C + j] * r }
            let mean = dot / Float(C)
            for j in 0..<C {
                let xhat = x[i * C + j] * r
                dx[i * C + j] = base[i * C + j] + r * (dy[i * C + j] * g[j] - xhat * mean)
            }
        }
        return (y, rstd, dx)
    }

    /// The first index whose bits differ (and the two values), or nil.
    func firstDifference(_ a: [Float], _ b: [Float]) -> String? {
        a.indices.first { a[$0].bitPattern != b[$0].bitPattern }.map { "element \($0): \(a[$0]) against \(b[$0])" }
    }

    @Test(arguments: [(37, 48), (130, 64), (8, 5), (3, 17), (16, 29)])
    func rowsInEightsGiveTheBitsOfOneRowAtATime(M: Int, C: Int) {
        let x = random(M * C, key: 60, std: 1), g = random(C, key: 61, std: 1), dy = random(M * C, key: 62, std: 1)
        let base = random(M * C, key: 63, std: 1)
        let expected = reference(x: Array(x.buffer), g: Array(g.buffer), dy: Array(dy.buffer), base: Array(base.buffer), M: M, C: C, eps: 1e-5)
        for simd: Int32 in [1, 0] {
            hone_fastmath_allow_simd(simd)
            defer { hone_fastmath_allow_simd(1) }
            let y = Buffer(M * C), rstd = Buffer(M), dx = Buffer(M * C), dg = Buffer(C)
            dx.pointer.update(from: base.pointer, count: M * C)
            RMSNorm.forward(out: y.pointer, rstd: rstd.pointer, inp: x.pointer, weight: g.pointer, M: M, C: C, eps: 1e-5, threads: 2)
            RMSNorm.backward(dinp: dx.pointer, dweight: dg.pointer, dout: dy.pointer, inp: x.pointer, weight: g.pointer,
                             rstd: rstd.pointer, M: M, C: C, threads: 2)
            let path = simd == 1 ? "fast path" : "portable path"
            #expect(firstDifference(Array(y.buffer), expected.y) == nil, "forward, \(M)×\(C), \(path)")
            #expect(firstDifference(Array(rstd.buffer), expected.rstd) == nil, "1/rms, \(M)×\(C), \(path)")
            #expect(firstDifference(Array(dx.buffer), expected.dx) == nil, "backward, \(M)×\(C), \(path)")
        }
    }
}
