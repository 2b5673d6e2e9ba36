/// GPT-2's byte-level alphabet: every byte is one printable character, so any UTF-8 text (even
/// invalid) becomes a string BPE can work on and nothing is unknown. Printable Latin-1 bytes map
/// to themselves; the 68 others (controls, space, DEL, NBSP, soft hyphen) to U+0100 onwards, in
/// byte order.
public enum ByteLevel {
    /// `unicode[b]` is the character byte `b` stands for.
    public static let unicode: [Character] = {
        var out = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            // Both ranges (below 0x100, and 0x100...0x143) are valid scalars.
            let scalar = Unicode.Scalar(printable ? UInt32(b) : next) ?? "?"
            out[b] = Character(scalar)
            if !printable { next += 1 }
        }
        return out
    }()

    /// The inverse: character -> byte.
    public static let byteOf: [Character: UInt8] = {
        var out: [Character: UInt8] = [:]
        for (b, c) in unicode.enumerated() { out[c] = UInt8(b) }
        return out
    }()

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        String(bytes.map { unicode[Int($0)] })
    }

    /// Bytes of a byte-level string; nil when it holds a character outside the alphabet.
    public static func decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        for c in s { guard let b = byteOf[c] else { return nil }; out.append(b) }
        return out
    }
}
