import ArgumentParser
import Foundation
import HonePipeline
import HoneStore
import HoneRemote

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring a pipeline's stages up to date, running only what changed.",
        discussion: """
        Stages whose fingerprint (kind, version, params, input digests) has a run record are
        restored from the run-cache instead of running. Exit status: 0 all stages finished,
        1 a stage failed, 2 the pipeline file or the command line is wrong.
        """)

    @Argument(help: "[PIPELINE] [STAGE...]: the pipeline file (default \(defaultPipeline)), then stages to bring up to date with what they need (default: all).")
    var args: [String] = []

    @Option(name: [.customShort("S"), .customLong("set")], help: "Override a param, STAGE.PARAM=VALUE, or a var, NAME=VALUE (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "Run once per value: KEY=V1,V2,… with KEY as -S takes it (STAGE.PARAM or a var); values with commas go in a list, KEY=[a, \"b,c\"]. Several sweeps run every combination; each run is an experiment (hone exp show).")
    var sweep: [String] = []

    @Flag(name: .shortAndLong, help: "Run the stages even when they are up to date.")
    var force = false

    @Flag(name: .long, help: "Show what would run and why; run nothing.")
    var dryRun = false

    @Option(name: .shortAndLong, help: "How many independent stages run at once (default: 1 here, 64 Slurm jobs with --executor slurm).")
    var jobs: Int?

    @Option(name: .long, help: "Where stages that must run are run: local (this process) or slurm (one sbatch job each; default: the pipeline's executor:, else local).")
    var executor: ExecutorKind?

    @Flag(name: .shortAndLong, help: "When a stage fails, go on with the stages that do not depend on it.")
    var keepGoing = false

    @Flag(name: .long, help: "Fail at once when another hone holds the workspace, instead of waiting.")
    var noWait = false

    @Flag(name: .long, help: "One JSON object per event on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "Show stages' output as they run.")
    var verbose = false

    @Flag(name: .long, help: "Before running a stage, fetch its results from the remote when another machine already computed them.")
    var pull = false

    @OptionGroup var remote: RemoteOptions

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        guard !sweep.isEmpty else { return try runOnce(overrides: overrides) }
        var sweeps: [Sweep] = []
        for text in sweep {
            guard let s = Sweep(text) else {
                printError("--sweep \(text): expected KEY=V1,V2,… (or KEY=[V1, V2, …]) with no empty value")
                throw ExitCode(2)
            }
            sweeps.append(s)
        }
        let runs = Sweep.combinations(sweeps)
        var failed = 0
        for (i, combination) in runs.enumerated() {
            print("sweep \(i + 1)/\(runs.count): \(combination.joined(separator: " "))")
            do { try runOnce(overrides: overrides + combination) } catch let e as ExitCode where e.rawValue == 1 {
                failed += 1
                if !keepGoing { break }
            }
        }
        if failed > 0 { printError("\(failed) of \(runs.count) sweep runs failed"); throw ExitCode(1) }
    }

    func runOnce(overrides: [String]) throws {
        let started = Date()
        let (file, stages) = splitPipelineAndStages(args)
        let loaded = try loadPipeline(file, overrides: overrides, writes: !dryRun)
        try loaded.checkTargets(stages)
        var options = RunOptions()
        options.targets = stages
        options.force = force
        let executorKind = executor ?? loaded.pipeline.executor ?? .local
        options.jobs = jobs ?? (executorKind == .slurm ? 64 : 1)
        var slurm: SlurmDispatcher?
        if executorKind == .slurm && !dryRun {
            let cwd = FileManager.default.currentDirectoryPath
            do {
                slurm = try SlurmDispatcher(hone: ownExecutable, pipelineFile: file, overrides: overrides, directory: cwd,
                                            logs: loaded.workspace.dotHone.appendingPathComponent("slurm").path, echo: verbose)
            } catch {
                printError("cannot prepare the Slurm jobs: \(error)")
                throw ExitCode(1)
            }
            options.dispatcher = slurm
        }
        options.keepGoing = keepGoing
        options.echo = verbose
        options.environment = numericEnvironment
        if pull && !dryRun {
            let store = try remote.open(loaded.workspace, pipeline: loaded.pipeline)
            options.fetchRun = { try store.fetchRun($0) }
        }
        let observer = ConsoleObserver(json: json)
        defer { observer.stop() }

        if dryRun {
            let runner = try Runner(workspace: loaded.workspace, pipeline: loaded.pipeline, options: options, observer: observer)
            if printPlan(runner.plan(), json: json) { throw ExitCode(1) }
            return
        }
        let lock: AnyObject
        do {
            lock = try loaded.workspace.lock(wait: !noWait) { holder in
                observer.note("waiting for another hone in this workspace (\(holder)) to finish…")
            }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        defer { withExtendedLifetime(lock) {} }
        Interrupts.install(cleanup: slurm.map { jobs in { jobs.cancelAll() } })
        let runner = try Runner(workspace: loaded.workspace, pipeline: loaded.pipeline, options: options, observer: observer)
        let summary = try runner.run()
        observer.summary(summary, seconds: Date().timeIntervalSince(started))
        // A whole pipeline brought up to date is an experiment (`hone exp`); with swept stages,
        // each instance is one, recorded when all its stages succeeded.
        if stages.isEmpty, let lockfile = try Lockfile.read(Lockfile.path(for: loaded.pipeline.file)) {
            let succeeded = Set(summary.outcomes.filter(\.outcome.succeeded).map(\.stage))
            var recorded: [String] = []
            for set in loaded.pipeline.experimentStageSets where set.values.allSatisfy(succeeded.contains) {
                let (experiment, new) = try Experiments(workspace: loaded.workspace)
                    .record(pipeline: loaded.pipeline.file, stages: set, lockfile: lockfile)
                if new { recorded.append(experiment.id) }
            }
            if !recorded.isEmpty && !json {
                print("Experiment\(recorded.count == 1 ? "" : "s") \(recorded.joined(separator: ", ")) (hone exp show).")
            }
        }
        if summary.failed { throw ExitCode(1) }
    }
}

/// `--dry-run` and `hone status` print the plan the same way. Returns whether any stage has an
/// error (a dep that is missing, say): the command then exits 1.
@discardableResult
func printPlan(_ plan: [(stage: String, result: Result<Assessment, AssessError>)], json: Bool) -> Bool {
    let hasErrors = plan.contains { if case .failure = $0.result { return true }; return false }
    defer { fflush(stdout) }
    if json {
        for (stage, result) in plan {
            var o: [String: Any] = ["stage": stage]
            switch result {
            case let .success(a):
                o["state"] = stateWord(a.state)
                o["reasons"] = a.reasons
                if let fp = a.fingerprint { o["fingerprint"] = fp.hex }
            case let .failure(e):
                o["state"] = "error"; o["reasons"] = [e.message]
            }
            if let data = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) {
                print(String(decoding: data, as: UTF8.self))
            }
        }
        return hasErrors
    }
    var upToDate = 0
    for (stage, result) in plan {
        switch result {
        case let .success(a):
            if a.state == .upToDate { upToDate += 1; continue }
            print("\(stage): \(stateWord(a.state))" + (a.reasons.isEmpty ? "" : " (\(a.reasons.joined(separator: "; ")))"))
        case let .failure(e):
            print("\(stage): error: \(e.message)")
        }
    }
    if upToDate == plan.count { print("Everything is up to date (\(plan.count) stages).") }
    else if upToDate > 0 { print("\(upToDate) other stage\(upToDate == 1 ? " is" : "s are") up to date.") }
    return hasErrors
}

func stateWord(_ s: Assessment.State) -> String {
    switch s {
    case .upToDate: return "up to date"
    case .restore: return "will restore"
    case .run: return "will run"
    case .pending: return "will run if its inputs change"
    }
}

/// Ctrl-C (or SIGTERM): stop the running commands, then exit 130. The store stays consistent:
/// a stage's outputs are only recorded once complete, and the lock goes with the process.
///
/// subtle: a handler, not SIG_IGN — an ignored signal stays ignored in the commands hone starts,
/// and they could then not be stopped at all; a handled one is reset to the default on exec.
enum Interrupts {
    static var installed = false
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cleanup: (() -> Void)?

    /// Installs the handlers (once per process) and sets what to do first when interrupted
    /// (cancel this run's Slurm jobs). That cannot run in a signal handler: the handler wakes a
    /// thread that runs it, stops the commands and exits.
    static func install(cleanup: (() -> Void)? = nil) {
        lock.lock(); Interrupts.cleanup = cleanup; lock.unlock()
        interruptCleanup = cleanup == nil ? 0 : 1
        guard !installed else { return }
        installed = true
        var fds: [Int32] = [0, 0]
        if pipe(&fds) == 0 {
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC); _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            interruptPipe = fds[1]
            let reader = fds[0]
            Thread.detachNewThread {
                var byte: UInt8 = 0
                while read(reader, &byte, 1) != 1 {}
                lock.lock(); let first = Interrupts.cleanup; lock.unlock()
                first?()
                stopAndExit()
            }
        }
        interruptsSeen = 0
        signal(SIGINT, onInterrupt)
        signal(SIGTERM, onInterrupt)
        // A parent may have started hone with these blocked (test runners do); handled signals
        // must get through.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

/// Where the handler wakes the cleanup thread; -1 when there is none. Plain C globals, set
/// before the handler is installed: nothing in the handler may initialise anything lazily.
nonisolated(unsafe) private var interruptPipe: Int32 = -1
nonisolated(unsafe) private var interruptsSeen: Int32 = 0
/// 1 when the run registered a cleanup; else the handler stops everything itself, at once
/// (from a thread, the run could notice its command die and exit 1 first).
nonisolated(unsafe) private var interruptCleanup: Int32 = 0

private func onInterrupt(_ sig: Int32) {
    interruptsSeen += 1
    // A second Ctrl-C does not wait for the cleanup (a scancel that hangs).
    if interruptCleanup == 1 && interruptPipe >= 0 && interruptsSeen == 1 {
        var byte: UInt8 = 1
        _ = write(interruptPipe, &byte, 1)
        return
    }
    stopAndExit()
}

/// Signal-safe: kill(2), write(2), _exit(2).
private func stopAndExit() {
    ChildProcesses.shared.terminateAll()
    let message = "\nhone: interrupted; stopped the running stages\n"
    _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    _exit(130)
}

extension ExecutorKind: ExpressibleByArgument {}

/// This binary's absolute path: what a Slurm job runs on the node.
var ownExecutable: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
}

/// What a Slurm job runs: one stage, planned elsewhere, executed here against the shared store.
struct ExecStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-stage",
        abstract: "Run one stage that `hone run --executor slurm` planned (what its jobs run on the node).",
        discussion: "Takes no workspace lock (the planning hone holds it); refuses to run when this machine computes another fingerprint than the planned one.",
        shouldDisplay: false)

    @Option(help: "The fingerprint the planning hone computed.") var fingerprint: String
    @Option(name: [.customShort("S"), .customLong("set")], help: "The planning run's overrides.") var overrides: [String] = []
    @Argument(help: "The pipeline file.") var pipeline: String
    @Argument(help: "The stage.") var stage: String

    func run() throws {
        guard let expected = Digest(hex: fingerprint) else { throw ValidationError("--fingerprint: expected 64 hex digits") }
        let loaded = try loadPipeline(pipeline, overrides: overrides, writes: true)
        var options = RunOptions()
        options.environment = numericEnvironment
        options.echo = true
        let observer = ConsoleObserver(json: false)
        defer { observer.stop() }
        // Slurm ends a job with SIGTERM (time limit, scancel): stop the stage's command with it.
        Interrupts.install()
        do {
            let runner = try Runner(workspace: loaded.workspace, pipeline: loaded.pipeline, options: options, observer: observer)
            let started = Date()
            _ = try runner.executeOne(stage, expecting: expected)
            observer.stageFinished(stage, outcome: .ran, seconds: Date().timeIntervalSince(started))
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}
