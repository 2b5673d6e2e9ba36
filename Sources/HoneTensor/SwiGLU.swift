import CFastMath

/// SwiGLU's gate (Shazeer 2020), as in Llama's MLP: h = silu(a) ⊙ b, silu(a) = a·σ(a).
/// db = dh ⊙ a·σ(a); da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))), written (not accumulated): gate and
/// up feed nothing else. The backward takes σ(a) again, with the forward's own code and so its
/// bits, rather than keep it: one exponential an element costs less than writing σ in the
/// forward and reading it back (a buffer of rows × ffn floats a layer, 100 MB in config B).
public enum SwiGLU {
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               count: Int, threads: Int) {
        SiLU.forward(out: out, sigmoid: nil, inp: gate, times: up, count: count, threads: threads)
    }

    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: SiLU.elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let i = slices[t].lowerBound
            hone_swiglu_backward(gate + i, up + i, dout + i, dgate + i, dup + i, slices[t].count)
        }
    }
}
