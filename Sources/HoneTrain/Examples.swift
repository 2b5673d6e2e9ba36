import HoneBase
import HoneFormats

/// Training examples cut from token shards: each is T input tokens, their T next-token targets
/// and a loss mask over the targets.
///
/// - `packed` (pretraining): the documents joined into one stream (each already ends with its
///   template's end token), cut into windows of T + 1 tokens that overlap by one. Every target
///   is in the loss.
/// - `documents` (supervised): one document per example, cut at T + 1 tokens and padded; the
///   loss covers the targets the shard's mask marks (response tokens) and never the padding.
public struct Examples: Sendable {
    public enum Packing: String, Sendable { case packed, documents }

    public let T: Int
    public let count: Int
    let packing: Packing
    let stream: [Int32]
    let shard: TokenShard.Shard?
    /// Loss-bearing targets in each example (packed: always T), for batch normalisers.
    public let lossTokens: [Int]

    public init(shard: TokenShard.Shard, T: Int, packing: Packing, useMask: Bool) {
        self.T = T
        self.packing = packing
        switch packing {
        case .packed:
            let s = shard.tokens.map { Int32($0) }
            stream = s
            self.shard = nil
            count = max(0, (s.count - 1) / T)
            lossTokens = [Int](repeating: T, count: count)
        case .documents:
            stream = []
            let kept = useMask ? shard : TokenShard.Shard(tokens: shard.tokens, offsets: shard.offsets, mask: nil)
            self.shard = kept
            count = shard.documents
            lossTokens = (0..<shard.documents).map { d in
                let lo = Int(shard.offsets[d]), n = min(Int(shard.offsets[d + 1]) - lo, T + 1)
                guard n > 1 else { return 0 }
                guard let mask = kept.mask else { return n - 1 }
                return (1..<n).reduce(0) { $0 + (mask[lo + $1] != 0 ? 1 : 0) }
            }
        }
    }

    /// Writes example `i` into row buffers of length T.
    public func fill(_ i: Int, tokens: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>, mask: UnsafeMutablePointer<UInt8>) {
        switch packing {
        case .packed:
            let base = i * T
            for t in 0..<T {
                tokens[t] = stream[base + t]; targets[t] = stream[base + t + 1]; mask[t] = 1
            }
        case .documents:
            guard let shard else { return }
            let lo = Int(shard.offsets[i]), n = min(Int(shard.offsets[i + 1]) - lo, T + 1)
            for t in 0..<T {
                if t + 1 < n {
                    tokens[t] = Int32(shard.tokens[lo + t]); targets[t] = Int32(shard.tokens[lo + t + 1])
                    mask[t] = shard.mask.map { $0[lo + t + 1] } ?? 1
                } else {
                    tokens[t] = t < n ? Int32(shard.tokens[lo + t]) : 0; targets[t] = 0; mask[t] = 0
                }
            }
        }
    }

    /// The order of epoch `epoch`: a Fisher–Yates shuffle keyed by (key, epoch), or in order.
    public func order(epoch: Int, key: UInt64, shuffle: Bool) -> [Int] { epochOrder(count, epoch: epoch, key: key, shuffle: shuffle) }
}

/// The order of 0..<count in epoch `epoch`: a Fisher–Yates shuffle keyed by (key, epoch), or in order.
public func epochOrder(_ count: Int, epoch: Int, key: UInt64, shuffle: Bool) -> [Int] {
    var idx = Array(0..<count)
    if shuffle {
        var rng = CounterRNG(key: key ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        rng.shuffle(&idx)
    }
    return idx
}
