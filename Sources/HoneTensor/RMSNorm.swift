/// RMSNorm (Zhang & Sennrich 2019), as Llama uses it: y = x / rms(x) ⊙ g, rms(x) = √(mean(x²) + ε).
/// Forward keeps 1/rms per row for the backward. Rows run in fixed tasks (see `Parallel`).
///
/// Backward, with r = 1/rms and x̂ = x·r:
///   dg += Σ_rows dy ⊙ x̂
///   dx  = r · (dy ⊙ g − x̂ · mean(dy ⊙ g ⊙ x̂))
public enum RMSNorm {
    public static let rowsPerTask = 64

    /// out[M, C] = norm(inp[M, C]) ⊙ weight[C]; rstd[M] = 1/rms of each row.
    public static func forward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               M: Int, C: Int, eps: Float, threads: Int) {
        let slices = Parallel.slices(M, size: rowsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let x = inp + i * C, y = out + i * C
                var ss: Float = 0
                for j in 0..<C { ss += x[j] * x[j] }
                let r = 1 / (ss / Float(C) + eps).squareRoot()
                rstd[i] = r
                for j in 0..<C { y[j] = x[j] * r * weight[j] }
            }
        }
    }

    /// dinp += …; dweight += …. subtle: dweight sums over all rows, so each fixed row task sums
    /// its own rows into a partial, and the partials are added in task order afterwards: the
    /// bits do not depend on which thread ran which task. A nil dweight is a frozen gain.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, M: Int, C: Int, threads: Int) {
        let rows = Parallel.slices(M, size: rowsPerTask)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows.count * C) { scratch in
            guard let partial = scratch.baseAddress else { return }
            Parallel.run(tasks: rows.count, threads: threads) { t in
                let part = partial + t * C
                part.update(repeating: 0, count: C)
                for i in rows[t] {
                    let x = inp + i * C, dy = dout + i * C, dx = dinp + i * C
                    let r = rstd[i]
                    var dot: Float = 0
                    for j in 0..<C { dot += dy[j] * weight[j] * x[j] * r }
                    let mean = dot / Float(C)
                    for j in 0..<C {
                        let xhat = x[j] * r
                        dx[j] += r * (dy[j] * weight[j] - xhat * mean)
                        part[j] += dy[j] * xhat
                    }
                }
            }
            guard let dweight else { return }
            let cols = Parallel.slices(C, size: 256)
            Parallel.run(tasks: cols.count, threads: threads) { c in
                for j in cols[c] {
                    var s: Float = 0
                    for t in 0..<rows.count { s += partial[t * C + j] }
                    dweight[j] += s
                }
            }
        }
    }
}
