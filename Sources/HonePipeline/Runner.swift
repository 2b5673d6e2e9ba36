import Foundation
import HoneStore

public struct RunOptions: Sendable {
    /// Stages to bring up to date (with everything upstream of them); empty means all.
    public var targets: [String] = []
    public var force = false
    public var jobs = 1
    public var keepGoing = false
    /// Echo commands' output as they run.
    public var echo = false
    /// Facts that change numeric kinds' bytes (the BLAS kernel family).
    public var environment: [String: String] = [:]
    /// `--pull`: brings a fingerprint's run record and objects from elsewhere (a remote) into
    /// the store when it has none; returns whether it did. Tried before a stage would run.
    public var fetchRun: (@Sendable (Digest) throws -> Bool)?
    /// Where stages that must run are run; nil: in this process.
    public var dispatcher: (any StageDispatcher)?
    public init() {}
}

/// A lockfile that cannot be read (a merge conflict, a truncated write by another tool).
public struct LockfileError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String {
        "\(path) is not a valid lockfile (\(reason)); fix it (e.g. resolve the merge) or delete it and run again"
    }
}

public struct RunSummary: Sendable {
    /// In the order stages settled.
    public let outcomes: [(stage: String, outcome: StageOutcome)]
    public var failed: Bool { outcomes.contains { !$0.outcome.succeeded } }
}

/// Brings a pipeline's stages up to date: decides stage by stage (see `Assessor`) once the
/// stages it reads from are settled, and runs up to `jobs` stages at a time.
///
///     prepare ──> train ──> evaluate        order: prepare; then train and report together
///          └────> report                    (with -j 2); evaluate once train is done.
public final class Runner: @unchecked Sendable {
    public let workspace: Workspace
    public let pipeline: Pipeline
    public let options: RunOptions
    let observer: RunObserver
    let assessor: Assessor
    let lockPath: String

    public init(workspace: Workspace, pipeline: Pipeline, options: RunOptions, observer: RunObserver) throws {
        self.workspace = workspace; self.pipeline = pipeline; self.options = options; self.observer = observer
        lockPath = Lockfile.path(for: pipeline.file)
        let lockfile: Lockfile?
        do { lockfile = try Lockfile.read(lockPath) } catch {
            throw LockfileError(path: lockPath, reason: "\(error)")
        }
        assessor = Assessor(workspace: workspace, pipeline: pipeline, lockfile: lockfile, environment: options.environment, fetchRun: options.fetchRun)
    }

    /// The selected stages (a swept stage's name selects its instances) and everything upstream
    /// of them, in file order.
    public static func selection(_ pipeline: Pipeline, targets: [String]) -> [Stage] {
        guard !targets.isEmpty else { return pipeline.stages }
        var wanted = Set<String>()
        var stack = targets.flatMap { pipeline.stages(named: $0).map(\.name) }
        while let name = stack.popLast() {
            guard wanted.insert(name).inserted, let stage = pipeline.stage(name) else { continue }
            stack.append(contentsOf: stage.upstream)
        }
        return pipeline.stages.filter { wanted.contains($0.name) }
    }

    /// What a run would do, without doing it (`--dry-run`, `hone status`). Stages downstream of
    /// one that must run are `pending`: what they need is known only after it runs.
    public func plan() -> [(stage: String, result: Result<Assessment, AssessError>)] {
        var settled: [String: RunRecord?] = [:]
        var out: [(String, Result<Assessment, AssessError>)] = []
        for stage in topologicalOrder(Runner.selection(pipeline, targets: options.targets)) {
            do {
                let a = try assessor.assess(stage, upstream: settled, force: options.force)
                settled[stage.name] = (a.state == .upToDate || a.state == .restore) ? a.record : .some(nil)
                out.append((stage.name, .success(a)))
            } catch let e as AssessError {
                settled[stage.name] = .some(nil)
                out.append((stage.name, .failure(e)))
            } catch {
                settled[stage.name] = .some(nil)
                out.append((stage.name, .failure(AssessError(stage: stage.name, message: "\(error)"))))
            }
        }
        return out
    }

    func topologicalOrder(_ stages: [Stage]) -> [Stage] {
        var done = Set<String>(), out: [Stage] = []
        let names = Set(stages.map(\.name))
        while out.count < stages.count {
            let before = out.count
            for s in stages where !done.contains(s.name) && s.upstream.allSatisfy({ done.contains($0) || !names.contains($0) }) {
                out.append(s); done.insert(s.name)
            }
            if out.count == before { break }  // a cycle: the decoder refuses those
        }
        return out
    }

    public func run() throws -> RunSummary {
        workspace.objects.sweepTemporaries()
        var outcomes: [(String, StageOutcome)] = []
        var records: [String: RunRecord] = [:]
        // A pass ends early only when a stage found an input object corrupt: the object is
        // quarantined by then, so the next pass re-runs its producer and retries the stage.
        for pass in 1...3 {
            let (o, r) = try runPass()
            outcomes = o
            records.merge(r) { _, new in new }
            let retries = o.filter { if case .retry = $0.1 { return true }; return false }
            if retries.isEmpty || pass == 3 { break }
            observer.note("re-running the producers of quarantined objects, then \(retries.map(\.0).joined(separator: ", "))")
        }
        try workspace.stats.save()
        var lock = assessor.lockfile ?? Lockfile()
        let names = Set(pipeline.stages.map(\.name))
        for name in lock.stages.keys where !names.contains(name) { lock.stages[name] = nil }
        for (name, outcome) in outcomes {
            if outcome.succeeded, let r = records[name] { lock.stages[name] = Lockfile.Entry(r) }
            else if case .failed = outcome { lock.stages[name] = nil }
        }
        try lock.write(lockPath)
        return RunSummary(outcomes: outcomes)
    }

    /// What one pass knows, shared between the scheduling loop and the stage threads; every
    /// access holds `condition`.
    private final class PassState: @unchecked Sendable {
        let condition = NSCondition()
        var settled: [String: StageOutcome] = [:]
        var order: [(String, StageOutcome)] = []
        var records: [String: RunRecord] = [:]
        var running = Set<String>()
        var stopLaunching = false
        let keepGoing: Bool
        init(keepGoing: Bool) { self.keepGoing = keepGoing }

        func finish(_ name: String, _ outcome: StageOutcome, _ record: RunRecord?) {
            settled[name] = outcome
            order.append((name, outcome))
            if let record { records[name] = record }
            if !outcome.succeeded, !keepGoing { stopLaunching = true }
        }
    }

    private func runPass() throws -> ([(String, StageOutcome)], [String: RunRecord]) {
        let stages = Runner.selection(pipeline, targets: options.targets)
        let executor = StageExecutor(workspace: workspace, pipeline: pipeline, observer: observer, echo: options.echo)
        let state = PassState(keepGoing: options.keepGoing)
        let jobs = max(1, options.jobs)

        state.condition.lock()
        while state.settled.count < stages.count {
            for stage in stages where state.settled[stage.name] == nil && !state.running.contains(stage.name) {
                let ups = stage.upstream
                if let bad = ups.first(where: { state.settled[$0].map { !$0.succeeded } ?? false }) {
                    let outcome = StageOutcome.skipped("upstream '\(bad)' did not finish")
                    state.finish(stage.name, outcome, nil)
                    observer.stageFinished(stage.name, outcome: outcome, seconds: 0)
                    continue
                }
                guard !state.stopLaunching, state.running.count < jobs, ups.allSatisfy({ state.settled[$0] != nil }) else { continue }
                state.running.insert(stage.name)
                let upstream = Dictionary(uniqueKeysWithValues: ups.compactMap { name in state.records[name].map { (name, Optional($0)) } })
                let thread = Thread { [self] in
                    let start = Date()
                    let (outcome, record) = self.settle(stage, upstream: upstream, executor: executor)
                    self.observer.stageFinished(stage.name, outcome: outcome, seconds: Date().timeIntervalSince(start))
                    state.condition.lock()
                    state.running.remove(stage.name)
                    state.finish(stage.name, outcome, record)
                    state.condition.signal()
                    state.condition.unlock()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            if state.settled.count == stages.count { break }
            if state.stopLaunching && state.running.isEmpty {
                for stage in stages where state.settled[stage.name] == nil {
                    state.finish(stage.name, .skipped("not started: an earlier stage failed (use --keep-going to run the rest)"), nil)
                }
                break
            }
            if !state.running.isEmpty { state.condition.wait() }
        }
        state.condition.unlock()
        return (state.order, state.records)
    }

    /// Runs the stage here, or hands it to the dispatcher (a Slurm job) and takes back the run
    /// record the job filed.
    func execute(_ stage: Stage, _ a: Assessment, _ executor: StageExecutor) throws -> RunRecord {
        guard let dispatcher = options.dispatcher, let fingerprint = a.fingerprint else { return try executor.execute(stage, a) }
        try dispatcher.dispatch(stage, fingerprint: fingerprint, observer: observer)
        // On NFS this host may still hold "no such file" for a while (attribute caching):
        // look again for a few seconds before giving up.
        var record = workspace.runs.get(fingerprint)
        let deadline = Date().addingTimeInterval(10)
        while record == nil && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            _ = try? FileManager.default.contentsOfDirectory(atPath: workspace.runs.folder)
            record = workspace.runs.get(fingerprint)
        }
        guard let record else {
            throw DispatchFailure("the job ended but left no run record \(fingerprint.short) in the store (did it fail after Slurm forgot it? is .hone/ on a filesystem every node shares?)")
        }
        // The job wrote through its own view of the workspace; look again.
        if case let .shell(shell) = stage.body { for out in shell.allOuts { workspace.stats.forget(out.path) } }
        try executor.restore(stage, record)
        try executor.refreshViews(stage, record)
        return record
    }

    /// Assess one stage and do what it takes; never throws (a failure is an outcome).
    func settle(_ stage: Stage, upstream: [String: RunRecord?], executor: StageExecutor) -> (StageOutcome, RunRecord?) {
        do {
            let a = try assessor.assess(stage, upstream: upstream, force: options.force)
            switch a.state {
            case .upToDate:
                if let record = a.record, case .kind = stage.body {
                    do { try executor.refreshViews(stage, record) } catch let e as StoreError {
                        observer.note("\(stage.name): \(e); running the stage instead")
                        observer.stageStarted(stage.name, action: .run, reasons: ["its stored outputs are corrupt"])
                        return (.ran, try execute(stage, a, executor))
                    }
                }
                return (.upToDate, a.record)
            case .restore:
                guard let record = a.record else { return (.failed("internal: restore without a record"), nil) }
                observer.stageStarted(stage.name, action: .restore, reasons: a.reasons)
                do {
                    try executor.restore(stage, record)
                    return (.restored, record)
                } catch let e as StoreError {
                    observer.note("\(stage.name): \(e); running the stage instead")
                    observer.stageStarted(stage.name, action: .run, reasons: ["its stored outputs are corrupt"])
                    return (.ran, try execute(stage, a, executor))
                }
            case .run, .pending:
                observer.stageStarted(stage.name, action: .run, reasons: a.reasons)
                return (.ran, try execute(stage, a, executor))
            }
        } catch let e as StageExecutor.CorruptInput {
            return (.retry(e.message), nil)
        } catch {
            return (.failed("\(error)"), nil)
        }
    }

}
