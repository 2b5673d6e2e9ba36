import Foundation

/// Causal scaled dot-product attention with grouped-query attention (H query heads share Hkv
/// key/value heads, H a multiple of Hkv). Forward and backward side by side; the probabilities
/// are kept for the backward.
///
/// Letters: B batch, T positions, H heads, Hkv key/value heads, D head dimension.
/// q[B, T, H, D], k and v[B, T, Hkv, D], out[B, T, H, D], probs[B, H, T, T] (upper half unused).
///
/// Tasks are (b, kv head) pairs: each runs every query head of its group in order, so the
/// gradients of a shared k/v head are summed in one fixed order whatever the thread count.
public enum Attention {
    public struct Shape: Sendable {
        public let B: Int, T: Int, H: Int, Hkv: Int, D: Int
        public init(B: Int, T: Int, H: Int, Hkv: Int, D: Int) {
            precondition(H % Hkv == 0, "heads must be a multiple of kv heads")
            self.B = B; self.T = T; self.H = H; self.Hkv = Hkv; self.D = D
        }
        var group: Int { H / Hkv }
    }

    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               _ s: Shape, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                for t in 0..<s.T {
                    let qt = q + ((b * s.T + t) * s.H + h) * s.D
                    let p = probs + ((b * s.H + h) * s.T + t) * s.T
                    var maxScore = -Float.infinity
                    for u in 0...t {
                        let ku = k + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        var dot: Float = 0
                        for d in 0..<s.D { dot += qt[d] * ku[d] }
                        p[u] = dot * scale
                        maxScore = max(maxScore, p[u])
                    }
                    var sum: Float = 0
                    for u in 0...t { p[u] = exp(p[u] - maxScore); sum += p[u] }
                    let inv = 1 / sum
                    for u in 0...t { p[u] *= inv }
                    let o = out + ((b * s.T + t) * s.H + h) * s.D
                    for d in 0..<s.D { o[d] = 0 }
                    for u in 0...t {
                        let vu = v + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        for d in 0..<s.D { o[d] += p[u] * vu[d] }
                    }
                }
            }
        }
    }

    /// dq, dk, dv accumulate (+=). dscore = p ⊙ (dp − Σ p·dp), with dp[t, u] = dout[t]·v[u].
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                _ s: Shape, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            var dp = [Float](repeating: 0, count: s.T)
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                for t in 0..<s.T {
                    let p = probs + ((b * s.H + h) * s.T + t) * s.T
                    let dot = dout + ((b * s.T + t) * s.H + h) * s.D
                    var weighted: Float = 0
                    for u in 0...t {
                        let vu = v + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        let dvu = dv + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        var x: Float = 0
                        for d in 0..<s.D { x += dot[d] * vu[d]; dvu[d] += p[u] * dot[d] }
                        dp[u] = x
                        weighted += p[u] * x
                    }
                    let qt = q + ((b * s.T + t) * s.H + h) * s.D
                    let dqt = dq + ((b * s.T + t) * s.H + h) * s.D
                    for u in 0...t {
                        let ds = p[u] * (dp[u] - weighted) * scale
                        let ku = k + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        let dku = dk + ((b * s.T + u) * s.Hkv + kvh) * s.D
                        for d in 0..<s.D { dqt[d] += ds * ku[d]; dku[d] += ds * qt[d] }
                    }
                }
            }
        }
    }
}
