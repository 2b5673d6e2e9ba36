import HoneStore

/// Runs a stage somewhere other than this process — a Slurm job — where `hone exec-stage`
/// executes it against the same store. The runner still decides what runs; a dispatcher only
/// runs it. It returns once the stage's run record is in the store, or throws why not.
public protocol StageDispatcher: Sendable {
    func dispatch(_ stage: Stage, fingerprint: Digest, observer: RunObserver) throws
}

/// A dispatched stage that did not leave a run record: the scheduler's words for why.
public struct DispatchFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Runner {
    /// `hone exec-stage`: runs one stage whose upstream stages all have runs in the store (the
    /// dispatching hone settled them), after checking that this process computes the
    /// fingerprint the dispatcher expects — a node with other inputs or another BLAS kernel
    /// family must not file its results under that name.
    public func executeOne(_ name: String, expecting fingerprint: Digest) throws -> RunRecord {
        guard let target = pipeline.stage(name) else { throw DispatchFailure("no stage '\(name)' in \(pipeline.file)") }
        var settled: [String: RunRecord?] = [:]
        for stage in topologicalOrder(Runner.selection(pipeline, targets: [name])) where stage.name != name {
            let a = try assessor.assess(stage, upstream: settled)
            guard let record = a.record, a.state != .run else {
                throw DispatchFailure("upstream stage '\(stage.name)' has no finished run in the store (\(a.reasons.joined(separator: "; ")))")
            }
            settled[stage.name] = record
        }
        let a = try assessor.assess(target, upstream: settled, force: true)
        guard a.fingerprint == fingerprint else {
            throw DispatchFailure("stage '\(name)' has fingerprint \(a.fingerprint?.short ?? "?") here but \(fingerprint.short) where it was planned: "
                + "this machine sees other inputs or another environment (\(options.environment.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")))")
        }
        let executor = StageExecutor(workspace: workspace, pipeline: pipeline, observer: observer, echo: options.echo)
        observer.stageStarted(name, action: .run, reasons: ["dispatched"])
        return try executor.execute(target, a)
    }
}
