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
        typealias F8 = SIMD8<Float>
        // Eight lanes by hand, the same operations in the same order as the tail's: the compiler
        // did not vectorize the loop (five pointers it cannot prove apart).
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let a = UnsafeRawPointer(gate + i).loadUnaligned(as: F8.self), s = UnsafeRawPointer(sigmoid + i).loadUnaligned(as: F8.self)
                let dh = UnsafeRawPointer(dout + i).loadUnaligned(as: F8.self), b = UnsafeRawPointer(up + i).loadUnaligned(as: F8.self)
                UnsafeMutableRawPointer(dup + i).storeBytes(of: dh * a * s, as: F8.self)
                UnsafeMutableRawPointer(dgate + i).storeBytes(of: dh * b * s * (1 + a * (1 - s)), as: F8.self)
                i += 8
            }
            while i < r.upperBound {
                let a = gate[i], s = sigmoid[i]
                dup[i] = dout[i] * a * s
                dgate[i] = dout[i] * up[i] * s * (1 + a * (1 - s))
                i += 1
            }
        }
    }
}
