import HoneFormats

/// Replay against forgetting (as continued-pretraining recipes mix general text back in): whole
/// documents from the start of a general corpus's train shard are appended to the training
/// shard until they make `fraction` of the mixed tokens; the seeded shuffle then interleaves them.
///
///     fraction 0.25 of a 3,000-token domain shard -> about 1,000 replay tokens (1,000 / 4,000)
enum Replay {
    static func mix(_ train: TokenShard.Shard, with general: TokenShard.Shard, fraction f: Double) -> (TokenShard.Shard, replayTokens: Int) {
        let want = Int((Double(train.tokens.count) * f / (1 - f)).rounded())
        var tokens = train.tokens, offsets = train.offsets
        var mask: [UInt8]? = train.mask.map { $0 }
        var taken = 0, d = 0
        while taken < want && d < general.documents {
            let doc = general.document(d)
            tokens += doc
            if mask != nil {
                // A replay document keeps its own loss mask; plain text (no mask) is all in the loss.
                if let gm = general.mask { mask? += gm[Int(general.offsets[d])..<Int(general.offsets[d + 1])] } else { mask? += Array(repeating: 1, count: doc.count) }
            }
            taken += doc.count
            offsets.append(UInt64(tokens.count))
            d += 1
        }
        return (TokenShard.Shard(tokens: tokens, offsets: offsets, mask: mask), taken)
    }
}
