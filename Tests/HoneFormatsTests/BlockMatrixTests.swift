import Foundation
import HoneBase
import HoneFormats
import Testing

/// Quantizing into GGML's block formats: the error bound each format promises, blocks a GGUF
/// reader decodes to the same values, and the half-precision rounding under the scales.
@Suite struct BlockMatrixTests {
    static func matrix(rows: Int, columns: Int, key: UInt64) -> [Float] {
        var rng = CounterRNG(key: key)
        // Mixed scales per block, and one outlier row, as real weights have.
        return (0..<(rows * columns)).map { i in
            let scale: Float = (i / 32) % 3 == 0 ? 0.02 : ((i / 32) % 3 == 1 ? 0.3 : 2)
            return Float(rng.nextDouble() * 2 - 1) * (i / columns == 1 ? 40 : scale)
        }
    }

    /// Each value within half a quantization step of its block (widened by the f16 rounding of
    /// d and m), and the mean error well under it. Q4_0 is the exception ggml designed: its
    /// largest-magnitude value maps to −8, so the far end of the block clamps at +7 and may be
    /// a whole step off.
    @Test func quantizationErrorStaysWithinHalfAStep() {
        let rows = 6, columns = 96
        let x = Self.matrix(rows: rows, columns: columns, key: 1)
        for format in BlockMatrix.Format.allCases {
            let q = x.withUnsafeBufferPointer { BlockMatrix.quantize($0.baseAddress!, rows: rows, columns: columns, format: format) }
            #expect(q.bytes.count == rows * columns / 32 * format.blockBytes)
            var y = [Float](repeating: 0, count: x.count)
            y.withUnsafeMutableBufferPointer { q.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            for b in 0..<(x.count / 32) {
                let block = x[(b * 32)..<(b * 32 + 32)]
                let lo = block.min() ?? 0, hi = block.max() ?? 0, amax = block.map(abs).max() ?? 0
                // The step: what d is for each format, widened by f16's relative rounding (2^-11).
                let step: Float
                switch format {
                case .q8_0: step = amax / 127
                case .q4_0: step = amax / 8
                case .q4_1: step = (hi - lo) / 15
                }
                let bound = (format == .q4_0 ? step : step / 2) + (amax + step) * 0x1p-10
                for j in (b * 32)..<(b * 32 + 32) {
                    #expect(abs(x[j] - y[j]) <= bound, "\(format) block \(b): \(x[j]) → \(y[j]), bound \(bound)")
                }
            }
            let meanRelative = zip(x, y).map { abs($0 - $1) }.reduce(0, +) / x.map(abs).reduce(0, +)
            let expected: Float = format == .q8_0 ? 0.01 : 0.1
            #expect(meanRelative < expected, "\(format): mean relative error \(meanRelative)")
        }
    }

    @Test func quantizedBlocksReadBackThroughAGGUFFile() throws {
        let rows = 3, columns = 64
        let x = Self.matrix(rows: rows, columns: columns, key: 2)
        var w = GGUFWriter()
        var blocks: [BlockMatrix] = []
        for format in BlockMatrix.Format.allCases {
            let q = x.withUnsafeBufferPointer { BlockMatrix.quantize($0.baseAddress!, rows: rows, columns: columns, format: format) }
            blocks.append(q)
            let type: GGUF.TensorType = format == .q8_0 ? .q8_0 : (format == .q4_0 ? .q4_0 : .q4_1)
            w.add(format.rawValue, dims: [columns, rows], type: type, bytes: q.bytes)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hone-blocks-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try w.data().write(to: url)
        let g = try GGUF(url: url)
        for q in blocks {
            var y = [Float](repeating: 0, count: x.count)
            y.withUnsafeMutableBufferPointer { q.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            #expect(try g.floats(q.format.rawValue) == y)
            #expect(try g.blocks(q.format.rawValue) == q)
        }
        // Rows move whole: row i of the reordered matrix is row order[i].
        let q = blocks[0], moved = q.reorderingRows([2, 0, 1])
        var a = [Float](repeating: 0, count: columns), b = [Float](repeating: 0, count: columns)
        a.withUnsafeMutableBufferPointer { q.dequantize(rows: 2..<3, into: $0.baseAddress!) }
        b.withUnsafeMutableBufferPointer { moved.dequantize(rows: 0..<1, into: $0.baseAddress!) }
        #expect(a == b)
    }

    @Test func halfPrecisionRoundsToNearestEvenAndRoundTrips() {
        // Every finite half survives fp32 and back.
        for h in UInt16.min...UInt16.max where (h & 0x7C00) != 0x7C00 {
            #expect(halfFromFloat(floatFromHalf(h)) == h, "half \(h)")
        }
        #expect(halfFromFloat(1 + 0x1p-11) == 0x3C00)            // a tie rounds to even (1.0)
        #expect(halfFromFloat(1 + 3 * 0x1p-11) == 0x3C02)        // a tie rounds to even (1 + 2^-9)
        #expect(halfFromFloat(1 + 0x1p-11 + 0x1p-20) == 0x3C01)  // past the tie rounds up
        #expect(halfFromFloat(65520) == 0x7C00 && halfFromFloat(-1e9) == 0xFC00)
        #expect(halfFromFloat(0x1p-25) == 0 && halfFromFloat(0x1p-24) == 1)  // the smallest subnormal
    }
}
