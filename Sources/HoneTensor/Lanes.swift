/// Dot products summed in eight lanes. A scalar `s += a[i] * b[i]` is one dependent add per
/// element, four cycles each; eight independent lanes keep the adder busy (perf: the attention
/// backward's row sums Σ p·dp were such a chain). The order is fixed — lane j sums the
/// elements j, j+8, j+16, …, the lanes are added as `SIMD8.sum()` adds them, then the tail in
/// order — so the bits depend on the count alone, never on the thread count.
public enum Lanes {
    typealias F8 = SIMD8<Float>

    /// Σ a[i]·b[i] for i in 0..<n.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        var acc = F8(repeating: 0)
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: F8.self) * UnsafeRawPointer(b + i).loadUnaligned(as: F8.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}
