import Foundation
import HoneBase

/// `.hone/runs/<fingerprint>.json`: what one stage run produced. The run-cache: a fingerprint
/// seen before restores its outputs without running.
public struct RunRecord: Sendable, Equatable {
    public let fingerprint: Digest
    public let stage: String
    public let kind: String
    public let outputs: [String: Artifact]
    public let metrics: [String: Double]
    /// The run's log (what it printed), an object.
    public let log: Digest?
    /// What went into the fingerprint, kept so `hone status` can say what changed.
    public let basis: JSONValue
    /// Wall-clock facts: never part of the lockfile.
    public let timing: JSONValue

    public init(fingerprint: Digest, stage: String, kind: String, outputs: [String: Artifact], metrics: [String: Double],
                log: Digest?, basis: JSONValue, timing: JSONValue) {
        self.fingerprint = fingerprint; self.stage = stage; self.kind = kind; self.outputs = outputs
        self.metrics = metrics; self.log = log; self.basis = basis; self.timing = timing
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "fingerprint": .string(fingerprint.hex), "stage": .string(stage), "kind": .string(kind),
            "outputs": .object(outputs.mapValues(\.json)), "metrics": .object(metrics.mapValues { .double($0) }),
            "basis": basis, "timing": timing,
        ]
        if let log { o["log"] = .string(log.hex) }
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let hex = json["fingerprint"]?.stringValue, let fp = Digest(hex: hex),
              let stage = json["stage"]?.stringValue, let kind = json["kind"]?.stringValue,
              let outs = json["outputs"]?.objectValue else { return nil }
        var outputs: [String: Artifact] = [:]
        for (k, v) in outs { guard let a = Artifact(json: v) else { return nil }; outputs[k] = a }
        var metrics: [String: Double] = [:]
        for (k, v) in json["metrics"]?.objectValue ?? [:] { metrics[k] = v.doubleValue ?? .nan }
        self.init(fingerprint: fp, stage: stage, kind: kind, outputs: outputs, metrics: metrics,
                  log: json["log"]?.stringValue.flatMap(Digest.init(hex:)), basis: json["basis"] ?? .null,
                  timing: json["timing"] ?? .null)
    }
}

public final class RunRecords: @unchecked Sendable {
    public let folder: String

    public init(folder: String, create: Bool = true) throws {
        self.folder = folder
        if create { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    }

    public func path(_ fingerprint: Digest) -> String { "\(folder)/\(fingerprint.hex).json" }

    public func get(_ fingerprint: Digest) -> RunRecord? {
        guard let data = FileManager.default.contents(atPath: path(fingerprint)),
              let json = try? JSONValue.parse(data) else { return nil }
        return RunRecord(json: json)
    }

    public func put(_ record: RunRecord) throws {
        try writeAtomically(Array(record.json.pretty.utf8), to: path(record.fingerprint))
    }

    public func remove(_ fingerprint: Digest) { unlink(path(fingerprint)) }

    public func all() -> [RunRecord] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().compactMap { name in
            guard name.hasSuffix(".json"), let d = Digest(hex: String(name.dropLast(5))) else { return nil }
            return get(d)
        }
    }
}
