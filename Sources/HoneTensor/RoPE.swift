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
        Parallel.run(tasks: slices.count, threads: threads) { task in
            for bt in slices[task] {
                let p = start + bt % T
                for h in 0..<heads {
                    let v = x + (bt * heads + h) * D
                    for i in 0..<half {
                        let c = cos[p * half + i], s = inverse ? -sin[p * half + i] : sin[p * half + i]
                        let a = v[i], b = v[i + half]
                        v[i] = a * c - b * s
                        v[i + half] = b * c + a * s
                    }
                }
            }
        }
    }
}
