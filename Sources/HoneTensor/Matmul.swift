import CBLAS

/// The linear layer every projection of the model is: out = inp · Wᵀ (+ bias), weights stored
/// [out features, in features] as Hugging Face stores them. Forward and backward side by side,
/// each a set of fixed-size single-threaded sgemm calls (see `Parallel`).
///
/// Letters: M rows (B·T), K in features, N out features.
public enum Matmul {
    /// Rows per task. Fixed: it is part of what makes the bits reproducible.
    public static let rowsPerTask = 128

    /// out[M, N] = inp[M, K] · weight[N, K]ᵀ + bias[N]
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               M: Int, K: Int, N: Int, threads: Int) {
        let slices = Parallel.slices(M, size: rowsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r.count), Int32(N), Int32(K),
                        1, inp + r.lowerBound * K, Int32(K), weight, Int32(K), 0, out + r.lowerBound * N, Int32(N))
            if let bias {
                for i in r { let row = out + i * N; for j in 0..<N { row[j] += bias[j] } }
            }
        }
    }

    /// Given dout[M, N]: dinp[M, K] += dout · weight; dweight[N, K] += doutᵀ · inp;
    /// dbias[N] += Σ rows of dout. Gradients accumulate (+=), as for micro-batches.
    /// subtle: dweight is sliced over its N rows, never over M, so each slice does its whole
    /// reduction over M inside one sgemm call — no partial sums whose order could vary.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                M: Int, K: Int, N: Int, threads: Int) {
        let rowSlices = Parallel.slices(M, size: rowsPerTask)
        let outSlices = Parallel.slices(N, size: rowsPerTask)
        Parallel.run(tasks: rowSlices.count + outSlices.count, threads: threads) { t in
            if t < rowSlices.count {
                let r = rowSlices[t]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(r.count), Int32(K), Int32(N),
                            1, dout + r.lowerBound * N, Int32(N), weight, Int32(K), 1, dinp + r.lowerBound * K, Int32(K))
            } else {
                let c = outSlices[t - rowSlices.count]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(c.count), Int32(K), Int32(M),
                            1, dout + c.lowerBound, Int32(N), inp, Int32(K), 1, dweight + c.lowerBound * K, Int32(K))
                if let dbias {
                    for j in c { var s: Float = 0; for i in 0..<M { s += dout[i * N + j] }; dbias[j] += s }
                }
            }
        }
    }
}
