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
    /// More would be a sweep nobody can read; the first ones are recorded.
    static let maxPerRun = 10_000

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
    /// the stage. Without `matrix:` or `foreach:` that is one experiment of every stage. With
    /// them, an experiment holds one instance of each swept stage, under the stage's name in the
    /// file (so `sft.lr` is a column of `hone exp show` whether the sweep is in the file or
    /// `--sweep`), following the graph: an instance goes only with the instances it reads, a
    /// stage downstream of an instance only with that instance, and independent sweeps combine
    /// in every way.
    /// The names experiments give the stages, in file order: a swept stage's name in the file.
    public var experimentStageNames: [String] {
        var out: [String] = []
        for s in stages where !out.contains(s.template ?? s.name) { out.append(s.template ?? s.name) }
        return out
    }

    public var experimentStageSets: [[String: String]] {
        // Every stage's swept ancestors (instances it reads from, directly or not), itself included.
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
        var swept: [String: Set<String>] = [:]
        func sweptClosure(_ name: String) -> Set<String> {
            if let known = swept[name] { return known }
            guard let stage = byName[name] else { return [] }
            var out: Set<String> = stage.template == nil ? [] : [name]
            for up in stage.upstream { out.formUnion(sweptClosure(up)) }
            swept[name] = out
            return out
        }
        for stage in stages { _ = sweptClosure(stage.name) }
        var templates: [String] = []
        for s in stages { if let t = s.template, !templates.contains(t) { templates.append(t) } }
        let instances = Dictionary(grouping: stages.filter { $0.template != nil }, by: { $0.template! }).mapValues { $0.map(\.name) }

        // Choose an instance of each swept stage, or none; an instance only when every instance
        // it reads is chosen too. Templates go upstream first, so that is known when it matters.
        var order: [String] = [], remaining = templates
        while !remaining.isEmpty {
            let ready = remaining.first { t in
                !(instances[t] ?? []).contains { sweptClosure($0).contains { a in byName[a]?.template.map { $0 != t && remaining.contains($0) } ?? false } }
            } ?? remaining[0]
            order.append(ready)
            remaining.removeAll { $0 == ready }
        }
        var chosenSets: [Set<String>] = []
        func choose(_ k: Int, _ chosen: Set<String>) {
            guard chosenSets.count < Experiments.maxPerRun else { return }
            guard k < order.count else { chosenSets.append(chosen); return }
            choose(k + 1, chosen)
            for instance in instances[order[k]] ?? [] where sweptClosure(instance).subtracting([instance]).isSubset(of: chosen) {
                choose(k + 1, chosen.union([instance]))
            }
        }
        choose(0, [])
        // An experiment is what the choice reaches: the stages all of whose swept ancestors are
        // chosen. Only the largest are kept (a choice that leaves out a stage it could hold is
        // part of one that holds it).
        let reached = chosenSets.map { chosen in Set(stages.filter { sweptClosure($0.name).isSubset(of: chosen) }.map(\.name)) }
        var kept: [Set<String>] = []
        for set in Set(reached) where !reached.contains(where: { set.isStrictSubset(of: $0) }) { kept.append(set) }
        let position = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.name, $0) })
        kept.sort { a, b in a.map { position[$0]! }.sorted().lexicographicallyPrecedes(b.map { position[$0]! }.sorted()) }
        return kept.map { set in Dictionary(uniqueKeysWithValues: set.map { (byName[$0]?.template ?? $0, $0) }) }
    }
}
