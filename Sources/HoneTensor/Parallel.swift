import CBLAS
import Dispatch
import Foundation

/// Our own threading, built so that results are bit-identical on 1 or 2 threads.
///
/// Work is cut into a fixed list of tasks whose boundaries never depend on the thread count;
/// the thread count only decides who runs which task. OpenBLAS runs single-threaded inside each
/// task: its own threading splits a matrix by thread count, and a row half computed alone gives
/// different bits from the same rows inside a whole-matrix call (measured here:
/// ../shared/bench/par_sgemm.c).
public enum Parallel {
    /// Threads for numeric work: HONE_THREADS, else every core. Never changes the bits.
    public static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["HONE_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// Makes OpenBLAS single-threaded; call before any BLAS work (idempotent).
    public static let configure: Void = { openblas_set_num_threads(1) }()

    /// Runs `body(task)` for every task in 0..<tasks on `threads` threads. Threads take the next
    /// unstarted task as they free up (tasks differ in cost); which thread ran a task never
    /// changes what the task computes.
    public static func run(tasks: Int, threads: Int, _ body: (Int) -> Void) {
        _ = configure
        let lanes = max(1, min(threads, tasks))
        if lanes == 1 {
            for t in 0..<tasks { body(t) }
            return
        }
        if WorkerPool.shared.run(tasks: tasks, threads: lanes, body) { return }
        let next = TaskCounter()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: lanes) { _ in
                while let t = next.take(below: tasks) { body(t) }
            }
        }
    }

    final class TaskCounter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func take(below limit: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }

    /// Fixed slices of `count` items, `size` each (the last may be shorter), computed on demand:
    /// kernels call this every step, and it allocates nothing.
    public static func slices(_ count: Int, size: Int) -> Slices { Slices(total: count, size: size) }

    public struct Slices: RandomAccessCollection, Sendable {
        public let total: Int, size: Int
        public var startIndex: Int { 0 }
        public var endIndex: Int { (total + size - 1) / size }
        public subscript(i: Int) -> Range<Int> { (i * size)..<Swift.min(total, (i + 1) * size) }
    }
}
