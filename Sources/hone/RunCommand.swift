import ArgumentParser
import Foundation
import HonePipeline
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

    @Option(name: .shortAndLong, help: "How many independent stages run at once.")
    var jobs = 1

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
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
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
        options.jobs = jobs
        options.keepGoing = keepGoing
        options.echo = verbose
        options.environment = numericEnvironment
        if pull {
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
        Interrupts.install()
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
    static func install() {
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

private func onInterrupt(_ sig: Int32) {
    ChildProcesses.shared.terminateAll()
    let message = "\nhone: interrupted; stopped the running stages\n"
    _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    _exit(130)
}
