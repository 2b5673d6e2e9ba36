import Foundation

/// Attention of new rows to a KV cache, for generation: rows start..<start + n attend to
/// positions 0 through their own. Keys are cached transposed ([kv heads, D, positions], rows
/// `keyStride` apart) so a query's scores run along contiguous memory; values [positions, kv
/// heads, D]. Every value is summed in the order the scalar loops sum it (each score over j,
/// then ×scale; max, exp and the sum in order; weights p/sum; the mix over positions), so the
/// result does not depend on the vector width, the tasks or the threads.
public enum CachedAttention {
    /// Rows per task when several rows come at once (a prompt).
    static let rowsPerTask = 16

    /// Floats of scratch `forward` needs for up to `rows` rows.
    public static func scoresCount(rows: Int, heads: Int, positions: Int) -> Int {
        heads * Parallel.slices(rows, size: rowsPerTask).count * positions
    }

    /// out[r, head, :] for rows r < n, from q[r, head, :] (rotated), after the rows' own keys and
    /// values are in the cache. scores: scoresCount(rows: n, …) floats, rows `scoreStride` apart.
    public static func forward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys K: UnsafePointer<Float>, keyStride P: Int,
                               values V: UnsafePointer<Float>, scores sp: UnsafeMutablePointer<Float>, scoreStride R: Int,
                               start: Int, rows n: Int, heads: Int, kvHeads kv: Int, D: Int, threads: Int) {
        let scale = 1 / Float(D).squareRoot(), group = heads / kv, kvWidth = kv * D
        if n == 1 {
            // A generated token: scores by kv head and 128 positions (the group's heads share
            // each chunk of keys), then softmax and mix by head, so two threads share even one
            // row evenly.
            let positions = start + 1, chunks = Parallel.slices(positions, size: 128)
            Parallel.run(tasks: kv * chunks.count, threads: threads) { t in
                let kvh = t % kv
                scores(sp + kvh * group * R, rowStride: R, q: q + kvh * group * D, keys: K + kvh * D * P, stride: P,
                       positions: chunks[t / kv], D: D, group: group)
            }
            Parallel.run(tasks: heads, threads: threads) { head in
                softmax(sp + head * R, scale: scale, positions: positions)
                mix(out + head * D, weights: sp + head * R, rowStride: R, values: V + head / group * D, stride: kvWidth,
                    positions: positions, D: D, group: 1)
            }
            return
        }
        // One task per kv head and 16 rows: the heads that share a kv head read each chunk of its
        // keys and values once from memory; each task has its own scores rows.
        let rowChunks = Parallel.slices(n, size: rowsPerTask)
        Parallel.run(tasks: kv * rowChunks.count, threads: threads) { t in
            let kvh = t % kv, p = sp + t * group * R
            for r in rowChunks[t / kv] {
                let pos = start + r, first = r * heads + kvh * group
                scores(p, rowStride: R, q: q + first * D, keys: K + kvh * D * P, stride: P, positions: 0..<(pos + 1), D: D, group: group)
                for g in 0..<group { softmax(p + g * R, scale: scale, positions: pos + 1) }
                mix(out + first * D, weights: p, rowStride: R, values: V + kvh * D, stride: kvWidth, positions: pos + 1, D: D, group: group)
            }
        }
    }

    /// For each of `group` queries (q + g·D): p[g·rowStride + u] = Σ_j q[j]·k[j][u] for
    /// u in positions, keys transposed (row j at keys + j·stride). Sixteen positions at a time,
    /// all queries on one chunk of keys while it is in L1; each sum runs in j order with a product
    /// then an add, exactly as `for j { dot += q[j] * k[j] }` does.
    public static func scores(_ p: UnsafeMutablePointer<Float>, rowStride: Int, q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int,
                              positions: Range<Int>, D: Int, group: Int) {
        var u = positions.lowerBound
        while u + 16 <= positions.upperBound {
            for g in 0..<group {
                let qg = q + g * D
                var a0 = SIMD8<Float>(repeating: 0), a1 = SIMD8<Float>(repeating: 0)
                for j in 0..<D {
                    let qj = SIMD8<Float>(repeating: qg[j]), row = UnsafeRawPointer(keys + j * stride + u)
                    a0 += qj * row.loadUnaligned(as: SIMD8<Float>.self)
                    a1 += qj * row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                }
                let out = UnsafeMutableRawPointer(p + g * rowStride + u)
                out.storeBytes(of: a0, as: SIMD8<Float>.self)
                out.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
            }
            u += 16
        }
        while u < positions.upperBound {
            for g in 0..<group {
                var dot: Float = 0
                for j in 0..<D { dot += q[g * D + j] * keys[j * stride + u] }
                p[g * rowStride + u] = dot
            }
            u += 1
        }
    }

    /// For each of `group` heads: a[g·D + j] = Σ_u w[g·rowStride + u]·v[u][j] for j < D, in u
    /// order (value rows `stride` apart). Thirty-two (or sixteen) features and 64 positions at a
    /// time, all heads on one chunk of values while it is in L1; the same products and adds as a
    /// scalar loop.
    public static func mix(_ a: UnsafeMutablePointer<Float>, weights w: UnsafePointer<Float>, rowStride: Int, values: UnsafePointer<Float>,
                    stride: Int, positions: Int, D: Int, group: Int) {
        for i in 0..<(group * D) { a[i] = 0 }
        var from = 0
        while from < positions {
            let to = min(positions, from + 64)
            for g in 0..<group {
                let wg = w + g * rowStride, ag = a + g * D
                var j = 0
                while j + 32 <= D {
                    let out = UnsafeMutableRawPointer(ag + j)
                    var a0 = out.loadUnaligned(as: SIMD8<Float>.self), a1 = out.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    var a2 = out.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), a3 = out.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                    for u in from..<to {
                        let wu = SIMD8<Float>(repeating: wg[u]), row = UnsafeRawPointer(values + u * stride + j)
                        a0 += wu * row.loadUnaligned(as: SIMD8<Float>.self)
                        a1 += wu * row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                        a2 += wu * row.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                        a3 += wu * row.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                    }
                    out.storeBytes(of: a0, as: SIMD8<Float>.self)
                    out.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
                    out.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
                    out.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
                    j += 32
                }
                while j + 16 <= D {
                    let out = UnsafeMutableRawPointer(ag + j)
                    var a0 = out.loadUnaligned(as: SIMD8<Float>.self), a1 = out.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    for u in from..<to {
                        let wu = SIMD8<Float>(repeating: wg[u]), row = UnsafeRawPointer(values + u * stride + j)
                        a0 += wu * row.loadUnaligned(as: SIMD8<Float>.self)
                        a1 += wu * row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    }
                    out.storeBytes(of: a0, as: SIMD8<Float>.self)
                    out.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
                    j += 16
                }
                while j < D {
                    var acc = ag[j]
                    for u in from..<to { acc += wg[u] * values[u * stride + j] }
                    ag[j] = acc
                    j += 1
                }
            }
            from = to
        }
    }

    /// softmax(scale · p[0..<positions]) in place, as probabilities: max, then exp and the sum in
    /// order, then each divided by the sum.
    public static func softmax(_ p: UnsafeMutablePointer<Float>, scale: Float, positions: Int) {
        var mx = -Float.infinity
        for u in 0..<positions {
            p[u] *= scale
            mx = max(mx, p[u])
        }
        var sum: Float = 0
        for u in 0..<positions { p[u] = exp(p[u] - mx); sum += p[u] }
        for u in 0..<positions { p[u] /= sum }
    }
}
