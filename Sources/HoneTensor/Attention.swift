import CBLAS
import Foundation

/// Causal scaled dot-product attention with grouped-query attention (H query heads share Hkv
/// key/value heads, H a multiple of Hkv). Forward and backward side by side; the probabilities
/// are kept for the backward. Every product is an sgemm on strided head views (a head is every
/// H·D-th run of D floats), so attention runs at matmul speed; the causal half above the
/// diagonal is computed and zeroed, which costs less than scalar loops over the lower half.
///
/// Letters: B batch, T positions, H heads, Hkv key/value heads, D head dimension.
/// q[B, T, H, D], k and v[B, T, Hkv, D], out[B, T, H, D], probs[B, H, T, T] (zero above the diagonal).
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

    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               _ s: Shape, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        let T = Int32(s.T), D = Int32(s.D), qStride = Int32(s.H * s.D), kvStride = Int32(s.Hkv * s.D)
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            let kh = k + b * s.T * s.Hkv * s.D + kvh * s.D, vh = v + b * s.T * s.Hkv * s.D + kvh * s.D
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                let qh = q + b * s.T * s.H * s.D + h * s.D
                let p = probs + (b * s.H + h) * s.T * s.T
                // scores = scale · Q Kᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qh, qStride, kh, kvStride, 0, p, T)
                for t in 0..<s.T {
                    let row = p + t * s.T
                    let inv = 1 / FastExp.expShifted(row, row, count: t + 1, shift: FastExp.maximum(row, count: t + 1))
                    for u in 0...t { row[u] *= inv }
                    for u in (t + 1)..<s.T { row[u] = 0 }
                }
                // out = P V
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1, p, T, vh, kvStride, 0,
                            out + b * s.T * s.H * s.D + h * s.D, qStride)
            }
        }
    }

    /// dq, dk, dv are written (not accumulated): dk and dv sum the heads of their group, first
    /// head included with beta 0. dscore = p ⊙ (dp − Σ p·dp), with dp = dout · Vᵀ.
    /// `scratch` holds `s.scratchCount` floats.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>, _ s: Shape, threads: Int) {
        let scale = 1 / Float(s.D).squareRoot()
        let T = Int32(s.T), D = Int32(s.D), qStride = Int32(s.H * s.D), kvStride = Int32(s.Hkv * s.D)
        Parallel.run(tasks: s.B * s.Hkv, threads: threads) { task in
            let b = task / s.Hkv, kvh = task % s.Hkv
            let kvOffset = b * s.T * s.Hkv * s.D + kvh * s.D
            let kh = k + kvOffset, vh = v + kvOffset, dkh = dk + kvOffset, dvh = dv + kvOffset
            let ds = scratch + task * s.T * s.T
            for h in (kvh * s.group)..<((kvh + 1) * s.group) {
                let qOffset = b * s.T * s.H * s.D + h * s.D
                let p = probs + (b * s.H + h) * s.T * s.T
                let beta: Float = h == kvh * s.group ? 0 : 1
                // dV += Pᵀ dO; dP = dO Vᵀ
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1, p, T, dout + qOffset, qStride, beta, dvh, kvStride)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1, dout + qOffset, qStride, vh, kvStride, 0, ds, T)
                for t in 0..<s.T {
                    let pr = p + t * s.T, dr = ds + t * s.T
                    var weighted: Float = 0
                    for u in 0...t { weighted += pr[u] * dr[u] }
                    for u in 0...t { dr[u] = pr[u] * (dr[u] - weighted) * scale }
                    for u in (t + 1)..<s.T { dr[u] = 0 }
                }
                // dQ = dS K; dK += dSᵀ Q
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1, ds, T, kh, kvStride, 0, dq + qOffset, qStride)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1, ds, T, q + qOffset, qStride, beta, dkh, kvStride)
            }
        }
    }
}
