import ArgumentParser
import Foundation
import HonePipeline
import HoneStore

struct Repro: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run a pipeline from scratch and check its outputs against the lockfile (for CI).",
        discussion: """
        Copies the workspace (without .hone, .git, .build*, .venv and the stages' outs) to a
        temporary folder, runs every stage there with an empty store, and compares each output
        digest and metric with the lockfile. Exit 1 naming each artifact that differs.
        """)

    @Argument(help: "The pipeline file.") var pipeline: String = defaultPipeline
    @Flag(name: .long, help: "Compare with the lockfile (the only mode so far; kept explicit for CI scripts).") var check = false
    @Option(name: .shortAndLong, help: "Stages to run at once.") var jobs = 1
    @Flag(name: .long, help: "Keep the temporary copy for inspection.") var keep = false

    func validate() throws {
        guard check else { throw ValidationError("`hone repro` needs --check (it compares a fresh run with the lockfile)") }
    }

    func run() throws {
        let loaded = try loadPipeline(pipeline)
        let lockPath = Lockfile.path(for: pipeline)
        guard !lockPath.hasPrefix("/") else {
            printError("name the pipeline by a path relative to the workspace for repro: the fresh run happens in a copy of it")
            throw ExitCode(2)
        }
        guard let expected = try Lockfile.read(lockPath) else {
            printError("no lockfile \(lockPath) to check against: run `hone run \(pipeline)` and commit it")
            throw ExitCode(2)
        }
        let fm = FileManager.default
        let root = loaded.workspace.root
        let tmp = fm.temporaryDirectory.appendingPathComponent("hone-repro-\(getpid())")
        try? fm.removeItem(at: tmp)
        var outs: [WorkspacePath] = []
        for s in loaded.pipeline.stages { if case let .shell(sh) = s.body { outs += sh.allOuts } }
        let cwd = fm.currentDirectoryPath
        let relativeCwd = cwd.hasPrefix(root.path) ? String(cwd.dropFirst(root.path.count)) : ""
        // The copy's lockfile is the fresh run's own: leave the committed one out.
        let lockRel = String((relativeCwd.isEmpty ? lockPath : String(relativeCwd.dropFirst()) + "/" + lockPath))
        try Reproduce.copyWorkspace(root, to: tmp, leavingOut: outs + [WorkspacePath(normalized: lockRel)])
        defer { if !keep { try? fm.removeItem(at: tmp) } else { print("kept the copy in \(tmp.path)") } }

        _ = fm.changeCurrentDirectoryPath(tmp.path + relativeCwd)
        defer { _ = fm.changeCurrentDirectoryPath(cwd) }
        // The copy is a workspace of its own: its root is where the store is made.
        try fm.createDirectory(at: tmp.appendingPathComponent(".hone"), withIntermediateDirectories: true)
        let fresh = try loadPipeline(pipeline, writes: true)
        var options = RunOptions()
        options.jobs = jobs
        options.environment = numericEnvironment
        let observer = ConsoleObserver(json: false)
        defer { observer.stop() }
        let runner = try Runner(workspace: fresh.workspace, pipeline: fresh.pipeline, options: options, observer: observer)
        let summary = try runner.run()
        if summary.failed { printError("the fresh run failed"); throw ExitCode(1) }
        let actual = try Lockfile.read(lockPath) ?? Lockfile()
        let differences = Reproduce.compare(expected: expected, actual: actual)
        if differences.isEmpty {
            print("reproduced: all \(expected.stages.count) stages match \(lockPath) bit for bit.")
        } else {
            for d in differences { printError("differs: \(d)") }
            printError("\(differences.count) difference\(differences.count == 1 ? "" : "s") from \(lockPath)")
            throw ExitCode(1)
        }
    }
}
