import HoneStore

/// Keys for the counter-based RNG: each (seed, stage, purpose) names an independent stream.
public enum RandomKey {
    /// SHA-256 of the three parts, length-prefixed so ("ab","c") and ("a","bc") differ; the first
    /// 8 bytes, little-endian.
    public static func derive(seed: UInt64, stage: String, purpose: String) -> UInt64 {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: seed.littleEndian) { bytes.append(contentsOf: $0) }
        for part in [stage, purpose] {
            let utf8 = Array(part.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        let digest = Digest.of(bytes).bytes
        var key: UInt64 = 0
        for i in 0..<8 { key |= UInt64(digest[i]) << (8 * UInt64(i)) }
        return key
    }
}
