import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import Testing

/// Products with GGML block matrices (the generation path) against the fp32 product of the
/// same dequantized weights, and their bits against the portable path, threads and slicing.
@Suite struct BlockMatmulTests {
    /// A [rows, columns] matrix in `format` and M inputs, with values of several scales.
    static func operands(_ format: BlockMatrix.Format, rows: Int, columns: Int, M: Int, key: UInt64)
        -> (matrix: BlockMatrix, weights: [Float], inputs: [Float]) {
        var rng = CounterRNG(key: key)
        let w = (0..<(rows * columns)).map { i in Float(rng.nextDouble() * 2 - 1) * (i % 96 < 32 ? 0.05 : 0.5) }
        let m = w.withUnsafeBufferPointer { BlockMatrix.quantize($0.baseAddress!, rows: rows, columns: columns, format: format) }
        var dequantized = [Float](repeating: 0, count: rows * columns)
        dequantized.withUnsafeMutableBufferPointer { m.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
        let x = (0..<(M * columns)).map { i in Float(rng.nextDouble() * 2 - 1) * (i % 64 < 32 ? 3 : 0.01) }
        return (m, dequantized, x)
    }

    static func product(_ m: PackedBlocks, _ x: [Float], M: Int, threads: Int, simd: Bool = true) -> [Float] {
        let out = Buffer(M * m.rows)
        x.withUnsafeBufferPointer { BlockMatmul.forward(out: out.pointer, inp: $0.baseAddress!, matrix: m, M: M, threads: threads, simd: simd) }
        return (0..<out.count).map { out[$0] }
    }

    /// Quantizing an input block to int16 moves each value by at most its block's max / 65534, so
    /// a row's product moves by at most Σ |w| · that (plus fp32 rounding, 1e-6 of Σ |w·x|): the
    /// bound a wrong scale, block or row order would break by orders of magnitude.
    @Test(arguments: BlockMatrix.Format.allCases)
    func productsStayWithinTheInputQuantizationBound(_ format: BlockMatrix.Format) {
        let (rows, columns, M) = (23, 96, 3)  // 23 rows: five groups of 4 and a group of 3
        let (matrix, w, x) = Self.operands(format, rows: rows, columns: columns, M: M, key: 41)
        let got = Self.product(PackedBlocks(matrix), x, M: M, threads: 2)
        for i in 0..<M {
            for r in 0..<rows {
                var exact = 0.0, bound = 0.0, magnitude = 0.0
                for b in 0..<(columns / 32) {
                    let cols = (b * 32)..<(b * 32 + 32)
                    let amax = cols.map { Double(abs(x[i * columns + $0])) }.max() ?? 0
                    for j in cols {
                        exact += Double(w[r * columns + j]) * Double(x[i * columns + j])
                        magnitude += abs(Double(w[r * columns + j]) * Double(x[i * columns + j]))
                        bound += Double(abs(w[r * columns + j])) * amax / 65534
                    }
                }
                let err = abs(Double(got[i * rows + r]) - exact)
                #expect(err <= bound + 1e-6 * magnitude, "\(format) input \(i) row \(r): error \(err), bound \(bound)")
            }
        }
    }

    /// 160 columns: two pairs of Q4 blocks and a lone one, both layouts on both paths.
    @Test(arguments: BlockMatrix.Format.allCases)
    func bitsDoNotDependOnThreadsOrTheSIMDPath(_ format: BlockMatrix.Format) {
        let (matrix, _, x) = Self.operands(format, rows: 203, columns: 160, M: 2, key: 42)
        let packed = PackedBlocks(matrix)
        let two = Self.product(packed, x, M: 2, threads: 2), one = Self.product(packed, x, M: 2, threads: 1)
        #expect(two == one)
        let portable = Self.product(packed, x, M: 2, threads: 1, simd: false)
        #expect(portable == two, "the portable path differs from the \(BlockMatmul.usesSIMD ? "AVX2" : "portable") one")
        if !BlockMatmul.usesSIMD { print("BlockMatmulTests: no AVX2 here; both runs took the portable path") }
    }

    /// A generator reading a QLoRA base's blocks one token at a time gives the logits of its
    /// fp32 prompt path to within the input quantization: far closer than the same generator
    /// reading another model's blocks (what a projection read from the wrong place looks like).
    @Test func aGeneratorOnBlocksFollowsItsFP32Logits() throws {
        var c = ModelGradientTests.tiny(tied: true)
        c.hiddenSize = 64; c.intermediateSize = 96; c.maxPositions = 16; c.initStd = 0.1
        func parts(_ key: UInt64) throws -> (rest: Buffer, quantized: QuantizedProjections) {
            try QuantizedProjections.split(initialWeights(ParameterLayout(c), config: c, key: key), config: c, format: .q4_1)
        }
        let (rest, quantized) = try parts(43)
        let model = Model(config: c, weights: rest, threads: 2, tuning: .frozen, quantized: quantized)
        var rng = CounterRNG(key: 44)
        let tokens = (0..<8).map { _ in Int32(rng.below(c.vocabSize)) }
        // Fed whole, the prompt takes the fp32 (dequantized) path; one by one, the blocks.
        let whole = try Generator(model: model).feed(tokens, allLogits: true)
        func stepwise(_ blocks: BlockWeights) throws -> [Float] {
            let g = Generator(model: model, blocks: blocks)
            var out: [Float] = []
            for t in tokens { out += try g.feed([t]) }
            return out
        }
        func meanDifference(_ a: [Float]) -> Float { zip(whole, a).map { abs($0 - $1) }.reduce(0, +) / Float(a.count) }
        let own = meanDifference(try stepwise(BlockWeights(quantized)))
        let other = meanDifference(try stepwise(BlockWeights(try parts(45).quantized)))
        let scale = whole.map(abs).reduce(0, +) / Float(whole.count)
        #expect(own > 0 && own < 0.05 * scale, "mean logit difference \(own), mean |logit| \(scale)")
        #expect(own < 0.1 * other, "own blocks differ by \(own), another model's by \(other)")
    }
}
