import CBlockKernels
import HoneFormats
import HoneTensor

/// A block matrix in the layout the products read (CBlockKernels' hone_block_pack): the same
/// bytes, rows in groups of 4 interleaved block by block. Made once when a generator is.
public final class PackedBlocks {
    public let format: BlockMatrix.Format
    public let rows: Int, columns: Int
    /// Bytes the products read per pass.
    public let bytes: Int
    /// Owned, never moved: tasks read it without touching reference counts.
    let packed: UnsafeMutablePointer<UInt8>

    public init(_ m: BlockMatrix) {
        format = m.format; rows = m.rows; columns = m.columns; bytes = m.bytes.count
        packed = .allocate(capacity: max(1, m.bytes.count))
        m.bytes.withUnsafeBufferPointer { src in
            hone_block_pack(Self.kernelFormat(m.format), src.baseAddress, m.rows, m.columns, packed)
        }
    }

    deinit { packed.deallocate() }

    static func kernelFormat(_ f: BlockMatrix.Format) -> Int32 {
        switch f {
        case .q8_0: return Int32(HONE_Q8_0)
        case .q4_0: return Int32(HONE_Q4_0)
        case .q4_1: return Int32(HONE_Q4_1)
        }
    }
}

/// Products with a matrix kept in GGML blocks, for the few-row products of generation: a
/// token's pass reads every weight once, and 5 bits a weight (Q4_1) instead of 32 is what it
/// costs. The input is quantized to int16 block by block and each block's products are summed in
/// integers (CBlockKernels): an error near fp16's, where llama.cpp's int8 changed SmolLM2's
/// greedy answers.
public enum BlockMatmul {
    /// Weight rows per task: a multiple of the kernel's groups of 4, small enough that k and v
    /// (192 rows) split evenly over two threads. Each output is one row's
    /// whole dot product inside one kernel call, so slicing and threads never change the bits.
    static let rowsPerTask = 16

    /// Whether the kernel runs its AVX2 path here (same bits either way; for benchmarks' notes).
    public static var usesSIMD: Bool { hone_block_kernels_simd() != 0 }

    /// out[M, N] = inp[M, K] · matrixᵀ, matrix [N, K]. `simd: false` takes the portable path
    /// (for tests: the bits must not change).
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, matrix: PackedBlocks, M: Int, threads: Int, simd: Bool = true) {
        forward([(out, matrix)], inp: inp, M: M, threads: threads, simd: simd)
    }

    /// Several products of one input (q, k and v; gate and up), all [N_i, K]: the input is
    /// quantized once and every matrix's slices go out as one set of tasks, one wait instead
    /// of one per product.
    public static func forward(_ products: [(out: UnsafeMutablePointer<Float>, matrix: PackedBlocks)], inp: UnsafePointer<Float>, M: Int,
                               threads: Int, simd: Bool = true) {
        guard let K = products.first?.matrix.columns else { return }
        precondition(products.allSatisfy { $0.matrix.columns == K }, "products of one input must share its width")
        let blocks = K / BlockMatrix.blockSize
        // What the tasks read, as plain values: reference counts touched from both threads
        // (arrays, matrices) cost more than small products (perf: swift_release).
        struct Job { let format: Int32, packed: UnsafePointer<UInt8>, rows: Int, out: UnsafeMutablePointer<Float>, firstTask: Int }
        withUnsafeTemporaryAllocation(of: Job.self, capacity: products.count + 1) { jobs in
            var first = 0
            for (i, p) in products.enumerated() {
                jobs.initializeElement(at: i, to: Job(format: PackedBlocks.kernelFormat(p.matrix.format), packed: p.matrix.packed,
                                                      rows: p.matrix.rows, out: p.out, firstTask: first))
                first += Parallel.slices(p.matrix.rows, size: rowsPerTask).count
            }
            jobs.initializeElement(at: products.count, to: Job(format: 0, packed: products[0].matrix.packed, rows: 0, out: products[0].out, firstTask: first))
            withUnsafeTemporaryAllocation(of: Int16.self, capacity: M * K) { xq in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * M * blocks) { scales in
                    guard let xq = xq.baseAddress, let dx = scales.baseAddress, let jobs = jobs.baseAddress else { return }
                    let sums = dx + M * blocks
                    for i in 0..<M { hone_quantize_input(inp + i * K, K, xq + i * K, dx + i * blocks, sums + i * blocks) }
                    Parallel.run(tasks: first, threads: threads) { t in
                        var j = jobs
                        while (j + 1).pointee.firstTask <= t { j += 1 }
                        let job = j.pointee, r = Parallel.slices(job.rows, size: rowsPerTask)[t - job.firstTask]
                        hone_block_rows_dot(job.format, job.packed, job.rows, r.lowerBound, r.upperBound, K, xq, dx, sums, M, job.out, job.rows, simd ? 1 : 0)
                    }
                }
            }
            withExtendedLifetime(products) {}
        }
    }
}
