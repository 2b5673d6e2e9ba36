/// SwiGLU's gate (Shazeer 2020), as in Llama's MLP: h = silu(a) ⊙ b, silu(a) = a·σ(a).
/// The forward keeps σ(a) for the backward, which then needs no exponential:
/// db = dh ⊙ a·σ(a); da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))), written (not accumulated): gate and
/// up feed nothing else.
public enum SwiGLU {
    public static let elementsPerTask = 1 << 14

    public static func forward(out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>,
                               gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let a = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
                let s = 1 / (1 + FastExp.exp8(-a))
                UnsafeMutableRawPointer(sigmoid + i).storeBytes(of: s, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + i).storeBytes(of: a * s * b, as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound {
                var lane = SIMD8<Float>(repeating: 0)
                lane[0] = -gate[i]
                let s = 1 / (1 + FastExp.exp8(lane)[0])
                sigmoid[i] = s
                out[i] = gate[i] * s * up[i]
                i += 1
            }
        }
    }

    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                sigmoid: UnsafePointer<Float>, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let a = gate[i], s = sigmoid[i]
                dup[i] = dout[i] * a * s
                dgate[i] = dout[i] * up[i] * s * (1 + a * (1 - s))
            }
        }
    }
}
