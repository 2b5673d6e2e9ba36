import Foundation
import HoneBase
import HoneData
import HonePipeline

/// `split`: train / val / test by seed, stratified by label, groups kept whole (HoneData's
/// `Splitter`). Two passes over the input: keys first, then the records, streaming.
struct SplitKind: StageKind {
    let name = "split"
    let version = "2"
    let summary = "deterministic train/val/test split (default 70/15/15), stratified by label, with group_by against leaks"
    let inputs = [InputSpec("data", help: "a file or folder of records")]
    let outputs = [OutputSpec("train", help: "data.jsonl"), OutputSpec("val", help: "data.jsonl"),
                   OutputSpec("test", help: "data.jsonl"), OutputSpec("rejects", help: "rejects.jsonl: malformed records")]
    let params = [
        ParamSpec("ratios", .list(.number(min: 0, max: 1)), default: .array([.double(0.7), .double(0.15), .double(0.15)]),
                  help: "train, val, test fractions; they must sum to 1"),
        ParamSpec("stratify", .bool, default: .bool(true), help: "keep the label mix in every split (records with a 'label')"),
        ParamSpec("group_by", .string(), default: .string(""), help: "a field whose equal values stay in one split (e.g. prompt); empty: none"),
        RecordParams.format,
        RecordParams.maxRejectFraction(0),
    ]

    func check(_ params: Params) -> [ParamIssue] {
        guard let ratios = params["ratios"]?.arrayValue?.compactMap(\.doubleValue) else { return [] }
        if ratios.count != 3 {
            return [ParamIssue(param: "ratios", message: "expected 3 ratios (train, val, test), found \(ratios.count)")]
        }
        let sum = ratios.reduce(0, +)
        if abs(sum - 1) > 1e-6 {
            return [ParamIssue(param: "ratios", message: "ratios must sum to 1, these sum to \(sum)")]
        }
        return []
    }

    func run(_ context: StageContext) throws -> StageResult {
        guard let input = context.inputs["data"] else { throw StageFailure("split: input missing") }
        let p = context.params
        let ratios = p["ratios"]?.arrayValue?.compactMap(\.doubleValue) ?? [0.7, 0.15, 0.15]
        let stratify = p.bool("stratify") ?? true
        let groupBy = p.string("group_by") ?? ""

        var keys: [Splitter.Key] = []
        var read = 0, malformed = 0
        let first = RecordReader(root: input, format: RecordParams.format(p))
        try first.forEach { item in
            read += 1
            guard case let .success(r) = item else { malformed += 1; return }
            let group = groupBy.isEmpty ? "#\(keys.count)" : (r.fields[groupBy].map { $0.stringValue ?? $0.canonical } ?? "#\(keys.count)")
            keys.append(Splitter.Key(group: group, stratum: stratify ? Splitter.label(r) : ""))
        }
        let assignment = Splitter.assign(keys, ratios: ratios, rngKey: context.seed(for: "split"))

        let names = ["train", "val", "test"]
        let writers = try names.map { name -> LineWriter in
            guard let dir = context.outputs[name] else { throw StageFailure("split: output \(name) missing") }
            return try LineWriter(path: dir.appendingPathComponent("data.jsonl").path)
        }
        guard let rejDir = context.outputs["rejects"] else { throw StageFailure("split: output rejects missing") }
        let rejects = try LineWriter(path: rejDir.appendingPathComponent("rejects.jsonl").path)
        let second = RecordReader(root: input, format: first.format)
        var index = 0
        try second.forEach { item in
            switch item {
            case let .success(r):
                try writers[assignment[index]].write(r.jsonLine)
                index += 1
            case let .failure(r): try rejects.write(r.jsonLine)
            }
        }
        for w in writers { try w.close() }
        try rejects.close()
        try RecordParams.checkRejects(malformed: malformed, read: read, params: p)
        let groups = Set(keys.map(\.group)).count
        context.log.write("split: \(writers[0].count) train, \(writers[1].count) val, \(writers[2].count) test from \(groups) groups")
        for (i, w) in writers.enumerated() where w.count == 0 && ratios[i] > 0 {
            context.log.write("warning: \(names[i]) is empty although its ratio is \(ratios[i]): too few records or groups")
        }
        return StageResult(metrics: [
            "train": Double(writers[0].count), "val": Double(writers[1].count), "test": Double(writers[2].count),
            "groups": Double(groups), "malformed": Double(malformed),
        ])
    }
}
