import Foundation

/// Causal scaled dot-product attention with grouped-query attention (H query heads share Hkv
/// key/value heads, H a multiple of Hkv). Forward and backward side by side; the probabilities
/// are kept for the backward. Every product is an sgemm on strided head views (a head is every
/// H·D-th run of D floats), so attention runs at matmul speed. The causal mask is taken in
/// blocks of positions (`block`): blocks wholly above the diagonal are skipped, and within the
/// diagonal blocks the masked scores are computed and zeroed, which costs less than scalar loops.
/// Columns past a query block's end are neither written nor read, by the forward or the
/// backward (a test fills them with NaN): zeroing them wrote a quarter of `probs` and of the
/// backward's dS at T 128 in blocks of 64 (three eighths at T 256) that nothing read.
///
/// Letters: B batch, T positions, H heads, Hkv key/value heads, D head dimension.
/// q[B, T, H, D], k and v[B, T, Hkv, D], out[B, T, H, D], probs[B, H, T, T]: row t holds the
/// probabilities of keys 0...t, then zeros to the end of t's block.
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
        /// Floats of backward scratch: one T×T block per task.
        public var scratchCount: Int { B * Hkv * T * T }
    }

    /// Positions per block of the causal skip. Query block [t0, t1) only needs keys below t1, and
    /// key block [u0, u1) only gets gradient from queries from u0 on: at T 128, blocks of 64
    /// skip a quarter of every attention product, at T 256 three eighths; attention's forward
    /// and backward took 12–25% less time at configs A and B (blocks of 32 gained no more).
    /// The block size is part of the bits: OpenBLAS's kernel does not group a shortened dot
    /// product's terms as it grouped the whole one, though the terms dropped are zeros.
    public static let block = 64

    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               _ s: Shape, block: Int = block, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        let T = s.T, D = s.D, qStride = s.H * s.D, kvStride = s.Hkv * s.D
        let blocks = Parallel.slices(T, size: block)
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            let kh = k + b * T * s.Hkv * s.D + kvh * s.D, vh = v + b * T * s.Hkv * s.D + kvh * s.D
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                let qh = q + b * T * s.H * s.D + h * s.D, oh = out + b * T * s.H * s.D + h * s.D
                let p = probs + (b * s.H + h) * T * T
                for rows in blocks {
                    let t0 = rows.lowerBound, n = rows.count, keys = rows.upperBound
                    // scores = scale · Q Kᵀ, keys below the block's end
                    gemm(false, true, n, keys, D, scale, qh + t0 * qStride, qStride, kh, kvStride, 0, p + t0 * T, T)
                    for t in rows {
                        let row = p + t * T
                        let inv = 1 / FastExp.expShifted(row, row, count: t + 1, shift: FastExp.maximum(row, count: t + 1))
                        for u in 0...t { row[u] *= inv }
                        for u in (t + 1)..<keys { row[u] = 0 }
                    }
                    // out = P V
                    gemm(false, false, n, D, keys, 1, p + t0 * T, T, vh, kvStride, 0, oh + t0 * qStride, qStride)
                }
            }
        }
    }

    /// dq, dk, dv are written (not accumulated): dk and dv sum the heads of their group, first
    /// head included with beta 0. dscore = p ⊙ (dp − Σ p·dp), with dp = dout · Vᵀ.
    /// `scratch` holds `s.scratchCount` floats.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>, _ s: Shape, block: Int = block, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        let T = s.T, D = s.D, qStride = s.H * s.D, kvStride = s.Hkv * s.D
        let blocks = Parallel.slices(T, size: block)
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            let kvOffset = b * T * s.Hkv * s.D + kvh * s.D
            let kh = k + kvOffset, vh = v + kvOffset, dkh = dk + kvOffset, dvh = dv + kvOffset
            let ds = scratch + task * T * T
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                let qh = q + b * T * s.H * s.D + h * s.D, doh = dout + b * T * s.H * s.D + h * s.D
                let dqh = dq + b * T * s.H * s.D + h * s.D
                let p = probs + (b * s.H + h) * T * T
                let beta: Float = h == kvh * s.group ? 0 : 1
                for rows in blocks {
                    let t0 = rows.lowerBound, n = rows.count, keys = rows.upperBound
                    // dV += Pᵀ dO for the keys of the block, from the queries at or after it
                    gemm(true, false, n, D, T - t0, 1, p + t0 * T + t0, T, doh + t0 * qStride, qStride, beta, dvh + t0 * kvStride, kvStride)
                    // dP = dO Vᵀ for the queries of the block
                    gemm(false, true, n, keys, D, 1, doh + t0 * qStride, qStride, vh, kvStride, 0, ds + t0 * T, T)
                    for t in rows {
                        let pr = p + t * T, dr = ds + t * T
                        let weighted = Lanes.dot(pr, dr, count: t + 1)
                        for u in 0...t { dr[u] = pr[u] * (dr[u] - weighted) * scale }
                        for u in (t + 1)..<keys { dr[u] = 0 }
                    }
                    // dQ = dS K
                    gemm(false, false, n, D, keys, 1, ds + t0 * T, T, kh, kvStride, 0, dqh + t0 * qStride, qStride)
                }
                // dK += dSᵀ Q, once every row of dS is done: key block [u0, u1) from queries u0 on
                for cols in blocks {
                    let u0 = cols.lowerBound
                    gemm(true, false, cols.count, D, T - u0, 1, ds + u0 * T + u0, T, qh + u0 * qStride, qStride, beta, dkh + u0 * kvStride, kvStride)
                }
            }
        }
    }
}
