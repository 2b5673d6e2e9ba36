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
        for stratum in strata.keys.sorted() {
            var groups = strata[stratum] ?? []
            rng.shuffle(&groups)
            let n = groups.count
            let nTrain = min(n, Int((Double(n) * ratios[0]).rounded()))
            let nVal = min(n - nTrain, Int((Double(n) * ratios[1]).rounded()))
            for (i, g) in groups.enumerated() { splitOfGroup[g] = i < nTrain ? 0 : (i < nTrain + nVal ? 1 : 2) }
        }
        return keys.map { splitOfGroup[$0.group] ?? 0 }
    }

    /// The label of a record as a string ("" when it has none).
    public static func label(_ record: Record) -> String {
        guard let v = record.fields["label"] else { return "" }
        return v.stringValue ?? v.canonical
    }
}
