import Foundation
import Synchronization

extension Parallel {
    /// Tasks that need what every slice wrote up to a stage (a weight's gradient sums over all
    /// rows) and read buffers that a later stage overwrites.
    public struct Group: Sendable {
        /// Tasks in the group, each single-threaded work.
        public let tasks: Int
        /// They start once every slice has done stage `after`.
        public let after: Int
        /// No slice starts stage `before` until all of them are done (`Int.max`: no such stage).
        public let before: Int
        public init(tasks: Int, after: Int, before: Int) { self.tasks = tasks; self.after = after; self.before = before }
    }

    /// What `stages` hands to its body: a stage of one slice, or a task of a group.
    public enum Step {
        case stage(Int, slice: Int)
        case task(Int, group: Int)
    }

    /// Runs `body(stage, slice)` for every stage in 0..<stages and slice in 0..<slices, where
    /// stage s of a slice runs after stage s − 1 of the same slice and the slices do not depend
    /// on each other (row slices through row-local operations). A thread that finishes a stage
    /// goes on with the least advanced slice no one holds instead of waiting for the other at
    /// the end of every operation: on config A at 2 threads that wait was 4–6% of the step,
    /// spread over the ends of 121 runs of four 512-row products (BENCHMARKS.md).
    public static func stages(_ stages: Int, slices: Int, threads: Int, _ body: (_ stage: Int, _ slice: Int) -> Void) {
        self.stages(stages, slices: slices, groups: 0, group: { _ in Group(tasks: 0, after: 0, before: 0) }, threads: threads) { step in
            if case let .stage(stage, slice) = step { body(stage, slice) }
        }
    }

    /// `stages` with groups of tasks between them (`group(g)` for g in 0..<groups, in order of
    /// `after`): a thread takes a group's task as soon as the group may start, the most urgent
    /// group (lowest `before`) first, and the least advanced slice's next stage otherwise. The
    /// tasks fill the time a thread would wait for a slice, and the last tasks of a pass are
    /// stages of a few rows, so neither thread waits long for the other at its end.
    ///
    /// `body` runs single-threaded work; which thread runs a step never changes what it
    /// computes. On one thread, or with one slice, it runs stage after stage, every slice of a
    /// stage before the next, and after each stage the groups that may then start, all their
    /// tasks in one run of `threads` threads. Allocates nothing; `group` runs under a lock and
    /// must be cheap.
    public static func stages(_ stages: Int, slices: Int, groups: Int, group: (Int) -> Group, threads: Int, _ body: (Step) -> Void) {
        for g in 0..<groups {
            let G = group(g)
            precondition(G.after >= 0 && G.after < stages && G.before > G.after && (g == 0 || group(g - 1).after <= G.after),
                         "group \(g) must start after a stage that exists, end before a later one, and follow the groups before it")
        }
        let lanes = max(1, min(threads, slices))
        if lanes == 1 {
            var next = 0
            for stage in 0..<stages {
                for slice in 0..<slices { body(.stage(stage, slice: slice)) }
                let first = next
                while next < groups, group(next).after == stage { next += 1 }
                runGroups(first..<next, group: group, threads: threads, body)
            }
            return
        }
        // Per slice: the next stage to claim, times 2, plus 1 while a thread holds the slice.
        // Per group: tasks claimed, then tasks finished. Last, the first group with a task
        // unclaimed and the first unfinished one, where the scans start.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: slices + 2 * groups + 2) { state in
            state.initialize(repeating: 0)
            let slice = state.baseAddress!, claimed = slice + slices, finished = claimed + groups
            let firstUnclaimed = finished + groups, firstUnfinished = firstUnclaimed + 1
            let lock = Atomic<Bool>(false)
            func take() -> Claim {
                // Stages every slice has done, and the least advanced free slice.
                var done = Int.max, best = -1, more = false
                for s in 0..<slices {
                    let next = slice[s] >> 1, held = slice[s] & 1
                    done = min(done, next)
                    if next + held < stages { more = true }
                    if held == 0, next < stages, best < 0 || next < slice[best] >> 1 { best = s }
                }
                while firstUnclaimed.pointee < groups, claimed[firstUnclaimed.pointee] == group(firstUnclaimed.pointee).tasks { firstUnclaimed.pointee += 1 }
                while firstUnfinished.pointee < groups, finished[firstUnfinished.pointee] == group(firstUnfinished.pointee).tasks { firstUnfinished.pointee += 1 }
                var urgent = -1, deadline = Int.max
                for g in firstUnclaimed.pointee..<groups {
                    let G = group(g)
                    if G.after >= done { break }
                    if claimed[g] < G.tasks, urgent < 0 || G.before < deadline { urgent = g; deadline = G.before }
                }
                if urgent >= 0 {
                    claimed[urgent] += 1
                    return .step(.task(claimed[urgent] - 1, group: urgent))
                }
                if best >= 0 {
                    // Blocked while a group that must end before this stage has not; a more
                    // advanced slice would be blocked by it too.
                    let stage = slice[best] >> 1
                    var blocked = false
                    for g in firstUnfinished.pointee..<groups {
                        let G = group(g)
                        if G.after >= stage { break }
                        if G.before <= stage, finished[g] < G.tasks { blocked = true; break }
                    }
                    if !blocked {
                        slice[best] |= 1
                        return .step(.stage(stage, slice: best))
                    }
                }
                return more || firstUnfinished.pointee < groups ? .wait : .done
            }
            func locked<R>(_ work: () -> R) -> R {
                while !lock.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {}
                defer { lock.store(false, ordering: .releasing) }
                return work()
            }
            run(tasks: lanes, threads: lanes) { _ in
                while true {
                    switch locked(take) {
                    case .done:
                        return
                    case .wait:
                        sched_yield()  // what comes next follows work the other thread holds
                    case let .step(step):
                        body(step)
                        switch step {
                        case let .stage(stage, s): locked { slice[s] = (stage + 1) << 1 }
                        case let .task(_, g): locked { finished[g] += 1 }
                        }
                    }
                }
            }
        }
    }

    private enum Claim { case step(Step), wait, done }

    /// The tasks of `range`'s groups in one run.
    private static func runGroups(_ range: Range<Int>, group: (Int) -> Group, threads: Int, _ body: (Step) -> Void) {
        var total = 0
        for g in range { total += group(g).tasks }
        guard total > 0 else { return }
        run(tasks: total, threads: threads) { t in
            var g = range.lowerBound, t = t
            while t >= group(g).tasks { t -= group(g).tasks; g += 1 }
            body(.task(t, group: g))
        }
    }
}
