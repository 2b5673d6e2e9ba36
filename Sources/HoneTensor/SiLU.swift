/// SiLU (Swish), silu(x) = x·σ(x), on its own: the bottleneck adapter's nonlinearity. The forward
/// keeps σ(x), so the backward, dx = dy·σ(x)·(1 + x·(1 − σ(x))), needs no exponential.
public enum SiLU {
    public static let elementsPerTask = 1 << 14

    /// out = silu(inp) (⊙ `times`, SwiGLU's product, when given); sigmoid = σ(inp).
    public static func forward(out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, times: UnsafePointer<Float>? = nil, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let x = UnsafeRawPointer(inp + i).loadUnaligned(as: SIMD8<Float>.self)
                let s = 1 / (1 + FastExp.exp8(-x))
                UnsafeMutableRawPointer(sigmoid + i).storeBytes(of: s, as: SIMD8<Float>.self)
                var y = x * s
                if let times { y *= UnsafeRawPointer(times + i).loadUnaligned(as: SIMD8<Float>.self) }
                UnsafeMutableRawPointer(out + i).storeBytes(of: y, as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound {
                var lane = SIMD8<Float>(repeating: 0)
                lane[0] = -inp[i]
                let s = 1 / (1 + FastExp.exp8(lane)[0])
                sigmoid[i] = s
                out[i] = inp[i] * s * (times?[i] ?? 1)
                i += 1
            }
        }
    }

    /// dinp = dout · silu'(inp), written (not accumulated).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                sigmoid: UnsafePointer<Float>, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            for i in slices[t] {
                let x = inp[i], s = sigmoid[i]
                dinp[i] = dout[i] * s * (1 + x * (1 - s))
            }
        }
    }
}
