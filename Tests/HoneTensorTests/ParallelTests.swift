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

    /// Groups between stages, as the backward has them (a layer's weight gradients): each task
    /// runs once, after every slice has done the group's `after` stage and before any slice
    /// starts its `before` stage, however the threads meet. The group tasks are slow, so slices
    /// that did not wait for them would run ahead.
    @Test func groupTasksRunBetweenTheirStages() {
        let stages = 12, slices = 4
        let groups = [Parallel.Group(tasks: 3, after: 0, before: 2), Parallel.Group(tasks: 0, after: 0, before: 4),
                      Parallel.Group(tasks: 2, after: 1, before: 5), Parallel.Group(tasks: 1, after: 4, before: 6),
                      Parallel.Group(tasks: 4, after: 7, before: Int.max), Parallel.Group(tasks: 2, after: 11, before: Int.max)]
        let taskCount = groups.reduce(0) { $0 + $1.tasks }
        for threads in [1, 2] {
            for round in 0..<20 {
                // Start and end of each step on one clock, the log's length under a lock.
                let lock = NSLock()
                var clock = 0
                var stageTimes = Array(repeating: (start: -1, end: -1), count: stages * slices)
                var taskTimes = Array(repeating: (start: -1, end: -1), count: taskCount)
                var runs = 0
                func tick() -> Int { lock.lock(); defer { lock.unlock() }; clock += 1; return clock }
                func spin(_ microseconds: Int) { let end = DispatchTime.now().uptimeNanoseconds + UInt64(microseconds * 1000); while DispatchTime.now().uptimeNanoseconds < end {} }
                Parallel.stages(stages, slices: slices, groups: groups.count, group: { groups[$0] }, threads: threads) { step in
                    let start = tick()
                    switch step {
                    case let .stage(stage, slice):
                        spin((stage + slice + round) % 3 * 20)
                        lock.lock(); stageTimes[stage * slices + slice] = (start, clock + 1); runs += 1; clock += 1; lock.unlock()
                    case let .task(task, group):
                        spin(300)
                        let index = groups[..<group].reduce(0) { $0 + $1.tasks } + task
                        lock.lock(); taskTimes[index] = (start, clock + 1); runs += 1; clock += 1; lock.unlock()
                    }
                }
                #expect(runs == stages * slices + taskCount, "\(threads) threads")
                for slice in 0..<slices {
                    for stage in 1..<stages {
                        #expect(stageTimes[stage * slices + slice].start > stageTimes[(stage - 1) * slices + slice].end)
                    }
                }
                var index = 0
                for group in groups {
                    for _ in 0..<group.tasks {
                        let t = taskTimes[index]
                        index += 1
                        for slice in 0..<slices {
                            #expect(t.start > stageTimes[group.after * slices + slice].end, "a task started before its stage ended, \(threads) threads")
                            if group.before < stages {
                                #expect(t.end < stageTimes[group.before * slices + slice].start, "a stage started before a task it waits for ended, \(threads) threads")
                            }
                        }
                    }
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
