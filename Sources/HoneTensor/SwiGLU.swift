/// SwiGLU's gate (Shazeer 2020), as in Llama's MLP: h = silu(a) ⊙ b, silu(a) = a·σ(a).
/// The forward keeps σ(a) for the backward, which then needs no exponential:
/// db = dh ⊙ a·σ(a); da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))), written (not accumulated): gate and
/// up feed nothing else.
public enum SwiGLU {
    public static func forward(out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>,
                               gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, threads: Int) {
        SiLU.forward(out: out, sigmoid: sigmoid, inp: gate, times: up, count: count, threads: threads)
    }

    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                sigmoid: UnsafePointer<Float>, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: SiLU.elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let a = gate[i], s = sigmoid[i]
                dup[i] = dout[i] * a * s
                dgate[i] = dout[i] * up[i] * s * (1 + a * (1 - s))
            }
        }
    }
}
