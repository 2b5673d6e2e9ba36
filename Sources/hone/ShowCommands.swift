import ArgumentParser
import Foundation
import HonePipeline
import HoneStore

/// The run record of a stage's last run, as the lockfile names it.
func lastRun(_ loaded: Loaded, _ stage: Stage) throws -> RunRecord {
    let lock = try Lockfile.read(Lockfile.path(for: loaded.pipeline.file))
    guard let entry = lock?.stages[stage.name] else {
        printError("stage '\(stage.name)' has not run yet (no entry in \(Lockfile.path(for: loaded.pipeline.file))); try `hone run \(loaded.pipeline.file) \(stage.name)`")
        throw ExitCode(1)
    }
    guard let record = loaded.workspace.runs.get(entry.fingerprint) else {
        printError("stage '\(stage.name)': the lockfile names run \(entry.fingerprint.short), which is not in this store; `hone run` brings it back")
        throw ExitCode(1)
    }
    return record
}

/// Where a person can open an output as plain files.
func readablePath(_ loaded: Loaded, _ stage: Stage, _ output: String) -> String? {
    switch stage.body {
    case .shell: return output
    case .kind:
        let view = loaded.workspace.outputView(stage: stage.name, output: output)
        return FileManager.default.fileExists(atPath: view) ? loaded.workspace.display(view) : nil
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a stage's last run: outputs (digest, size, a path to open), metrics, log.")

    @Argument(help: "The stage.") var stage: String
    @OptionGroup var file: PipelineArgument
    @Flag(name: .long, help: "Print the run record as JSON.") var json = false

    func run() throws {
        let loaded = try loadPipeline(file.pipeline)
        let s = try loaded.stage(stage)
        let record = try lastRun(loaded, s)
        if json { print(record.json.pretty, terminator: ""); return }
        print("stage       \(s.name) (\(s.kindName))")
        if let desc = s.desc { print("desc        \(desc)") }
        print("fingerprint \(record.fingerprint.hex)")
        if let started = record.timing["started"]?.stringValue, let secs = record.timing["seconds"]?.doubleValue {
            print("ran         \(started), \(formatSeconds(secs))")
        }
        print("outputs")
        for (name, a) in record.outputs.sorted(by: { $0.key < $1.key }) {
            let type: String
            switch a { case .file: type = "file"; case .tree: type = "folder" }
            let path = readablePath(loaded, s, name) ?? "hone export \(s.name).\(name) DEST"
            print("  \(name)  \(type)  \(a.digest.short)  \(formatBytes(a.size))  \(path)")
        }
        if !record.metrics.isEmpty {
            print("metrics")
            for (k, v) in record.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k) = \(v)") }
        }
        if record.log != nil { print("log         hone logs \(s.name)") }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print what a stage printed in its last run.")

    @Argument(help: "The stage.") var stage: String
    @OptionGroup var file: PipelineArgument

    func run() throws {
        let loaded = try loadPipeline(file.pipeline)
        let record = try lastRun(loaded, try loaded.stage(stage))
        guard let log = record.log else { print("(no log)"); return }
        do {
            try loaded.workspace.objects.read(log) { FileHandle.standardOutput.write(Data($0)) }
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// STAGE.OUTPUT of the stage's last run, or exit 2 naming what is wrong (and the nearest output).
func outputArtifact(_ loaded: Loaded, _ ref: String) throws -> (stage: Stage, name: String, artifact: Artifact) {
    guard let dot = ref.firstIndex(of: ".") else {
        printError("expected STAGE.OUTPUT, e.g. split.train; `hone show STAGE` lists a stage's outputs")
        throw ExitCode(2)
    }
    let s = try loaded.stage(String(ref[..<dot]))
    let name = String(ref[ref.index(after: dot)...])
    let record = try lastRun(loaded, s)
    guard let artifact = record.outputs[name] else {
        let names = record.outputs.keys.sorted()
        let hint = closestName(to: name, in: names).map { " (did you mean '\($0)'?)" } ?? ""
        printError("stage '\(s.name)' has no output '\(name)'\(hint); outputs: \(names.joined(separator: ", "))")
        throw ExitCode(2)
    }
    return (s, name, artifact)
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stage output out as plain files.",
        discussion: "STAGE.OUTPUT names the output (`hone show STAGE` lists them). The bytes are read from the store and verified.")

    @Argument(help: "STAGE.OUTPUT") var output: String
    @Argument(help: "Where to write it (a file or a folder, as the output is); must not exist.") var dest: String
    @Flag(name: .long, help: "Replace DEST if it exists.") var force = false
    @OptionGroup var file: PipelineArgument

    func run() throws {
        let loaded = try loadPipeline(file.pipeline)
        let (s, name, artifact) = try outputArtifact(loaded, output)
        if FileManager.default.fileExists(atPath: dest) {
            guard force else {
                printError("\(dest) exists; choose a new path, or pass --force to replace it")
                throw ExitCode(2)
            }
        }
        do {
            try loaded.workspace.objects.restoreArtifact(artifact, to: dest)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        print("wrote \(s.name).\(name) (\(formatBytes(artifact.size))) to \(dest)")
    }
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var x = Double(n), i = 0
    while x >= 1000 && i < units.count - 1 { x /= 1000; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", x, units[i])
}
