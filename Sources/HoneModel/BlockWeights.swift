import HoneFormats

/// The weights a `Generator` reads in GGML blocks for its few-row products (a token at a time):
/// each projection, and the LM head, where the checkpoint keeps them in a block format. nil
/// where it does not; those products use the model's fp32 weights.
public struct BlockWeights {
    /// [layer][Projection.index], rows in Hugging Face order (q and k un-permuted).
    public let projections: [[PackedBlocks?]]
    /// [vocab, hidden]: the output matrix, or the tied embedding table.
    public let head: PackedBlocks?

    public init(projections: [[BlockMatrix?]], head: BlockMatrix?) {
        self.projections = projections.map { $0.map { $0.map(PackedBlocks.init) } }
        self.head = head.map(PackedBlocks.init)
    }

    /// A QLoRA base's projections (its head stays fp32).
    public init(_ quantized: QuantizedProjections) {
        self.init(projections: quantized.matrices.map { $0.map { $0 } }, head: nil)
    }

    /// Whether every matrix has the shape `config` gives it (layers, projections, the head).
    public func fits(_ config: ModelConfig) -> Bool {
        projections.count == config.layers && projections.allSatisfy { row in
            row.count == Projection.allCases.count && Projection.allCases.allSatisfy { p in
                row[p.index].map { $0.rows == p.shape(config).out && $0.columns == p.shape(config).in } ?? true
            }
        } && head.map { $0.rows == config.vocabSize && $0.columns == config.hiddenSize } ?? true
    }

    /// Whether any product can use blocks.
    public var isEmpty: Bool { head == nil && projections.allSatisfy { $0.allSatisfy { $0 == nil } } }

    /// Bytes the blocks take.
    public var bytes: Int { (projections.joined().compactMap { $0 } + [head].compactMap { $0 }).reduce(0) { $0 + $1.bytes } }
}
