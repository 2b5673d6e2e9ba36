/// Token embedding: out[m] = table[tokens[m]]. Backward scatters rows back into the table's
/// gradient; columns are split into fixed tasks and each walks the rows in order, so a token
/// seen twice sums its gradients in one order whatever the thread count.
public enum Embedding {
    public static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                               table: UnsafePointer<Float>, M: Int, C: Int, threads: Int) {
        let slices = Parallel.slices(M, size: 256)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for m in slices[t] { (out + m * C).update(from: table + Int(tokens[m]) * C, count: C) }
        }
    }

    public static func backward(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                tokens: UnsafePointer<Int32>, M: Int, C: Int, threads: Int) {
        let cols = Parallel.slices(C, size: 64)
        Parallel.run(tasks: cols.count, threads: threads) { t in
            let c = cols[t]
            for m in 0..<M {
                let src = dout + m * C, dst = dtable + Int(tokens[m]) * C
                for j in c { dst[j] += src[j] }
            }
        }
    }
}
