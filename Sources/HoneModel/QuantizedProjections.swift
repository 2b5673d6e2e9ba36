import HoneFormats
import HoneTensor

/// The frozen base of QLoRA (Dettmers et al. 2023), with GGML's block formats in place of NF4:
/// every layer's seven projections stay in blocks (Q4_1: 5 bits a weight instead of 32) and are
/// dequantized into one scratch matrix just before each product that reads them. Embeddings and
/// norm gains stay fp32, as bitsandbytes leaves them.
public final class QuantizedProjections {
    public let format: BlockMatrix.Format
    /// [layer][projection index]
    let matrices: [[BlockMatrix]]

    public init(format: BlockMatrix.Format, matrices: [[BlockMatrix]]) {
        self.format = format; self.matrices = matrices
    }

    /// Each projection's blocks from `make(layer, projection, its tensor in ParameterLayout(config))`.
    public convenience init(config: ModelConfig, format: BlockMatrix.Format,
                            _ make: (Int, Projection, ParameterLayout.Tensor) throws -> BlockMatrix) throws {
        let layout = ParameterLayout(config)
        let matrices = try (0..<config.layers).map { l in
            try Projection.allCases.map { p in
                guard let t = layout[p.weightName(layer: l)] else { throw ModelError.weights("no \(p.weightName(layer: l))") }
                return try make(l, p, t)
            }
        }
        self.init(format: format, matrices: matrices)
    }

    /// Quantizes the projections of fp32 weights laid out as `ParameterLayout(config)`.
    public convenience init(quantizing weights: Buffer, config: ModelConfig, format: BlockMatrix.Format) throws {
        try self.init(config: config, format: format) { _, _, t in
            try Self.quantize(weights.pointer + t.offset, rows: t.shape[0], columns: t.shape[1], format: format, name: t.name)
        }
    }

    /// Full fp32 weights (`ParameterLayout(config)`) cut in two: the projections quantized, and
    /// the tensors that stay fp32 beside them, laid out as `ParameterLayout(config, projections: false)`.
    public static func split(_ weights: Buffer, config: ModelConfig, format: BlockMatrix.Format) throws -> (rest: Buffer, quantized: QuantizedProjections) {
        let quantized = try QuantizedProjections(quantizing: weights, config: config, format: format)
        return (ParameterLayout(config, projections: false).relayout(weights, from: ParameterLayout(config)), quantized)
    }

    static func quantize(_ x: UnsafePointer<Float>, rows: Int, columns: Int, format: BlockMatrix.Format, name: String) throws -> BlockMatrix {
        guard columns % BlockMatrix.blockSize == 0 else {
            throw ModelError.weights("\(name): rows of \(columns) values cannot be cut into blocks of \(BlockMatrix.blockSize); quantization needs in-features a multiple of 32")
        }
        return BlockMatrix.quantize(x, rows: rows, columns: columns, format: format)
    }

    /// Bytes the blocks take.
    public var bytes: Int { matrices.joined().reduce(0) { $0 + $1.bytes.count } }

    func matrix(_ l: Int, _ p: Projection) -> BlockMatrix { matrices[l][p.index] }

    /// The projection in fp32 into `out` ([out, in]), in fixed row slices.
    func dequantize(_ l: Int, _ p: Projection, into out: UnsafeMutablePointer<Float>, threads: Int) {
        let m = matrices[l][p.index]
        let slices = Parallel.slices(m.rows, size: 256)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            m.dequantize(rows: r, into: out + r.lowerBound * m.columns)
        }
    }
}
