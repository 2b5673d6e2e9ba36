import Foundation
import HoneBase
import HoneStore

/// One successful run of a pipeline: which run (fingerprint) each stage ended on. Params,
/// metrics and artifact digests come from those run records, so nothing is stored twice and
/// nothing is recomputed. The id is a digest of the pipeline's name and the fingerprints: the
/// same results give the same experiment, however often the pipeline is run.
public struct Experiment: Sendable, Equatable {
    public let id: String
    public let pipeline: String
    /// When this set of results was first recorded (ISO 8601).
    public let created: String
    public let stages: [String: Digest]

    public init(pipeline: String, stages: [String: Digest], created: Date = Date()) {
        self.pipeline = pipeline
        self.stages = stages
        let key = pipeline + "\n" + stages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.hex)" }.joined(separator: "\n")
        id = String(Digest.of(key).hex.prefix(10))
        self.created = Experiment.dateFormat.string(from: created)
    }

    /// Milliseconds: a sweep records several experiments a second, and they list in run order.
    static var dateFormat: ISO8601DateFormatter {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format
    }

    public var createdDate: Date? { Experiment.dateFormat.date(from: created) }

    public var json: JSONValue {
        .object(["id": .string(id), "pipeline": .string(pipeline), "created": .string(created),
                 "stages": .object(stages.mapValues { .string($0.hex) })])
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let pipeline = json["pipeline"]?.stringValue, let created = json["created"]?.stringValue,
              let stages = json["stages"]?.objectValue else { return nil }
        var fps: [String: Digest] = [:]
        for (k, v) in stages {
            guard let d = v.stringValue.flatMap(Digest.init(hex:)) else { return nil }
            fps[k] = d
        }
        self.id = id; self.pipeline = pipeline; self.created = created; self.stages = fps
    }
}

/// The experiments of a workspace, one JSON file each in `.hone/experiments/`.
public struct Experiments {
    public let folder: URL

    let root: URL

    public init(workspace: Workspace) {
        folder = workspace.dotHone.appendingPathComponent("experiments")
        root = workspace.root
    }

    /// How experiments name a pipeline file: its path from the workspace root, however it was
    /// typed (`./p.yaml`, `sub/../p.yaml` and, from the root, `p.yaml` are one pipeline).
    public func pipelineName(_ file: String, from cwd: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> String {
        let absolute = URL(fileURLWithPath: file, relativeTo: cwd).standardizedFileURL.path
        let base = root.standardizedFileURL.path
        return absolute.hasPrefix(base + "/") ? String(absolute.dropFirst(base.count + 1)) : absolute
    }

    /// Records one experiment as the lockfile now has its stages (`stages`: the name the
    /// experiment gives a stage -> the stage's name in the lockfile); returns the experiment and
    /// whether it is new (an identical one keeps its first date).
    @discardableResult
    public func record(pipeline: String, stages: [String: String], lockfile: Lockfile) throws -> (experiment: Experiment, new: Bool) {
        var fps: [String: Digest] = [:]
        for (name, s) in stages { if let e = lockfile.stages[s] { fps[name] = e.fingerprint } }
        let experiment = Experiment(pipeline: pipelineName(pipeline), stages: fps)
        let path = folder.appendingPathComponent(experiment.id + ".json").path
        if FileManager.default.fileExists(atPath: path) { return (experiment, false) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeAtomically(Array((experiment.json.pretty + "\n").utf8), to: path)
        return (experiment, true)
    }

    /// Every experiment, oldest first (ties by id).
    public func all() -> [Experiment] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
                .flatMap { try? JSONValue.parse($0) }.flatMap(Experiment.init(json:))
        }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    public enum LookupError: Error, CustomStringConvertible {
        case none(String), ambiguous(String, [String])
        public var description: String {
            switch self {
            case let .none(p): return "no experiment '\(p)' (`hone exp list` shows them)"
            case let .ambiguous(p, ids): return "'\(p)' could be any of \(ids.joined(separator: ", ")); give more of the id"
            }
        }
    }

    /// The experiment whose id starts with `prefix`.
    public func find(_ prefix: String) throws -> Experiment {
        let matches = all().filter { $0.id.hasPrefix(prefix) }
        guard let first = matches.first else { throw LookupError.none(prefix) }
        guard matches.count == 1 else { throw LookupError.ambiguous(prefix, matches.map(\.id)) }
        return first
    }
}

extension Pipeline {
    /// The experiments one whole run of the pipeline makes, each as the name it gives a stage ->
    /// the stage. Without `matrix:` or `foreach:` that is one experiment of every stage. A swept
    /// stage gives one experiment per instance, under the stage's name in the file (so
    /// `sft.lr` is a column of `hone exp show` whether the sweep is in the file or `--sweep`);
    /// swept stages with the same labels move together, others combine in every way.
    /// The names experiments give the stages, in file order: a swept stage's name in the file.
    public var experimentStageNames: [String] {
        var out: [String] = []
        for s in stages where !out.contains(s.template ?? s.name) { out.append(s.template ?? s.name) }
        return out
    }

    public var experimentStageSets: [[String: String]] {
        var base: [String: String] = [:]
        var families: [(labels: [String], templates: [String])] = []
        for stage in stages {
            guard let template = stage.template else { base[stage.name] = stage.name; continue }
            if families.contains(where: { $0.templates.contains(template) }) { continue }
            let labels = stages.filter { $0.template == template }.compactMap(\.label)
            if let i = families.firstIndex(where: { $0.labels == labels }) { families[i].templates.append(template) }
            else { families.append((labels, [template])) }
        }
        return families.reduce([base]) { sets, family in
            sets.flatMap { set in
                family.labels.map { label in
                    set.merging(family.templates.map { ($0, "\($0)@\(label)") }) { $1 }
                }
            }
        }
    }
}
