import ArgumentParser
import Foundation
import HonePipeline
import HoneStore

/// Opens the workspace of the current folder and takes its lock (waiting with a message).
func lockedWorkspace(noWait: Bool) throws -> (Workspace, AnyObject) {
    let root = Workspace.findRoot(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    let ws = try Workspace(root: root)
    do {
        let lock = try ws.lock(wait: !noWait) { holder in printError("waiting for another hone in this workspace (\(holder))…") }
        return (ws, lock)
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-hash every object in the store; quarantine and name the corrupt ones.",
        discussion: "A corrupt object is moved to .hone/quarantine/; the next `hone run` re-runs the stage that made it. Exit 1 when anything is wrong.")

    @Flag(name: .long, help: "Fail at once when another hone holds the workspace.") var noWait = false

    func run() throws {
        let (ws, lock) = try lockedWorkspace(noWait: noWait)
        defer { withExtendedLifetime(lock) {} }
        let report = Maintenance.verify(objects: ws.objects, runs: ws.runs)
        for (d, error) in report.corrupt { print("corrupt: \(d.hex): \(error)") }
        for (stage, fp, missing) in report.incomplete {
            print("incomplete run: stage '\(stage)' (\(fp.short)) lacks \(missing.map(\.short).joined(separator: ", ")); `hone run` re-runs it")
        }
        print("\(report.checked) objects (\(formatBytes(report.bytes))) checked: \(report.corrupt.count) corrupt, \(report.incomplete.count) incomplete run records.")
        if !report.ok { throw ExitCode(1) }
    }
}

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove objects no kept run record reaches.",
        discussion: "By default every run record is kept (the run-cache). With --only-locked, run records that none of the given pipelines' lockfiles name are removed too, and then what they alone reached.")

    @Flag(name: .long, help: "Keep only the runs the lockfiles name.") var onlyLocked = false
    @Option(name: .shortAndLong, help: "Pipelines whose lockfiles say what to keep (with --only-locked; repeatable).")
    var pipeline: [String] = [defaultPipeline]
    @Flag(name: .long, help: "Say what would be removed; remove nothing.") var dryRun = false
    @Flag(name: .long, help: "Fail at once when another hone holds the workspace.") var noWait = false

    func run() throws {
        var keep: Set<Digest>?
        if onlyLocked {
            var fps = Set<Digest>()
            for p in pipeline {
                guard let lock = try Lockfile.read(Lockfile.path(for: p)) else {
                    printError("no lockfile for \(p) (\(Lockfile.path(for: p))): refusing to remove every run")
                    throw ExitCode(2)
                }
                for e in lock.stages.values { fps.insert(e.fingerprint) }
            }
            keep = fps
        }
        let (ws, lock) = try lockedWorkspace(noWait: noWait)
        defer { withExtendedLifetime(lock) {} }
        let r = Maintenance.collectGarbage(objects: ws.objects, runs: ws.runs, keepRuns: keep, dryRun: dryRun)
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(r.removedObjects) objects (\(formatBytes(r.freedBytes))) and \(r.removedRuns) run records; kept \(r.keptObjects) objects.")
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline files without running anything.",
        discussion: "Prints every problem as file:line:column: key.path: message. Exit 2 when any file has one.")

    @Argument(help: "Pipeline files (default: \(defaultPipeline)).") var files: [String] = []
    @Option(name: [.customShort("S"), .customLong("set")], help: "Overrides to check as well.") var overrides: [String] = []

    func run() throws {
        var failed = false
        for f in files.isEmpty ? [defaultPipeline] : files {
            do {
                let p = try loadPipeline(f, overrides: overrides).pipeline
                print("\(f): ok (\(p.stages.count) stage\(p.stages.count == 1 ? "" : "s"))")
            } catch { failed = true }
        }
        if failed { throw ExitCode(2) }
    }
}
