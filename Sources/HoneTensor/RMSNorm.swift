import CFastMath

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
            inGroups(slices[t]) { first, n, sums in
                hone_square_sums(inp + first * C, n, C, sums)
                for k in 0..<n {
                    let i = first + k, x = inp + i * C, y = out + i * C
                    let r = 1 / (sums[k] / Float(C) + eps).squareRoot()
                    rstd[i] = r
                    for j in 0..<C { y[j] = x[j] * r * weight[j] }
                }
            }
        }
    }

    /// `body(first, n, sums)` for the rows in groups of eight (the last group fewer), with room
    /// for eight sums: CFastMath's row sums take a group at a time.
    @inline(__always)
    static func inGroups(_ rows: Range<Int>, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8) { buffer in
            guard let sums = buffer.baseAddress else { return }
            var first = rows.lowerBound
            while first < rows.upperBound {
                let n = min(8, rows.upperBound - first)
                body(first, n, sums)
                first += n
            }
        }
    }

    /// dinp += …; dweight += …. subtle: dweight sums over all rows, so each fixed row task sums
    /// its own rows into a partial, and the partials are added in task order afterwards: the
    /// bits do not depend on which thread ran which task. A nil dweight is a frozen gain.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, M: Int, C: Int, threads: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: partialCount(M: M, C: C)) { scratch in
            guard let partials = scratch.baseAddress else { return }
            backwardRows(dinp: dinp, base: dinp, partials: partials, dout: dout, inp: inp, weight: weight, rstd: rstd,
                         rows: 0..<M, C: C, threads: threads)
            guard let dweight else { return }
            Parallel.run(tasks: reduceTasks(C: C), threads: threads) { c in
                reduce(task: c, dweight: dweight, partials: partials, M: M, C: C)
            }
        }
    }

    /// Floats of the partial sums `backwardRows` writes for M rows.
    public static func partialCount(M: Int, C: Int) -> Int { Parallel.slices(M, size: rowsPerTask).count * C }

    /// The row part of `backward` over `rows` (whole tasks of M's): dinp = base + … (base may be
    /// dinp itself), and each task's partial of dweight at its place in `partials`.
    public static func backwardRows(dinp: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>, partials: UnsafeMutablePointer<Float>,
                                    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    rstd: UnsafePointer<Float>, rows: Range<Int>, C: Int, threads: Int) {
        precondition(rows.lowerBound % rowsPerTask == 0, "rows \(rows) do not start a task")
        let slices = Parallel.slices(rows.count, size: rowsPerTask), first = rows.lowerBound / rowsPerTask
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let part = partials + (first + t) * C
            part.update(repeating: 0, count: C)
            let task = slices[t]
            inGroups((rows.lowerBound + task.lowerBound)..<(rows.lowerBound + task.upperBound)) { first, n, dots in
                hone_scaled_dots(dout + first * C, inp + first * C, weight, rstd + first, n, C, dots)
                for k in 0..<n {
                    let i = first + k
                    let x = inp + i * C, dy = dout + i * C, dx = dinp + i * C, dx0 = base + i * C
                    let r = rstd[i], mean = dots[k] / Float(C)
                    for j in 0..<C {
                        let xhat = x[j] * r
                        dx[j] = dx0[j] + r * (dy[j] * weight[j] - xhat * mean)
                        part[j] += dy[j] * xhat
                    }
                }
            }
        }
    }

    /// Tasks of the reduce, each 256 of the C columns: dweight += Σ partials in task order.
    public static func reduceTasks(C: Int) -> Int { Parallel.slices(C, size: 256).count }

    public static func reduce(task: Int, dweight: UnsafeMutablePointer<Float>, partials: UnsafePointer<Float>, M: Int, C: Int) {
        let tasks = Parallel.slices(M, size: rowsPerTask).count
        for j in Parallel.slices(C, size: 256)[task] {
            var s: Float = 0
            for t in 0..<tasks { s += partials[t * C + j] }
            dweight[j] += s
        }
    }
}
