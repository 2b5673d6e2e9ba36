import CBLAS

/// The linear layer every projection of the model is: out = inp · Wᵀ (+ bias), weights stored
/// [out features, in features] as Hugging Face stores them. Forward and backward side by side,
/// each a set of fixed-size single-threaded sgemm calls (see `Parallel`).
///
/// Letters: M rows (B·T), K in features, N out features.
public enum Matmul {
    /// Rows per task (`rowsPerTask`) and weight-gradient rows per task (`weightRowsPerTask`) for
    /// a product of M rows: 512 from 2048 rows up (four tasks or more), else 128. They depend on
    /// M alone, never on the thread count: part of what makes the bits reproducible.
    ///
    /// Each task's sgemm packs its whole weight again (a weight-gradient task, its whole
    /// input), so larger tasks pack less: `make bench-slices` (config A's products, M 2048,
    /// fastest of 10) took 5% less time with 512-row tasks than with 128-row ones on 1 thread
    /// and 3% less on 2. Below 2048 rows the tasks stay at 128 rows, as they always were: fewer
    /// tasks would balance two threads worse there (a 256-token prompt is two tasks), and
    /// results committed before (the demo's and the SmolLM2 examples' lockfiles) keep their bits.
    @inline(__always)
    public static func rowsPerTask(_ M: Int) -> Int { M >= 2048 ? 512 : 128 }
    @inline(__always)
    public static func weightRowsPerTask(_ M: Int) -> Int { M >= 2048 ? 512 : 128 }

    /// out[M, N] = alpha · inp[M, K] · weight[N, K]ᵀ + bias[N], or `accumulate`: out += that
    /// (a LoRA branch adding onto its base projection's output). `rows`: only those rows, a
    /// whole number of the product's tasks (a row slice of `Parallel.stages`), with their bits.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               M: Int, K: Int, N: Int, alpha: Float = 1, accumulate: Bool = false, rows: Range<Int>? = nil, threads: Int) {
        let beta: Float = accumulate ? 1 : 0
        if M == 1 { return vector(out: out, inp: inp, weight: weight, bias: bias, K: K, N: N, alpha: alpha, beta: beta, threads: threads) }
        let slices = Parallel.slices(M, size: rowsPerTask(M))
        let tasks = rows.map { taskRange($0, slices) } ?? 0..<slices.count
        Parallel.run(tasks: tasks.count, threads: threads) { t in
            let r = slices[tasks.lowerBound + t]
            gemm(false, true, r.count, N, K, alpha, inp + r.lowerBound * K, K, weight, K, beta, out + r.lowerBound * N, N)
            if let bias {
                for i in r { let row = out + i * N; for j in 0..<N { row[j] += bias[j] } }
            }
        }
    }

    /// The tasks that make up `rows`, which must start and end where tasks do.
    static func taskRange(_ rows: Range<Int>, _ slices: Parallel.Slices) -> Range<Int> {
        precondition(rows.lowerBound % slices.size == 0 && (rows.upperBound % slices.size == 0 || rows.upperBound == slices.total),
                     "rows \(rows) are not whole tasks of \(slices.size) rows")
        return (rows.lowerBound / slices.size)..<((rows.upperBound + slices.size - 1) / slices.size)
    }

    /// Output features per task of a one-row product.
    /// A multiple of 64, so every output is computed at the same place of its kernel's blocks
    /// however the tasks fall on threads.
    public static let featuresPerTask = 256

    /// One row (a token generated with the KV cache): sgemv over slices of the weight's rows.
    /// sgemm would pack the whole weight for each token, which perf showed was half the time
    /// of generation; sgemv streams it once.
    static func vector(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, K: Int, N: Int, alpha: Float, beta: Float, threads: Int) {
        let slices = Parallel.slices(N, size: featuresPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let c = slices[t]
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(c.count), Int32(K), alpha, weight + c.lowerBound * K, Int32(K),
                        inp, 1, beta, out + c.lowerBound, 1)
            if let bias { for j in c { out[j] += bias[j] } }
        }
    }

    /// Given dout[M, N]: dinp[M, K] += dout · weight; dweight[N, K] += doutᵀ · inp;
    /// dbias[N] += Σ rows of dout. Gradients accumulate (+=), as for micro-batches;
    /// `accumulateInput: false` overwrites dinp instead (no zeroing pass before the first of
    /// several products that share it). A nil dweight is a frozen weight: only dinp is computed.
    /// subtle: dweight is sliced over its N rows, never over M, so each slice does its whole
    /// reduction over M inside one sgemm call — no partial sums whose order could vary.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                M: Int, K: Int, N: Int, accumulateInput: Bool = true, threads: Int) {
        // The larger kind of task goes first, so the last tasks are small and neither thread
        // waits long on the other's: dweight's for a projection (each also packs all of inp),
        // dinp's for a head wider than it is deep (the LM head's are twice its weight tasks).
        let outSlices = weightTasks(dweight == nil ? 0 : N, M: M)
        let rowSlices = Parallel.slices(M, size: rowsPerTask(M))
        let rowsFirst = rowSlices.size * N > outSlices.size * M
        Parallel.run(tasks: outSlices.count + rowSlices.count, threads: threads) { t in
            let t = rowsFirst ? (t + outSlices.count) % (outSlices.count + rowSlices.count) : t
            if t < outSlices.count, let dweight {
                weightGradient(task: t, dweight: dweight, dbias: dbias, dout: dout, inp: inp, M: M, K: K, N: N)
            } else {
                inputGradient(task: t - outSlices.count, dinp: dinp, dout: dout, weight: weight, M: M, K: K, N: N, accumulate: accumulateInput)
            }
        }
    }

    /// The input half of `backward` over `rows` (whole tasks; nil: all): dinp (+)= dout · weight.
    public static func inputGradient(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     M: Int, K: Int, N: Int, rows: Range<Int>? = nil, accumulate: Bool, threads: Int) {
        let slices = Parallel.slices(M, size: rowsPerTask(M))
        let tasks = rows.map { taskRange($0, slices) } ?? 0..<slices.count
        Parallel.run(tasks: tasks.count, threads: threads) { t in
            inputGradient(task: tasks.lowerBound + t, dinp: dinp, dout: dout, weight: weight, M: M, K: K, N: N, accumulate: accumulate)
        }
    }

    private static func inputGradient(task: Int, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      M: Int, K: Int, N: Int, accumulate: Bool) {
        let r = Parallel.slices(M, size: rowsPerTask(M))[task]
        gemm(false, false, r.count, K, N, 1, dout + r.lowerBound * N, N, weight, K, accumulate ? 1 : 0, dinp + r.lowerBound * K, K)
    }

    /// The weight half of `backward` in fixed tasks, each a slice of the N rows of dweight with
    /// its whole sum over M: `weightTasks(N, M:)` lists them, `weightGradient(task:)` runs one.
    public static func weightTasks(_ N: Int, M: Int) -> Parallel.Slices { Parallel.slices(N, size: weightRowsPerTask(M)) }

    public static func weightGradient(task: Int, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, M: Int, K: Int, N: Int) {
        let c = weightTasks(N, M: M)[task]
        gemm(true, false, c.count, K, M, 1, dout + c.lowerBound, N, inp, K, 1, dweight + c.lowerBound * K, K)
        if let dbias {
            for j in c { var s: Float = 0; for i in 0..<M { s += dout[i * N + j] }; dbias[j] += s }
        }
    }
}
