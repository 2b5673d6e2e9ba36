import Foundation
import HoneBase
import HoneData
import HonePipeline

/// `clean`: normalise, filter and deduplicate records (HoneData's `Cleaner`).
struct CleanKind: StageKind {
    let name = "clean"
    let version = "1"
    let summary = "normalise (NFC, whitespace, control characters), bound lengths, drop exact and near duplicates"
    let inputs = [InputSpec("data", help: "a file or folder of records (JSONL, CSV or text)")]
    let outputs = [OutputSpec("data", help: "data.jsonl: the kept records, normalised"),
                   OutputSpec("rejects", help: "rejects.jsonl: every removed record with file, line, reason")]
    let params = [
        RecordParams.format,
        ParamSpec("min_chars", .int(min: 0), default: .int(1), help: "fewest characters of text"),
        ParamSpec("max_chars", .int(min: 1), default: .int(1_000_000), help: "most characters of text"),
        ParamSpec("min_words", .int(min: 0), default: .int(1), help: "fewest words"),
        ParamSpec("max_words", .int(min: 1), default: .int(1_000_000), help: "most words"),
        ParamSpec("dedupe", .bool, default: .bool(true), help: "drop exact duplicates (after case, punctuation and whitespace normalisation)"),
        ParamSpec("near_duplicate_threshold", .number(min: 0, max: 1), default: .double(0.9),
                  help: "MinHash Jaccard similarity at which a record is a near duplicate; 0 turns it off"),
        ParamSpec("shingle_words", .int(min: 1, max: 32), default: .int(5), help: "words per shingle for near duplicates"),
        RecordParams.maxRejectFraction(0.5),
    ]

    func check(_ params: Params) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        if let lo = params.int("min_chars"), let hi = params.int("max_chars"), lo > hi {
            issues.append(ParamIssue(param: "min_chars", message: "min_chars \(lo) is above max_chars \(hi)"))
        }
        if let lo = params.int("min_words"), let hi = params.int("max_words"), lo > hi {
            issues.append(ParamIssue(param: "min_words", message: "min_words \(lo) is above max_words \(hi)"))
        }
        return issues
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let input = context.inputs["data"], let out = context.outputs["data"], let rej = context.outputs["rejects"] else {
            throw StageFailure("clean: inputs or outputs missing")
        }
        let p = context.params
        var options = Cleaner.Options()
        options.minChars = p.int("min_chars") ?? 1
        options.maxChars = p.int("max_chars") ?? 1_000_000
        options.minWords = p.int("min_words") ?? 1
        options.maxWords = p.int("max_words") ?? 1_000_000
        options.dedupeExact = p.bool("dedupe") ?? true
        let threshold = p.double("near_duplicate_threshold") ?? 0.9
        options.nearDuplicateThreshold = threshold > 0 ? threshold : nil
        options.shingleWords = p.int("shingle_words") ?? 5
        options.minhashKey = context.seed(for: "minhash")

        let reader = RecordReader(root: input, format: RecordParams.format(p))
        var cleaner = Cleaner(options: options)
        let kept = try LineWriter(path: out.appendingPathComponent("data.jsonl").path)
        let rejects = try LineWriter(path: rej.appendingPathComponent("rejects.jsonl").path)
        try reader.forEach { item in
            switch cleaner.take(item, format: reader.format ?? .text) {
            case let .success(r): try kept.write(r.jsonLine)
            case let .failure(r): try rejects.write(r.jsonLine)
            }
            if cleaner.stats.read % 10_000 == 0 { context.progress.update(done: cleaner.stats.read, total: nil, unit: "records", message: nil) }
        }
        try kept.close()
        try rejects.close()
        let s = cleaner.stats
        context.log.write("clean: read \(s.read), kept \(s.kept), removed \(s.removed) (malformed \(s.malformed), empty \(s.empty), short \(s.tooShort), long \(s.tooLong), exact duplicates \(s.exactDuplicates), near duplicates \(s.nearDuplicates))")
        try RecordParams.checkRejects(malformed: s.malformed, read: s.read, params: p)
        return StageResult(metrics: [
            "read": Double(s.read), "kept": Double(s.kept), "removed": Double(s.removed), "malformed": Double(s.malformed),
            "empty": Double(s.empty), "too_short": Double(s.tooShort), "too_long": Double(s.tooLong),
            "exact_duplicates": Double(s.exactDuplicates), "near_duplicates": Double(s.nearDuplicates),
        ])
    }
}
