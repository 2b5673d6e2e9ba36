import Foundation
import HonePipeline

/// How a run talks to people: a live line with elapsed times on a terminal, plain lines when
/// output is piped (CI logs), one JSON object per event with `--json`.
final class ConsoleObserver: RunObserver, @unchecked Sendable {
    enum Mode { case terminal, plain, json }

    let mode: Mode
    private let lock = NSLock()
    private var running: [String: (since: Date, progress: String)] = [:]
    private var ticker: Thread?
    private var liveLineShown = false

    init(json: Bool) {
        mode = json ? .json : (isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil ? .terminal : .plain)
        if mode == .terminal {
            let t = Thread { [weak self] in
                while let self {
                    Thread.sleep(forTimeInterval: 0.1)
                    self.lock.lock(); self.drawLiveLine(); self.lock.unlock()
                }
            }
            t.start()
            ticker = t
        }
    }

    func stageStarted(_ stage: String, action: StageAction, reasons: [String]) {
        lock.lock(); defer { lock.unlock() }
        running[stage] = (Date(), "")
        let why = reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"
        switch mode {
        case .json: emit(["event": "start", "stage": stage, "action": action.rawValue, "reasons": reasons])
        default: say("\(stage): \(action == .run ? "running" : "restoring from the run-cache")\(why)")
        }
    }

    func stageProgress(_ stage: String, done: Int, total: Int?, unit: String, message: String?) {
        lock.lock(); defer { lock.unlock() }
        var text = total.map { "\(done)/\($0) \(unit)" } ?? "\(done) \(unit)"
        if let since = running[stage]?.since, let total, done > 0, total > done {
            let eta = Date().timeIntervalSince(since) / Double(done) * Double(total - done)
            text += ", ETA \(formatSeconds(eta))"
        }
        if let message { text += " \(message)" }
        running[stage]?.progress = text
        if mode == .json {
            var o: [String: Any] = ["event": "progress", "stage": stage, "done": done, "unit": unit]
            if let total { o["total"] = total }
            if let message { o["message"] = message }
            emit(o)
        }
    }

    func stageFinished(_ stage: String, outcome: StageOutcome, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        running[stage] = nil
        let (word, detail): (String, String?) = {
            switch outcome {
            case .upToDate: return ("up-to-date", nil)
            case .restored: return ("restored", nil)
            case .ran: return ("ran", nil)
            case let .retry(why): return ("retry", why)
            case let .failed(why): return ("failed", why)
            case let .skipped(why): return ("skipped", why)
            }
        }()
        switch mode {
        case .json:
            var o: [String: Any] = ["event": "finish", "stage": stage, "outcome": word, "seconds": (seconds * 1000).rounded() / 1000]
            if let detail { o["detail"] = detail }
            emit(o)
        default:
            switch outcome {
            case .upToDate: break  // summarised at the end: a no-op run prints one line
            case .ran, .restored: say("\(stage): \(word) in \(formatSeconds(seconds))")
            case .retry: say("\(stage): input corrupt, will retry: \(detail ?? "")")
            case .failed: sayError("\(stage): FAILED: \(detail ?? "")")
            case .skipped: say("\(stage): skipped: \(detail ?? "")")
            }
        }
    }

    func note(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        if mode == .json { emit(["event": "note", "text": text]) } else { say(text) }
    }

    func summary(_ summary: RunSummary, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        var counts: [String: Int] = [:]
        for (_, o) in summary.outcomes {
            let key: String
            switch o {
            case .upToDate: key = "up to date"
            case .restored: key = "restored"
            case .ran: key = "ran"
            case .retry, .failed: key = "failed"
            case .skipped: key = "skipped"
            }
            counts[key, default: 0] += 1
        }
        if mode == .json {
            emit(["event": "summary", "counts": counts, "seconds": (seconds * 1000).rounded() / 1000, "failed": summary.failed])
            return
        }
        let n = summary.outcomes.count
        if counts["up to date"] == n {
            say("Everything is up to date (\(n) stage\(n == 1 ? "" : "s"), \(formatSeconds(seconds))).")
        } else {
            let parts = ["ran", "restored", "up to date", "failed", "skipped"].compactMap { k in counts[k].map { "\($0) \(k)" } }
            say("\(parts.joined(separator: ", ")) (\(formatSeconds(seconds))).")
        }
    }

    func stop() { lock.lock(); clearLiveLine(); ticker?.cancel(); lock.unlock() }

    // MARK: drawing (lock held)

    private func say(_ line: String) {
        clearLiveLine()
        print(line)
        fflush(stdout)
    }

    private func sayError(_ line: String) {
        clearLiveLine()
        fflush(stdout)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private func emit(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
            fflush(stdout)
        }
    }

    private func drawLiveLine() {
        guard mode == .terminal, !running.isEmpty else { clearLiveLine(); return }
        let now = Date()
        let parts = running.sorted { $0.key < $1.key }.map { name, r in
            "\(name) \(formatSeconds(now.timeIntervalSince(r.since)))" + (r.progress.isEmpty ? "" : " \(r.progress)")
        }
        var line = "… " + parts.joined(separator: " | ")
        if line.count > 150 { line = String(line.prefix(149)) + "…" }
        print("\r\u{1B}[2K" + line, terminator: "")
        fflush(stdout)
        liveLineShown = true
    }

    private func clearLiveLine() {
        guard liveLineShown else { return }
        print("\r\u{1B}[2K", terminator: "")
        liveLineShown = false
    }
}

func formatSeconds(_ s: Double) -> String {
    if s < 1 { return String(format: "%.0fms", s * 1000) }
    if s < 60 { return String(format: "%.1fs", s) }
    return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
}

/// Errors and notes for people, on stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data(("hone: " + text + "\n").utf8))
}
