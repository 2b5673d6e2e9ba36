import Foundation

/// Rotary position embedding in Hugging Face Llama's layout ("rotate half"): for head dimension
/// D and position p, the pairs (x[i], x[i + D/2]) turn by the angle p·θ^(−2i/D).
/// (GGUF files store q/k rows permuted for the interleaved layout: importers un-permute them,
/// see ../shared/REFERENCE.md §4, so this one layout serves both.)
///
/// Layout: x[B, T, heads, D], rotated in place; row t sits at position start + t (a KV cache's
/// new rows). Backward turns the gradient back by −angle.
public enum RoPE {
    /// cos and sin tables [T, D/2] for positions 0..<T.
    public static func tables(T: Int, D: Int, theta: Double) -> (cos: [Float], sin: [Float]) {
        var c = [Float](repeating: 0, count: T * D / 2), s = c
        for p in 0..<T {
            for i in 0..<(D / 2) {
                let angle = Double(p) * pow(theta, -2 * Double(i) / Double(D))
                c[p * D / 2 + i] = Float(Foundation.cos(angle))
                s[p * D / 2 + i] = Float(Foundation.sin(angle))
            }
        }
        return (c, s)
    }

    public static func apply(_ x: UnsafeMutablePointer<Float>, B: Int, T: Int, heads: Int, D: Int,
                             cos: [Float], sin: [Float], start: Int = 0, inverse: Bool = false, threads: Int) {
        let half = D / 2
        // 64 positions per task: a task per position spent more on taking tasks than rotating.
        let slices = Parallel.slices(B * T, size: 64)
        // −sin as sin · −1 (exact); pointers, not the arrays, in the loop: their bounds checks
        // kept it from vectorizing (perf: 0.9% of a training step).
        let sign: Float = inverse ? -1 : 1
        cos.withUnsafeBufferPointer { cosTable in
            sin.withUnsafeBufferPointer { sinTable in
                guard let cosBase = cosTable.baseAddress, let sinBase = sinTable.baseAddress else { return }
                precondition(cosTable.count >= (start + T) * half && sinTable.count == cosTable.count, "RoPE tables shorter than the positions")
                Parallel.run(tasks: slices.count, threads: threads) { task in
                    for bt in slices[task] {
                        let p = start + bt % T, cp = cosBase + p * half, sp = sinBase + p * half
                        for h in 0..<heads {
                            let v = x + (bt * heads + h) * D, w = v + half
                            for i in 0..<half {
                                let c = cp[i], s = sp[i] * sign
                                let a = v[i], b = w[i]
                                v[i] = a * c - b * s
                                w[i] = b * c + a * s
                            }
                        }
                    }
                }
            }
        }
    }
}
