import Foundation

/// Follows every Slurm job of a run with one `squeue --me` per tick, however many there are:
/// polling each job on its own would cost slurmctld one call per job per tick. Checks after
/// 0.2 s at first, then backs off to every 5 s (`sbatch --wait` backs off to 32 s); a new job
/// starts the quick checks again.
final class SlurmJobWatcher: @unchecked Sendable {
    /// What the last check said of one job.
    enum Seen: Equatable {
        case notYet
        case state(String, reason: String)
        /// No longer known to slurmctld (purged after MinJobAge).
        case gone
        /// slurmctld has not answered for two minutes.
        case unreachable(String)
    }

    private let condition = NSCondition()
    private var watched: [String: Seen] = [:]
    private var polling = false
    private var pause = 0.2
    private var ticks = 0

    func add(_ id: String) {
        condition.lock(); defer { condition.unlock() }
        watched[id] = .notYet
        pause = 0.2
        if !polling {
            polling = true
            Thread.detachNewThread { [self] in poll() }
        }
    }

    func remove(_ id: String) {
        condition.lock(); watched[id] = nil; condition.unlock()
    }

    /// Waits for the next check (at most `timeout` seconds) and returns what it said of `id`.
    func next(_ id: String, timeout: Double) -> Seen {
        condition.lock(); defer { condition.unlock() }
        let tick = ticks
        let deadline = Date().addingTimeInterval(timeout)
        while ticks == tick && condition.wait(until: deadline) {}
        return watched[id] ?? .gone
    }

    private func poll() {
        var unreachableSince: Date?
        while true {
            condition.lock()
            if watched.isEmpty { polling = false; condition.unlock(); return }
            let wait = pause
            pause = min(pause * 1.5, 5)
            condition.unlock()
            Thread.sleep(forTimeInterval: wait)

            let q = SlurmDispatcher.tool("squeue", ["-h", "-t", "all", "--me", "-o", "%i|%T|%r"])
            var seen: [String: Seen] = [:]
            for line in q.out.split(separator: "\n") {
                let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                if f.count == 3 { seen[f[0]] = .state(f[1], reason: f[2]) }
            }
            condition.lock()
            if q.status == 0 {
                unreachableSince = nil
                for id in watched.keys { watched[id] = seen[id] ?? .gone }
            } else {
                let since = unreachableSince ?? Date()
                unreachableSince = since
                if Date().timeIntervalSince(since) > 120 { for id in watched.keys { watched[id] = .unreachable(q.err) } }
            }
            ticks += 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
