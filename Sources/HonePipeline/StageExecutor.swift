import Foundation
import HoneBase
import HoneStore

/// Runs one assessed stage: restores its outputs from the store, or executes it and stores
/// what it made. Writes the run record last, so a crash at any point leaves no record of a run
/// that did not finish.
struct StageExecutor: @unchecked Sendable {
    let workspace: Workspace
    let pipeline: Pipeline
    let observer: RunObserver
    /// Echo a shell stage's output to the terminal as it runs.
    let echo: Bool

    struct Failure: Error, CustomStringConvertible { let description: String }
    struct CorruptInput: Error { let message: String }

    /// Makes `.hone/outputs/STAGE/OUTPUT` hold a kind stage's recorded outputs (after a
    /// run-cache hit they may be another run's, or gone).
    func refreshViews(_ stage: Stage, _ record: RunRecord) throws {
        guard case .kind = stage.body else { return }
        for (name, artifact) in record.outputs {
            let view = workspace.outputView(stage: stage.name, output: name)
            let key = ".hone/outputs/\(stage.name)/\(name)"
            if (try? workspace.stats.artifact(at: view, key: key))??.digest == artifact.digest { continue }
            try workspace.objects.restoreArtifact(artifact, to: view)
            workspace.stats.forget(key)
        }
    }

    func restore(_ stage: Stage, _ record: RunRecord) throws {
        guard case let .shell(shell) = stage.body else { return }
        for out in shell.allOuts {
            guard let artifact = record.outputs[out.path] else { continue }
            let dest = try insideWorkspace(out)
            if (try? workspace.stats.artifact(at: dest, key: out.path))??.digest == artifact.digest { continue }
            try workspace.objects.restoreArtifact(artifact, to: dest)
            workspace.stats.forget(out.path)
        }
    }

    func execute(_ stage: Stage, _ a: Assessment) throws -> RunRecord {
        guard let fingerprint = a.fingerprint else { throw Failure(description: "internal: no fingerprint") }
        let work = workspace.workDir(fingerprint)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let logPath = "\(work)/log"
        let started = Date()
        var outputs: [String: Artifact] = [:]
        var metrics: [String: Double] = [:]
        switch stage.body {
        case let .shell(shell):
            let inputs = try materialize(a.inputs, refs: shell.inputs, into: "\(work)/inputs")
            try runShell(stage.name, shell, inputs: inputs, logPath: logPath)
            for out in shell.allOuts {
                let p = workspace.path(out)
                guard FileManager.default.fileExists(atPath: p) else {
                    throw Failure(description: "the command succeeded but did not write its out '\(out)'")
                }
                outputs[out.path] = try workspace.objects.putArtifact(at: p)
                workspace.stats.forget(out.path)
                _ = try workspace.stats.artifact(at: p, key: out.path)
            }
            for m in shell.metrics {
                metrics.merge(try readMetrics(workspace.path(m), name: m.path)) { _, new in new }
            }
        case let .kind(kind):
            let (outs, result) = try runKind(stage, kind, a, work: work, logPath: logPath)
            outputs = outs
            metrics = result.metrics
        }
        let log = FileManager.default.fileExists(atPath: logPath) ? try workspace.objects.put(file: logPath).digest : nil
        let record = RunRecord(
            fingerprint: fingerprint, stage: stage.name, kind: stage.kindName, outputs: outputs, metrics: metrics, log: log,
            basis: a.basis,
            timing: .object(["started": .string(ISO8601DateFormatter().string(from: started)),
                             "seconds": .double(Date().timeIntervalSince(started)),
                             "host": .string(ProcessInfo.processInfo.hostName)]))
        try workspace.runs.put(record)
        try? FileManager.default.removeItem(atPath: work)
        return record
    }

    // MARK: shell

    /// The path of `p` with symlinks resolved, refused when that lands outside the workspace
    /// (a symlink made after the pipeline was checked, by a stage or by hand).
    func insideWorkspace(_ p: WorkspacePath) throws -> String {
        let path = workspace.path(p)
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().resolvingSymlinksInPath().path
        let root = workspace.root.resolvingSymlinksInPath().path
        guard parent == root || parent.hasPrefix(root + "/") else {
            throw Failure(description: "'\(p)' now leads outside the workspace through a symlink (to \(parent)); refusing to touch it")
        }
        return path
    }

    /// `p` with every symlink resolved, which must still be inside the workspace.
    func resolvedInside(_ p: WorkspacePath) throws -> String {
        let resolved = URL(fileURLWithPath: try insideWorkspace(p)).resolvingSymlinksInPath().path
        let root = workspace.root.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(root + "/") else {
            throw Failure(description: "'\(p)' is a symlink to \(resolved), outside the workspace")
        }
        return resolved
    }

    func runShell(_ name: String, _ shell: ShellStage, inputs: [String: URL], logPath: String) throws {
        let fm = FileManager.default
        for out in shell.allOuts {
            let p = try insideWorkspace(out)
            if let attributes = try? fm.attributesOfItem(atPath: p), attributes[.type] as? FileAttributeType == .typeDirectory {
                try fm.removeItem(atPath: p)
            } else {
                unlink(p)
            }
            try fm.createDirectory(atPath: parentFolder(of: p), withIntermediateDirectories: true)
        }
        _ = fm.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw Failure(description: "cannot write the log \(logPath)") }
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", shell.cmd]
        process.currentDirectoryURL = workspace.root
        var env = ProcessInfo.processInfo.environment
        env["HONE_STAGE"] = name
        for (input, url) in inputs { env["HONE_INPUT_\(input)"] = url.path }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        ChildProcesses.shared.add(process.processIdentifier)
        defer { ChildProcesses.shared.remove(process.processIdentifier) }
        let reader = pipe.fileHandleForReading
        while true {
            let data = reader.availableData
            if data.isEmpty { break }
            log.write(data)
            if echo { FileHandle.standardError.write(data) }
        }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)"
                : "was killed by signal \(process.terminationStatus)"
            throw Failure(description: "command \(how)" + logTail(logPath))
        }
    }

    /// The last lines of a log, indented, for an error message.
    func logTail(_ path: String, lines: Int = 10) -> String {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return " (it printed nothing)" }
        let all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let tail = all.suffix(lines + 1).joined(separator: "\n    ")
        return "; last lines of its log:\n    " + tail
    }

    /// A JSON object's numbers, flattened: {"eval": {"acc": 0.9}} -> eval.acc = 0.9.
    func readMetrics(_ path: String, name: String) throws -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "metrics file '\(name)' was not written")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch { throw Failure(description: "metrics file '\(name)': \(error)") }
        var out: [String: Double] = [:]
        func walk(_ v: JSONValue, _ prefix: String) {
            switch v {
            case .int, .double: if let d = v.doubleValue { out[prefix] = d }
            case let .bool(b): out[prefix] = b ? 1 : 0
            case let .object(o): for (k, x) in o { walk(x, prefix.isEmpty ? k : "\(prefix).\(k)") }
            default: break
            }
        }
        walk(json, "")
        return out
    }

    /// Writes each input out read-only as a folder `dir/NAME` (a file keeps its own name inside
    /// it: its extension says its format). Corrupt or missing objects throw `CorruptInput`.
    func materialize(_ artifacts: [String: Artifact], refs: [String: InputRef], into inputsDir: String) throws -> [String: URL] {
        var inputs: [String: URL] = [:]
        for (name, artifact) in artifacts {
            // Every input is a folder: a file keeps its own name inside it (its extension says
            // its format), a tree is the folder.
            var dest = "\(inputsDir)/\(name)"
            if case .file = artifact {
                let base: String
                switch refs[name] {
                case let .output(_, output)?: base = output.split(separator: "/").last.map(String.init) ?? name
                case let .path(p)?: base = p.path.split(separator: "/").last.map(String.init) ?? name
                case nil: base = name
                }
                dest += "/\(base)"
            }
            // A workspace file no stage makes is taken into the store first, so the run can be
            // traced to bytes the store holds.
            // subtle: a symlink inside the workspace (git-annex, DVC's cache links) is stored as
            // the file it points to, as the stat cache hashed it.
            if case let .path(p)? = refs[name], try workspace.objects.putArtifact(at: try resolvedInside(p)).digest != artifact.digest {
                throw Failure(description: "input '\(name)' (\(p)) changed while the stage was starting; run again")
            }
            do {
                try workspace.objects.restoreArtifact(artifact, to: dest, readOnly: true)
            } catch let e as StoreError {
                if case .corrupt = e { throw CorruptInput(message: "input '\(name)': \(e)") }
                if case .missing = e { throw CorruptInput(message: "input '\(name)': \(e)") }
                throw e
            }
            inputs[name] = URL(fileURLWithPath: "\(inputsDir)/\(name)")
        }
        return inputs
    }

    // MARK: other kinds

    func runKind(_ stage: Stage, _ kind: KindStage, _ a: Assessment, work: String, logPath: String) throws -> ([String: Artifact], StageResult) {
        let fm = FileManager.default
        let inputsDir = "\(work)/inputs", outDir = "\(work)/out", scratch = "\(work)/scratch"
        try? fm.removeItem(atPath: inputsDir)
        try? fm.removeItem(atPath: outDir)
        try fm.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let inputs = try materialize(a.inputs, refs: kind.inputs, into: inputsDir)
        var outputs: [String: URL] = [:]
        for spec in kind.kind.outputs {
            let p = "\(outDir)/\(spec.name)"
            try fm.createDirectory(atPath: p, withIntermediateDirectories: true)
            outputs[spec.name] = URL(fileURLWithPath: p)
        }
        let log = FileLog(path: logPath, echo: echo)
        let context = StageContext(stageName: stage.name, params: kind.params, inputs: inputs, outputs: outputs,
                                   scratch: URL(fileURLWithPath: scratch), pipelineSeed: pipeline.seed,
                                   progress: ObserverProgress(stage: stage.name, observer: observer), log: log, workspace: workspace.root,
                                   randomnessName: stage.randomnessName)
        let result = try kind.kind.run(context)
        log.close()
        var artifacts: [String: Artifact] = [:]
        for spec in kind.kind.outputs {
            let p = "\(outDir)/\(spec.name)"
            artifacts[spec.name] = try workspace.objects.putArtifact(at: p)
            let view = workspace.outputView(stage: stage.name, output: spec.name)
            try? fm.removeItem(atPath: view)
            try fm.createDirectory(atPath: parentFolder(of: view), withIntermediateDirectories: true)
            try fm.moveItem(atPath: p, toPath: view)
        }
        try? fm.removeItem(atPath: inputsDir)
        return (artifacts, result)
    }
}

final class FileLog: LogSink, @unchecked Sendable {
    private let handle: FileHandle?
    private let echo: Bool
    private let lock = NSLock()

    init(path: String, echo: Bool) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = FileHandle(forWritingAtPath: path)
        self.echo = echo
    }

    func write(_ line: String) {
        let data = Data((line + "\n").utf8)
        lock.lock(); defer { lock.unlock() }
        handle?.write(data)
        if echo { FileHandle.standardError.write(data) }
    }

    func close() { lock.lock(); try? handle?.close(); lock.unlock() }
}

struct ObserverProgress: ProgressReporter, @unchecked Sendable {
    let stage: String
    let observer: RunObserver
    func update(done: Int, total: Int?, unit: String, message: String?) {
        observer.stageProgress(stage, done: done, total: total, unit: unit, message: message)
    }
}

/// The shell commands running now, so Ctrl-C can stop them before hone exits.
///
/// subtle: `terminateAll` runs inside a signal handler, where locks and allocation are unsafe;
/// the pids live in a fixed table of atomically replaced slots that the handler only reads.
public final class ChildProcesses: @unchecked Sendable {
    public static let shared = ChildProcesses()
    static let capacity = 64
    private let slots = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
    private let lock = NSLock()

    init() { slots.initialize(repeating: 0, count: ChildProcesses.capacity) }

    public func add(_ pid: Int32) {
        lock.lock(); defer { lock.unlock() }
        for i in 0..<ChildProcesses.capacity where slots[i] == 0 { slots[i] = pid; return }
    }

    public func remove(_ pid: Int32) {
        lock.lock(); defer { lock.unlock() }
        for i in 0..<ChildProcesses.capacity where slots[i] == pid { slots[i] = 0 }
    }

    /// Sends SIGTERM to every running command and its process group, then SIGKILL to what is
    /// left a quarter second later (a command may have been started with SIGTERM blocked).
    /// Signal-safe: only kill(2) and nanosleep(2).
    public func terminateAll() {
        var any = false
        for i in 0..<ChildProcesses.capacity {
            let pid = slots[i]
            if pid > 0 { kill(-pid, SIGTERM); kill(pid, SIGTERM); any = true }
        }
        guard any else { return }
        var pause = timespec(tv_sec: 0, tv_nsec: 250_000_000)
        nanosleep(&pause, nil)
        for i in 0..<ChildProcesses.capacity {
            let pid = slots[i]
            if pid > 0 { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        }
    }
}
