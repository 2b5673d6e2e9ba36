import Foundation

/// Softmax cross-entropy over the vocabulary with a loss mask, fused: the loss is the mean over
/// the rows in the mask of −log softmax(logits)[target], and dlogits = (softmax − onehot)/n for
/// those rows, 0 for the others (n = rows in the mask). Rows run in fixed tasks; the loss is
/// summed over rows afterwards in row order, so its bits do not depend on the thread count.
/// `dlogits` may be `logits` itself (computed in place).
public enum CrossEntropy {
    public static let rowsPerTask = 16

    /// Returns the mean loss over masked rows (0 when none). `mask` nil means every row.
    /// `losses` (M) receives each row's loss (0 outside the mask).
    /// `normalizer` replaces n when the batch is one micro-batch of several: dividing by the
    /// masked rows of the whole batch makes k micro-batches sum to the gradient of one.
    public static func forwardBackward(dlogits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>,
                                       logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                                       mask: UnsafePointer<UInt8>?, M: Int, V: Int, normalizer: Int? = nil,
                                       threads: Int) -> Float {
        var n = 0
        for i in 0..<M where mask.map({ $0[i] != 0 }) ?? true { n += 1 }
        if let normalizer { n = normalizer }
        let scale = n > 0 ? 1 / Float(n) : 0
        let slices = Parallel.slices(M, size: rowsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let z = logits + i * V, d = dlogits + i * V
                guard mask.map({ $0[i] != 0 }) ?? true else {
                    losses[i] = 0
                    d.update(repeating: 0, count: V)
                    continue
                }
                let maxz = FastExp.maximum(z, count: V)
                let target = Int(targets[i])
                let zTarget = z[target]  // read before d (possibly z itself) is written
                let sum = FastExp.expShifted(z, d, count: V, shift: maxz)
                losses[i] = log(sum) + maxz - zTarget
                let inv = 1 / sum
                for j in 0..<V { d[j] = d[j] * inv * scale }
                d[target] -= scale
            }
        }
        var total: Float = 0
        for i in 0..<M { total += losses[i] }
        return total * scale
    }
}
