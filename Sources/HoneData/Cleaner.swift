import HoneBase

/// clean: normalise every record's text, drop records that are empty, too short or too long,
/// exact duplicates (after normalisation: case, punctuation, whitespace) and near duplicates
/// (MinHash over word 5-grams, Jaccard ≥ threshold). Every removal is reported with its reason,
/// and a duplicate with the record it repeats. Streams: kept records are emitted as they come.
public struct Cleaner {
    public struct Options: Sendable {
        public var minChars = 1
        public var maxChars = 1_000_000
        public var minWords = 1
        public var maxWords = 1_000_000
        public var dedupeExact = true
        /// Jaccard similarity at or above which a record is a near duplicate; nil disables.
        public var nearDuplicateThreshold: Double? = 0.9
        public var shingleWords = 5
        public var minhashKey: UInt64 = 0
        public init() {}
    }

    public struct Stats: Sendable, Equatable {
        public var read = 0, kept = 0, malformed = 0, empty = 0, tooShort = 0, tooLong = 0
        public var exactDuplicates = 0, nearDuplicates = 0
        public var removed: Int { malformed + empty + tooShort + tooLong + exactDuplicates + nearDuplicates }
    }

    let options: Options
    let minhash: MinHash?
    private var exact: [String: RecordSource] = [:]
    private var bandIndex: [UInt64: [Int]] = [:]
    private var keptSignatures: [(signature: [UInt32], source: RecordSource)] = []
    public private(set) var stats = Stats()

    public init(options: Options) {
        self.options = options
        minhash = options.nearDuplicateThreshold.map { _ in MinHash(key: options.minhashKey, shingleWords: options.shingleWords) }
    }

    /// One record (or reject) from the reader in; the cleaned record out, or why not.
    public mutating func take(_ input: Result<Record, Reject>, format: RecordFormat) -> Result<Record, Reject> {
        stats.read += 1
        var record: Record
        switch input {
        case let .failure(r): stats.malformed += 1; return .failure(r)
        case let .success(r): record = r
        }
        for field in format.textFields {
            if let s = record.fields[field]?.stringValue { record.fields[field] = .string(Normalize.text(s)) }
        }
        if format == .chat, let messages = record.fields["messages"]?.arrayValue {
            record.fields["messages"] = .array(messages.map { m in
                var o = m.objectValue ?? [:]
                if let c = o["content"]?.stringValue { o["content"] = .string(Normalize.text(c)) }
                return .object(o)
            })
        }
        for field in format.requiredFields where field != "label" {
            if let s = record.fields[field]?.stringValue, s.isEmpty {
                stats.empty += 1
                return .failure(Reject(source: record.source, reason: "empty '\(field)'"))
            }
        }
        let text = record.text(format)
        let chars = text.count
        let words = text.split(whereSeparator: \.isWhitespace).count
        if chars < options.minChars || words < options.minWords {
            stats.tooShort += 1
            return .failure(Reject(source: record.source, reason: "too short: \(chars) characters, \(words) words (min_chars \(options.minChars), min_words \(options.minWords))"))
        }
        if chars > options.maxChars || words > options.maxWords {
            stats.tooLong += 1
            return .failure(Reject(source: record.source, reason: "too long: \(chars) characters, \(words) words (max_chars \(options.maxChars), max_words \(options.maxWords))"))
        }
        let key = Normalize.dedupeKey(text)
        if options.dedupeExact {
            if let first = exact[key] {
                stats.exactDuplicates += 1
                return .failure(Reject(source: record.source, reason: "exact duplicate", duplicateOf: first))
            }
            exact[key] = record.source
        }
        if let minhash, let threshold = options.nearDuplicateThreshold {
            let sig = minhash.signature(key)
            let bands = minhash.bandKeys(sig)
            var best: (Double, RecordSource)?
            var seen = Set<Int>()
            for b in bands {
                for i in bandIndex[b] ?? [] where seen.insert(i).inserted {
                    let j = MinHash.similarity(sig, keptSignatures[i].signature)
                    if j >= threshold, j > (best?.0 ?? -1) { best = (j, keptSignatures[i].source) }
                }
            }
            if let (j, source) = best {
                stats.nearDuplicates += 1
                return .failure(Reject(source: record.source, reason: "near duplicate (estimated Jaccard \((j * 100).rounded() / 100))", duplicateOf: source))
            }
            let index = keptSignatures.count
            keptSignatures.append((sig, record.source))
            for b in bands { bandIndex[b, default: []].append(index) }
        }
        stats.kept += 1
        return .success(record)
    }
}
