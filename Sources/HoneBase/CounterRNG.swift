/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
/// counter-based generator, the one PyTorch and JAX use. Block `i` of stream `key` is a pure
/// function of (key, i), so a stream can be resumed from a saved position, split across threads
/// by index, and never depends on who asked first.
///
/// Keys come from (pipeline seed, stage name, purpose); see `RandomKey` in HonePipeline.
public struct CounterRNG: Sendable, Equatable {
    public let key: UInt64
    /// How many 32-bit words have been drawn: the whole state besides the key.
    public private(set) var position: UInt64

    private var block: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)

    public init(key: UInt64, position: UInt64 = 0) {
        self.key = key
        self.position = position
        if position % 4 != 0 { block = CounterRNG.block(key: key, index: position / 4) }
    }

    public static func == (a: Self, b: Self) -> Bool { a.key == b.key && a.position == b.position }

    /// The 4 words of block `index`.
    public static func block(key: UInt64, index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: index), c1 = UInt32(truncatingIfNeeded: index >> 32)
        var c2: UInt32 = 0, c3: UInt32 = 0
        var k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) * UInt64(c0), p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    public mutating func next() -> UInt32 {
        let lane = position % 4
        if lane == 0 { block = CounterRNG.block(key: key, index: position / 4) }
        position += 1
        switch lane {
        case 0: return block.0
        case 1: return block.1
        case 2: return block.2
        default: return block.3
        }
    }

    public mutating func nextUInt64() -> UInt64 { UInt64(next()) << 32 | UInt64(next()) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(nextUInt64() >> 11) * 0x1p-53 }

    /// Uniform in 0..<n without modulo bias (Lemire's multiply-and-reject).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "below(0)")
        let bound = UInt64(n)
        while true {
            let (hi, lo) = nextUInt64().multipliedFullWidth(by: bound)
            if lo >= (0 &- bound) % bound { return Int(hi) }
        }
    }

    /// Fisher–Yates, from the back.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }
}
