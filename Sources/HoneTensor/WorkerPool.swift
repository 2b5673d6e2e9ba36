import Foundation
import Synchronization

/// Threads that stay alive between `Parallel.run` calls and spin a little before they sleep.
/// A generated token makes about 200 short products (tens of microseconds each); waking threads
/// through Dispatch for each cost more than the work (perf: 2 threads ran slower than 1).
///
/// One run uses the pool at a time; a run that finds it busy (a nested call, or another stage
/// running in parallel) tells the caller to use Dispatch. Which thread runs a task never
/// changes what the task computes.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: max(0, Parallel.defaultThreads - 1))

    /// The current job in one word, so a worker's claim and its view of the job cannot tear:
    /// job number (bits 40...), task count (bits 20..<40), next unclaimed task (bits 0..<20).
    private let state = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    /// How many workers may join the current job (the run's thread count − 1).
    private let helpers = Atomic<Int>(0)
    private let wake = NSCondition()
    private let busy = NSLock()
    /// Set before a job is published, read only by a thread that has claimed one of its tasks.
    private var body: ((Int) -> Void)?
    let workers: Int

    static let maxTasks = 1 << 20
    /// How long a waiting worker spins before it sleeps: longer than the serial stretches
    /// between a token's products (norms, attention set-up), short enough not to matter idle.
    static let spinNanoseconds: UInt64 = 500_000

    init(workers: Int) {
        self.workers = workers
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.work(index) }
            thread.name = "hone-worker-\(index)"
            thread.start()
        }
    }

    /// Runs `body` for tasks 0..<tasks on the calling thread and up to `threads − 1` workers.
    /// Returns false, having run nothing, when the pool is busy or too small to help.
    func run(tasks: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        guard workers > 0, tasks < Self.maxTasks, busy.try() else { return false }
        defer { busy.unlock() }
        withoutActuallyEscaping(body) { body in
            self.body = body
            finished.store(0, ordering: .relaxed)
            helpers.store(min(threads - 1, workers), ordering: .relaxed)
            let job = ((state.load(ordering: .relaxed) >> 40) + 1) & 0x7F_FFFF  // 23 bits: the word stays positive
            state.store(job << 40 | tasks << 20, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                wake.lock(); wake.broadcast(); wake.unlock()
            }
            work(on: job)
            while finished.load(ordering: .acquiring) < tasks {}
            self.body = nil
        }
        return true
    }

    /// Claims and runs tasks of `job` until none is left, several at a time while many are left:
    /// every claim moves the job word's cache line between the cores, and one claim per task (a
    /// token's products make about 13,000 tasks) cost more than the work.
    private func work(on job: Int) {
        var s = state.load(ordering: .acquiring)
        while s >> 40 == job {
            let next = s & 0xFFFFF, tasks = (s >> 20) & 0xFFFFF
            guard next < tasks else { return }
            // Guided: a share of what is left, so the last claims are single tasks and no thread
            // waits long on another's big one (training's 128- and 512-row products).
            let take = max(1, (tasks - next) / (2 * (helpers.load(ordering: .relaxed) + 1)))
            let (exchanged, now) = state.compareExchange(expected: s, desired: s + take, ordering: .acquiringAndReleasing)
            if exchanged {
                // One read of the closure per claim, not per task: each read retains its context,
                // whose count both threads would bounce between them. Released before the claim
                // counts as finished: the caller's withoutActuallyEscaping checks nothing kept it.
                var run = body
                for t in next..<(next + take) { run?(t) }
                run = nil
                finished.add(take, ordering: .releasing)
                s += take
            } else {
                s = now
            }
        }
    }

    private func work(_ index: Int) {
        var seen = 0, idle = false
        while true {
            var s = state.load(ordering: .acquiring), spins = 0
            var deadline = DispatchTime.now().uptimeNanoseconds + (idle ? 0 : Self.spinNanoseconds)
            while s >> 40 == seen {
                spins += 1
                if spins & 1023 == 0, DispatchTime.now().uptimeNanoseconds > deadline {
                    wake.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while state.load(ordering: .sequentiallyConsistent) >> 40 == seen { wake.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    wake.unlock()
                    deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
                }
                s = state.load(ordering: .acquiring)
            }
            seen = s >> 40
            // A worker the run does not use sleeps at once instead of spinning beside it.
            idle = index >= helpers.load(ordering: .relaxed)
            if !idle { work(on: seen) }
        }
    }
}
