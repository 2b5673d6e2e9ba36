import Foundation
import HoneTensor
import Testing

/// `Parallel.run` runs every task exactly once however calls meet: back to back (the worker
/// pool), nested inside a task, and from two threads at once (stages running side by side).
@Suite struct ParallelTests {
    /// Runs `tasks` tasks on `threads` threads and returns how often each ran.
    static func counts(tasks: Int, threads: Int, nested: Bool = false) -> [Int] {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: tasks)
        counts.initialize(repeating: 0, count: tasks)
        defer { counts.deallocate() }
        Parallel.run(tasks: tasks, threads: threads) { t in
            if nested {
                // Each task owns its slot; the inner run must finish before the outer task does.
                let inner = ParallelTests.counts(tasks: 3, threads: threads)
                counts[t] += inner == [1, 1, 1] ? 1 : 100
            } else {
                counts[t] += 1
            }
        }
        return Array(UnsafeBufferPointer(start: counts, count: tasks))
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    @Test func everyTaskRunsOnceInManyShortRuns() {
        for n in [1, 2, 3, 17, 768] {
            for _ in 0..<200 { #expect(Self.counts(tasks: n, threads: 2) == Array(repeating: 1, count: n)) }
        }
    }

    /// Runs 2 ms apart: the worker has gone to sleep before each, and must be woken.
    @Test func runsAfterTheWorkersSleptStillRunEveryTask() {
        for n in [2, 37] {
            for _ in 0..<20 {
                usleep(2_000)
                #expect(Self.counts(tasks: n, threads: 2) == Array(repeating: 1, count: n))
            }
        }
    }

    @Test func nestedRunsFinishInsideTheirTask() {
        #expect(Self.counts(tasks: 9, threads: 2, nested: true) == Array(repeating: 1, count: 9))
    }

    /// `Parallel.stages`: each slice goes through every stage once, in order, and a slice's
    /// stage never overlaps another stage of the same slice.
    @Test func stagesRunInOrderWithinEachSlice() {
        for (stages, slices) in [(1, 1), (5, 1), (3, 2), (20, 4), (7, 9)] {
            for threads in [1, 2] {
                for _ in 0..<50 {
                    let seen = UnsafeMutablePointer<Int>.allocate(capacity: slices * stages), inside = UnsafeMutablePointer<Int>.allocate(capacity: slices)
                    seen.initialize(repeating: -1, count: slices * stages); inside.initialize(repeating: 0, count: slices)
                    defer { seen.deallocate(); inside.deallocate() }
                    var order = Array(repeating: 0, count: slices)  // written only by the slice's holder
                    order.withUnsafeMutableBufferPointer { order in
                        Parallel.stages(stages, slices: slices, threads: threads) { stage, slice in
                            inside[slice] += 1
                            seen[slice * stages + stage] = order[slice]
                            order[slice] += 1
                            if inside[slice] != 1 { seen[slice * stages + stage] = -2 }
                            inside[slice] -= 1
                        }
                    }
                    let expected = (0..<slices).flatMap { _ in Array(0..<stages) }
                    #expect(Array(UnsafeBufferPointer(start: seen, count: slices * stages)) == expected, "\(stages) stages, \(slices) slices, \(threads) threads")
                }
            }
        }
    }

    @Test func twoThreadsCallingAtOnceEachGetTheirOwnTasks() {
        let group = DispatchGroup()
        let bad = Counter()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<300 where ParallelTests.counts(tasks: 37, threads: 2) != Array(repeating: 1, count: 37) { bad.add() }
            }
        }
        group.wait()
        #expect(bad.value == 0)
    }
}
