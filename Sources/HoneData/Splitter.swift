import HoneBase

/// split: assigns records to train / val / test by seed, keeping every group (records sharing a
/// `group_by` key, e.g. the same prompt) in one split so nothing leaks between them, and
/// stratifying by label when records have one so each split keeps the label mix.
public enum Splitter {
    public struct Key: Sendable, Hashable {
        public let group: String
        public let stratum: String
        public init(group: String, stratum: String) { self.group = group; self.stratum = stratum }
    }

    /// The split (0 train, 1 val, 2 test) of each record, given each record's key.
    /// Groups are shuffled within their stratum by `rngKey`, then cut by `ratios`; the same keys
    /// and seed always give the same assignment, whatever the thread count or the machine.
    public static func assign(_ keys: [Key], ratios: [Double], rngKey: UInt64) -> [Int] {
        var groupOrder: [String] = []
        var groupStratum: [String: String] = [:]
        for k in keys where groupStratum[k.group] == nil {
            groupStratum[k.group] = k.stratum
            groupOrder.append(k.group)
        }
        var strata: [String: [String]] = [:]
        for g in groupOrder { strata[groupStratum[g] ?? "", default: []].append(g) }
        var rng = CounterRNG(key: rngKey)
        var splitOfGroup: [String: Int] = [:]
        // Largest remainder with the remainders carried from stratum to stratum: each stratum
        // gets its share, and with many small strata (fine-grained labels) the fractions add up
        // across them instead of every one-record label landing in train.
        var carry = [Double](repeating: 0, count: ratios.count)
        for stratum in strata.keys.sorted() {
            var groups = strata[stratum] ?? []
            rng.shuffle(&groups)
            let n = groups.count
            let want = ratios.indices.map { Double(n) * ratios[$0] + carry[$0] }
            var take = want.map { max(0, Int($0.rounded(.down))) }
            var left = n - take.reduce(0, +)
            // Hand the rest to the largest fractions (ties: the earlier split).
            let order = ratios.indices.sorted { (want[$0] - Double(take[$0]), -$0) > (want[$1] - Double(take[$1]), -$1) }
            for k in order where left > 0 { take[k] += 1; left -= 1 }
            while take.reduce(0, +) > n, let k = take.indices.last(where: { take[$0] > 0 }) { take[k] -= 1 }
            for k in ratios.indices { carry[k] = want[k] - Double(take[k]) }
            var i = 0
            for (k, count) in take.enumerated() {
                for g in groups[i..<min(n, i + count)] { splitOfGroup[g] = k }
                i += count
            }
        }
        return keys.map { splitOfGroup[$0.group] ?? 0 }
    }

    /// The label of a record as a string ("" when it has none).
    public static func label(_ record: Record) -> String {
        guard let v = record.fields["label"] else { return "" }
        return v.stringValue ?? v.canonical
    }
}
