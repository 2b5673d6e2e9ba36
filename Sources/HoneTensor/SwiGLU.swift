import Foundation

/// SwiGLU's gate (Shazeer 2020), as in Llama's MLP: h = silu(a) ⊙ b, silu(a) = a·σ(a).
/// Backward: db = dh ⊙ silu(a); da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))).
public enum SwiGLU {
    public static let elementsPerTask = 1 << 14

    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let a = gate[i]
                out[i] = a / (1 + exp(-a)) * up[i]
            }
        }
    }

    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let a = gate[i], s = 1 / (1 + exp(-a))
                dup[i] += dout[i] * a * s
                dgate[i] += dout[i] * up[i] * s * (1 + a * (1 - s))
            }
        }
    }
}
