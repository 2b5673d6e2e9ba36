import Foundation
import HoneStore

/// `executor: slurm`: each stage that must run becomes a Slurm job. The job runs this same
/// `hone` binary on the node (`hone exec-stage`), which executes the one stage against the
/// shared store and files its run record there. This process follows all its jobs with one
/// `squeue` per tick (`SlurmJobWatcher`), reads each job's log as it grows, and cancels its
/// jobs with `scancel` when interrupted.
///
/// The workspace, `.hone/` and the binary must be on a filesystem every node mounts at the same
/// path (see docs/cluster.md for what the store assumes of it).
public final class SlurmDispatcher: StageDispatcher, @unchecked Sendable {
    let hone: String
    let pipelineFile: String
    let overrides: [String]
    let directory: String
    let logs: String
    let echo: Bool
    private let lock = NSLock()
    private var active = Set<String>()
    private let watcher = SlurmJobWatcher()
    private var cancelled = false

    /// `hone`: the binary the nodes run; `directory`: where the jobs start (the folder
    /// `overrides` are relative to); `logs`: where job scripts and logs go. The jobs read a copy
    /// of the pipeline file as it is now, so editing it while they wait changes nothing.
    public init(hone: String, pipelineFile: String, overrides: [String], directory: String, logs: String, echo: Bool) throws {
        self.hone = hone; self.overrides = overrides
        self.directory = directory; self.logs = logs; self.echo = echo
        let bytes = try Data(contentsOf: URL(fileURLWithPath: pipelineFile, relativeTo: URL(fileURLWithPath: directory)))
        let ext = (pipelineFile as NSString).pathExtension
        let copy = "\(logs)/pipeline-\(Digest.of(bytes).short).\(ext.isEmpty ? "yaml" : ext)"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: copy) { try writeAtomically([UInt8](bytes), to: copy) }
        self.pipelineFile = copy
    }

    public func dispatch(_ stage: Stage, fingerprint: Digest, observer: RunObserver) throws {
        let base = "\(logs)/\(fingerprint.short)-\(stage.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.map(String.init).joined())"
        let script = base + ".sh", log = base + ".log"
        let command = [hone, "exec-stage", "--fingerprint", fingerprint.hex] + overrides.flatMap { ["-S", $0] } + [pipelineFile, stage.name]
        try Data(("#!/bin/sh\n# hone: stage '\(stage.name)' of \(pipelineFile), fingerprint \(fingerprint.hex)\n"
            + "exec " + command.map(SlurmDispatcher.quote).joined(separator: " ") + "\n").utf8).write(to: URL(fileURLWithPath: script))
        unlink(log)
        let submit = SlurmDispatcher.tool("sbatch", ["--parsable", "--job-name=hone:\(stage.name)", "--output=\(log)", "--chdir=\(directory)"]
            + stage.resources.sbatchFlags + [script])
        guard submit.status == 0, let id = submit.out.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }), !id.isEmpty else {
            throw DispatchFailure("sbatch refused the job for stage '\(stage.name)': \(submit.err.isEmpty ? submit.out : submit.err)")
        }
        // Interrupted while sbatch ran: the new job goes too.
        guard track(id, true) else {
            _ = SlurmDispatcher.tool("scancel", [id])
            throw DispatchFailure("interrupted")
        }
        defer { _ = track(id, false) }
        observer.stageProgress(stage.name, done: 0, total: nil, unit: "", message: "Slurm job \(id)")
        watcher.add(id)
        defer { watcher.remove(id) }
        var tail = LogTail(path: log)
        var pendingSince = Date(), toldPending = false
        while true {
            let seen = watcher.next(id, timeout: 1)
            for line in tail.newLines() where echo { observer.note("\(stage.name) | \(line)") }
            switch seen {
            case .notYet:
                continue
            case .gone:
                // Purged from slurmctld's memory (MinJobAge): the store says how it ended.
                return
            case let .unreachable(why):
                _ = SlurmDispatcher.tool("scancel", [id])
                throw DispatchFailure("Slurm did not answer about job \(id) of stage '\(stage.name)' for 2 minutes (cancelled it): \(why)")
            case .state("COMPLETED", _):
                _ = tail.newLines()
                return
            case let .state("PENDING", reason):
                if !toldPending, Date().timeIntervalSince(pendingSince) > 30 {
                    observer.note("\(stage.name): Slurm job \(id) is pending (\(reason))")
                    toldPending = true
                }
            case let .state(state, _) where SlurmDispatcher.unfinished.contains(state):
                pendingSince = Date()
            case let .state(state, reason):
                _ = tail.newLines()
                throw DispatchFailure(SlurmDispatcher.ending(id, state: state, reason: reason) + "; job log \(log)"
                    + (tail.last.isEmpty ? "" : ":\n  " + tail.last.joined(separator: "\n  ")))
            }
        }
    }

    static let unfinished: Set<String> = ["RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                                          "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"]

    /// How a job that did not complete ended, in Slurm's words: its exit status when it failed,
    /// else its state and reason (and the limit it ran into).
    static func ending(_ id: String, state: String, reason: String) -> String {
        let job = fields(tool("scontrol", ["show", "job", id, "-o"]).out)
        let exit = job["ExitCode"].flatMap { $0.split(separator: ":").first }.flatMap { Int($0) } ?? 0
        if state == "FAILED" && exit != 0 { return "Slurm job \(id) failed with exit status \(exit)" }
        var why = reason == "None" || reason.isEmpty ? [] : [reason]
        if state == "TIMEOUT", let limit = job["TimeLimit"] { why.append("time limit \(limit)") }
        return "Slurm ended job \(id): \(state)" + (why.isEmpty ? "" : " (\(why.joined(separator: ", ")))")
    }

    /// Cancels every job this run submitted that has not finished (`hone` interrupted).
    public func cancelAll() {
        lock.lock(); cancelled = true; let ids = Array(active); lock.unlock()
        guard !ids.isEmpty else { return }
        _ = SlurmDispatcher.tool("scancel", ids)
    }

    /// Adds or removes a running job; false when adding after `cancelAll` (cancel it instead).
    private func track(_ id: String, _ on: Bool) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if on { if cancelled { return false }; active.insert(id) } else { active.remove(id) }
        return true
    }

    /// `Key=Value` pairs of `scontrol show job -o` (values here never hold spaces).
    static func fields(_ line: String) -> [String: String] {
        var out: [String: String] = [:]
        for token in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            guard let eq = token.firstIndex(of: "=") else { continue }
            let key = String(token[..<eq])
            if out[key] == nil { out[key] = String(token[token.index(after: eq)...]) }
        }
        return out
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs a Slurm command found on PATH; its whole output (they print little).
    static func tool(_ name: String, _ args: [String]) -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [name] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return (127, "", "cannot start \(name): \(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errText = String(decoding: e, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (p.terminationStatus, String(decoding: o, as: UTF8.self),
                p.terminationStatus == 127 && errText.contains("No such file") ? "\(name) is not installed (is this a Slurm login node?)" : errText)
    }
}

/// Reads a growing log file line by line and keeps its last lines for an error message.
struct LogTail {
    let path: String
    var offset: UInt64 = 0
    var partial = ""
    var last: [String] = []

    init(path: String) { self.path = path }

    mutating func newLines() -> [String] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        var lines = (partial + String(decoding: data, as: UTF8.self)).components(separatedBy: "\n")
        partial = lines.removeLast()
        last = Array((last + lines).suffix(15))
        return lines
    }
}
