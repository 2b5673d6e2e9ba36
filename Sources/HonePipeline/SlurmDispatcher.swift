import Foundation
import HoneStore

/// `executor: slurm`: each stage that must run becomes a Slurm job. The job runs this same
/// `hone` binary on the node (`hone exec-stage`), which executes the one stage against the
/// shared store and files its run record there; this process follows the job with
/// `scontrol show job` (polling itself, every 0.2 s at first and at most every 5 s: `sbatch --wait` backs off to 32 s
/// between checks),
/// reads its log as it grows, and cancels its jobs with `scancel` when interrupted.
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
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
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
        var tail = LogTail(path: log)
        var pause = 0.2
        var pendingSince = Date(), toldPending = false
        var unreachableSince: Date?
        while true {
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 1.5, 5)
            for line in tail.newLines() where echo { observer.note("\(stage.name) | \(line)") }
            let show = SlurmDispatcher.tool("scontrol", ["show", "job", id, "-o"])
            let job = SlurmDispatcher.fields(show.out)
            guard show.status == 0, let state = job["JobState"] else {
                // Purged from slurmctld's memory (MinJobAge): the store says how it ended.
                if show.err.contains("Invalid job id") { return }
                // slurmctld restarting or busy: keep asking for a while, then give the job up.
                let since = unreachableSince ?? Date()
                unreachableSince = since
                if Date().timeIntervalSince(since) < 120 { continue }
                _ = SlurmDispatcher.tool("scancel", [id])
                throw DispatchFailure("scontrol could not show Slurm job \(id) of stage '\(stage.name)' for 2 minutes (cancelled it): \(show.err)")
            }
            unreachableSince = nil
            switch state {
            case "COMPLETED":
                _ = tail.newLines()
                return
            case "PENDING":
                if !toldPending, Date().timeIntervalSince(pendingSince) > 30 {
                    observer.note("\(stage.name): Slurm job \(id) is pending (\(job["Reason"] ?? "?"))")
                    toldPending = true
                }
            case "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED":
                pendingSince = Date()
            default:
                _ = tail.newLines()
                let exit = job["ExitCode"].flatMap { $0.split(separator: ":").first }.flatMap { Int($0) } ?? 0
                let what: String
                if state == "FAILED" && exit != 0 {
                    what = "Slurm job \(id) failed with exit status \(exit)"
                } else {
                    var why = job["Reason"].flatMap { $0 == "None" ? nil : $0 }.map { [$0] } ?? []
                    if state == "TIMEOUT", let limit = job["TimeLimit"] { why.append("time limit \(limit)") }
                    what = "Slurm ended job \(id): \(state)" + (why.isEmpty ? "" : " (\(why.joined(separator: ", ")))")
                }
                throw DispatchFailure(what + "; job log \(log)" + (tail.last.isEmpty ? "" : ":\n  " + tail.last.joined(separator: "\n  ")))
            }
        }
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
