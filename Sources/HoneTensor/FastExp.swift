import CFastMath

/// exp(x) for fp32 in eight lanes (CFastMath: AVX2 when the CPU has it, the same bits lane by
/// lane when not): x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes' expf
/// coefficients), 2^k from the exponent bits. Relative error under 2e-7 over the range softmax
/// and SiLU use (checked against Foundation's exp in Tests/HoneTensorTests/FastExpTests.swift);
/// libm's scalar expf was 4% of a training step, and Swift's own eight lanes, which it builds
/// as pairs of SSE operations, 2.8% (perf, config A).
public enum FastExp {
    /// The largest of x[0..<n] (−∞ when empty; NaNs are passed over, as `Swift.max` folded
    /// left to right passes them). Eight lanes: a scalar fold is one dependent compare per
    /// element (perf: 1% of a training step in the cross-entropy). max is exact, so the lanes
    /// give the fold's value (a tie between −0 and +0 aside, which a softmax shift cannot tell).
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        var i = 0
        var acc = SIMD8<Float>(repeating: -.infinity)
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc.replace(with: v, where: v .> acc)
            i += 8
        }
        var m = acc.max()
        while i < n { m = max(m, x[i]); i += 1 }
        return m
    }

    /// y[i] = exp(x[i] − shift) for i in 0..<n (y may be x); returns Σ y, summed in eight
    /// lanes then the tail, so its bits depend on n alone.
    @inline(__always)
    public static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        hone_exp_shifted(x, y, n, shift)
    }
}
