import HoneBase

/// Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p). The
/// mask is a pure function of (key, offset + element index) — element i draws word
/// `offset + i` of the counter-based stream — so slices can be drawn by any thread, and a
/// resumed run draws the same mask. The mask is kept (0 or 1/(1 − p)) for the backward.
public enum Dropout {
    public static let elementsPerTask = 1 << 14

    /// mask[i] = 0 or 1/(1 − p); x[i] *= mask[i].
    public static func forward(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count: Int,
                               p: Float, key: UInt64, offset: UInt64, threads: Int) {
        let threshold = UInt32(min(Double(p) * 4_294_967_296, 4_294_967_295))
        let scale = 1 / (1 - p)
        let slices = Parallel.slices(count, size: elementsPerTask)
        Parallel.run(tasks: slices.count, threads: threads) { t in
            let r = slices[t]
            var rng = CounterRNG(key: key, position: offset + UInt64(r.lowerBound))
            for i in r {
                mask[i] = rng.next() < threshold ? 0 : scale
                x[i] *= mask[i]
            }
        }
    }

    /// dx[i] = dy[i] · mask[i], into `out` (which may be dy itself).
    public static func backward(out: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = dout[i] * mask[i] }
    }
}
