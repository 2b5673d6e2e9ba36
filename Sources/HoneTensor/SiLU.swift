import CFastMath

/// SiLU (Swish), silu(x) = x·σ(x), on its own: the bottleneck adapter's nonlinearity. The forward
/// (CFastMath's hone_silu, with FastExp's exponential) keeps σ(x), so the backward,
/// dx = dy·σ(x)·(1 + x·(1 − σ(x))), needs no exponential.
public enum SiLU {
    public static let elementsPerTask = 1 << 14

    /// out = silu(inp) (⊙ `times`, SwiGLU's product, when given); sigmoid = σ(inp) when given.
    public static func forward(out: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>?,
                               inp: UnsafePointer<Float>, times: UnsafePointer<Float>? = nil, count: Int, threads: Int) {
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            hone_silu(inp + r.lowerBound, times.map { $0 + r.lowerBound }, sigmoid.map { $0 + r.lowerBound }, out + r.lowerBound, r.count)
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
