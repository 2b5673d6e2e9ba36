import Foundation
import HoneBase
import HoneStore

/// `demo.yaml` -> `demo.lock`, beside the pipeline and committed with it: stage -> fingerprint,
/// output digests, metrics. Only deterministic fields (no timings, no throughput), keys sorted,
/// one per line: a no-op run leaves it byte-identical and it diffs cleanly in git.
public struct Lockfile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let kind: String
        public let fingerprint: Digest
        public let outputs: [String: Artifact]
        public let metrics: [String: Double]

        public init(kind: String, fingerprint: Digest, outputs: [String: Artifact], metrics: [String: Double]) {
            self.kind = kind; self.fingerprint = fingerprint; self.outputs = outputs; self.metrics = metrics
        }

        public init(_ record: RunRecord) {
            self.init(kind: record.kind, fingerprint: record.fingerprint, outputs: record.outputs, metrics: record.metrics)
        }
    }

    public var stages: [String: Entry]

    public init(stages: [String: Entry] = [:]) { self.stages = stages }

    /// `pipelines/demo.yaml` -> `pipelines/demo.lock`; a relative path stays relative.
    public static func path(for pipelineFile: String) -> String {
        let slash = pipelineFile.lastIndex(of: "/").map { pipelineFile.index(after: $0) } ?? pipelineFile.startIndex
        if let dot = pipelineFile[slash...].lastIndex(of: "."), dot > slash {
            return String(pipelineFile[..<dot]) + ".lock"
        }
        return pipelineFile + ".lock"
    }

    public static func read(_ path: String) throws -> Lockfile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let json = try JSONValue.parse(data)
        var stages: [String: Entry] = [:]
        for (name, v) in json["stages"]?.objectValue ?? [:] {
            guard let kind = v["kind"]?.stringValue, let hex = v["fingerprint"]?.stringValue, let fp = Digest(hex: hex) else { continue }
            var outputs: [String: Artifact] = [:]
            for (k, a) in v["outputs"]?.objectValue ?? [:] { if let art = Artifact(json: a) { outputs[k] = art } }
            var metrics: [String: Double] = [:]
            for (k, m) in v["metrics"]?.objectValue ?? [:] { metrics[k] = m.doubleValue ?? .nan }
            stages[name] = Entry(kind: kind, fingerprint: fp, outputs: outputs, metrics: metrics)
        }
        return Lockfile(stages: stages)
    }

    public var json: JSONValue {
        .object([
            "lockfile": .int(1),
            "stages": .object(stages.mapValues { e in
                .object([
                    "kind": .string(e.kind),
                    "fingerprint": .string(e.fingerprint.hex),
                    "outputs": .object(e.outputs.mapValues(\.json)),
                    "metrics": .object(e.metrics.mapValues { .double($0) }),
                ])
            }),
        ])
    }

    /// Writes the file only when its bytes change.
    public func write(_ path: String) throws {
        let bytes = Array(json.pretty.utf8)
        if let old = FileManager.default.contents(atPath: path), [UInt8](old) == bytes { return }
        try writeAtomically(bytes, to: path)
    }
}
