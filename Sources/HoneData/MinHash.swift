import HoneBase

/// Near-duplicate detection: MinHash signatures over word n-gram shingles, with LSH banding to
/// find candidates and the signatures' agreement as the Jaccard estimate (Broder 1997; Leskovec,
/// Rajaraman & Ullman, "Mining of Massive Datasets", ch. 3).
public struct MinHash {
    public let permutations: Int
    public let bands: Int
    public let shingleWords: Int
    private let seeds: [UInt64]

    /// `permutations` must be a multiple of `bands`. With 128 = 16 bands × 8 rows, a pair at
    /// Jaccard 0.9 becomes a candidate with probability 1 − (1 − 0.9⁸)¹⁶ ≈ 0.99999.
    public init(key: UInt64, permutations: Int = 128, bands: Int = 16, shingleWords: Int = 5) {
        self.permutations = permutations; self.bands = bands; self.shingleWords = shingleWords
        var rng = CounterRNG(key: key)
        seeds = (0..<permutations).map { _ in rng.nextUInt64() }
    }

    /// Word n-gram shingles of a dedupe-normalised text, hashed; a text shorter than n words is
    /// one shingle.
    public func shingles(_ text: String) -> [UInt64] {
        let words = text.split(separator: " ")
        if words.count <= shingleWords { return [Normalize.fnv1a(Substring(text).utf8)] }
        return (0...(words.count - shingleWords)).map { i in
            Normalize.fnv1a(Substring(words[i..<(i + shingleWords)].joined(separator: " ")).utf8)
        }
    }

    public func signature(_ text: String) -> [UInt32] {
        let hashes = shingles(text)
        return seeds.map { seed in
            var m = UInt32.max
            for h in hashes { m = min(m, UInt32(truncatingIfNeeded: MinHash.mix(h ^ seed))) }
            return m
        }
    }

    /// One hash per band (band index mixed in, so equal rows in different bands do not collide).
    public func bandKeys(_ signature: [UInt32]) -> [UInt64] {
        let rows = permutations / bands
        return (0..<bands).map { b in
            var h = UInt64(b) &* 0x9E37_79B9_7F4A_7C15
            for v in signature[(b * rows)..<((b + 1) * rows)] { h = MinHash.mix(h ^ UInt64(v)) }
            return h
        }
    }

    public static func similarity(_ a: [UInt32], _ b: [UInt32]) -> Double {
        Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }

    /// SplitMix64's finaliser.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
