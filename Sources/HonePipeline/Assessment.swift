import Foundation
import HoneBase
import HoneStore

/// Where one stage stands and why: the pure part of planning (DVC's `plan` apart from the run).
public struct Assessment: Sendable {
    public enum State: Sendable, Equatable {
        /// The run record for this fingerprint exists and its outputs are in place.
        case upToDate
        /// The run-cache knows this fingerprint; its outputs are written back from the store.
        case restore
        case run
        /// An upstream stage has to run first; what this one needs is known only then.
        case pending
    }

    public let stage: String
    public let state: State
    /// Why, in words: "param seed: 1 -> 2", "never run", "outs missing: o1.txt".
    public let reasons: [String]
    public let fingerprint: Digest?
    public let basis: JSONValue
    public let record: RunRecord?
    /// A kind stage's inputs, resolved to artifacts.
    public let inputs: [String: Artifact]
}

public struct AssessError: Error, CustomStringConvertible {
    public let stage: String
    public let message: String
    public var description: String { "stage '\(stage)': \(message)" }
}

/// Decides, for one stage whose upstream stages are settled, what bringing it up to date takes.
public struct Assessor: Sendable {
    public let workspace: Workspace
    public let pipeline: Pipeline
    public let lockfile: Lockfile?
    /// Facts that change numeric bytes (the BLAS kernel family), for numeric kinds' fingerprints.
    public let environment: [String: String]

    /// `--pull`: asked for a fingerprint the store has no complete run of, before it would run.
    public let fetchRun: (@Sendable (Digest) throws -> Bool)?

    public init(workspace: Workspace, pipeline: Pipeline, lockfile: Lockfile?, environment: [String: String],
                fetchRun: (@Sendable (Digest) throws -> Bool)? = nil) {
        self.workspace = workspace; self.pipeline = pipeline; self.lockfile = lockfile; self.environment = environment
        self.fetchRun = fetchRun
    }

    /// `upstream`: the settled record of each upstream stage, or nil when it has yet to run
    /// (planning only; during a run every upstream is settled first).
    public func assess(_ stage: Stage, upstream: [String: RunRecord?], force: Bool = false) throws -> Assessment {
        let waiting = stage.upstream.filter { upstream[$0] == .some(nil) }
        if !waiting.isEmpty {
            return Assessment(stage: stage.name, state: .pending,
                              reasons: waiting.map { "upstream '\($0)' will run" }, fingerprint: nil, basis: .null,
                              record: nil, inputs: [:])
        }
        let settled = upstream.compactMapValues { $0 }
        let basis: JSONValue
        var inputs: [String: Artifact] = [:]
        let refs: [String: InputRef]
        switch stage.body {
        case let .shell(shell): refs = shell.inputs
        case let .kind(kind): refs = kind.inputs
        }
        for (name, ref) in refs {
            switch ref {
            case let .output(producer, output):
                guard let a = settled[producer]?.outputs[output] else {
                    throw AssessError(stage: stage.name, message: "input '\(name)': stage '\(producer)' has no output '\(output)'")
                }
                inputs[name] = a
            case let .path(p):
                guard let a = try producedArtifact(p, upstream: settled, of: stage) ?? (workspace.stats.artifact(at: workspace.path(p), key: p.path)) else {
                    throw AssessError(stage: stage.name, message: "input '\(name)': '\(p)' does not exist, and no stage writes it")
                }
                inputs[name] = a
            }
        }
        switch stage.body {
        case let .shell(shell):
            var deps: [String: Artifact] = [:]
            for dep in shell.deps {
                if let a = try producedArtifact(dep, upstream: settled, of: stage) ?? (workspace.stats.artifact(at: workspace.path(dep), key: dep.path)) {
                    deps[dep.path] = a
                } else {
                    throw AssessError(stage: stage.name, message: "dep '\(dep)' does not exist, and no stage writes it")
                }
            }
            basis = Fingerprint.basis(shell: shell, deps: deps, inputs: inputs)
        case let .kind(kind):
            basis = Fingerprint.basis(kind: kind, stage: stage.randomnessName, seed: pipeline.seed, inputs: inputs, environment: environment)
        }
        let fingerprint = Fingerprint.of(basis)
        var record = workspace.runs.get(fingerprint)
        if !force, let fetchRun, record.map({ !missingObjects($0).isEmpty }) ?? true {
            do {
                if try fetchRun(fingerprint) { record = workspace.runs.get(fingerprint) }
            } catch {
                throw AssessError(stage: stage.name, message: "pulling its run from the remote: \(error)")
            }
        }

        func result(_ state: Assessment.State, _ reasons: [String]) -> Assessment {
            Assessment(stage: stage.name, state: state, reasons: reasons, fingerprint: fingerprint, basis: basis,
                       record: record, inputs: inputs)
        }
        if force { return result(.run, ["forced"]) }
        guard let record else { return result(.run, whyRun(stage, basis: basis)) }
        let missing = missingObjects(record)
        if !missing.isEmpty { return result(.run, ["output objects missing from the store: \(missing.joined(separator: ", "))"]) }
        guard case let .shell(shell) = stage.body else { return result(.upToDate, []) }
        var stale: [String] = []
        for out in shell.allOuts {
            let now = try workspace.stats.artifact(at: workspace.path(out), key: out.path)
            if now?.digest != record.outputs[out.path]?.digest { stale.append(now == nil ? "\(out) missing" : "\(out) modified") }
        }
        if stale.isEmpty {
            return lockfile?.stages[stage.name]?.fingerprint == fingerprint ? result(.upToDate, [])
                : result(.upToDate, ["in the run-cache"])
        }
        return result(.restore, stale)
    }

    /// A path that is exactly an upstream stage's out: its recorded artifact. What the workspace
    /// holds there is restored to that before this stage runs.
    func producedArtifact(_ path: WorkspacePath, upstream: [String: RunRecord], of stage: Stage) -> Artifact? {
        for name in stage.upstream { if let a = upstream[name]?.outputs[path.path] { return a } }
        return nil
    }

    func missingObjects(_ record: RunRecord) -> [String] {
        var missing: [String] = []
        for (name, artifact) in record.outputs.sorted(by: { $0.key < $1.key }) {
            guard workspace.objects.has(artifact.digest) else { missing.append(name); continue }
            if case .tree = artifact {
                let entries = (try? workspace.objects.tree(artifact.digest))?.entries
                if entries?.allSatisfy({ workspace.objects.has($0.digest) }) != true { missing.append(name) }
            }
        }
        return missing
    }

    /// Why a stage with no run record for its fingerprint has to run, against what the lockfile
    /// says ran last.
    func whyRun(_ stage: Stage, basis: JSONValue) -> [String] {
        guard let previous = lockfile?.stages[stage.name] else { return ["never run"] }
        if previous.fingerprint == Fingerprint.of(basis) { return ["not run in this store yet"] }
        guard let old = workspace.runs.get(previous.fingerprint) else {
            return ["changed since the lockfile (the lockfile's run is not in this store to compare with)"]
        }
        let changes = Fingerprint.changes(from: old.basis, to: basis)
        return changes.isEmpty ? ["changed since the lockfile"] : changes
    }
}
