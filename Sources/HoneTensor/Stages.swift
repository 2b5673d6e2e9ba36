import Foundation
import Synchronization

extension Parallel {
    /// Runs `body(stage, slice)` for every stage in 0..<stages and slice in 0..<slices, where
    /// stage s of a slice runs after stage s − 1 of the same slice and the slices do not depend
    /// on each other (row slices through row-local operations). A thread that finishes a stage
    /// goes on with the least advanced slice no one holds instead of waiting for the other at
    /// the end of every operation: on config A at 2 threads that wait was 4–6% of the step,
    /// spread over the ends of 121 runs of four 512-row products (BENCHMARKS.md).
    ///
    /// `body` runs single-threaded work; which thread runs a (stage, slice) never changes what it
    /// computes. On one thread, or with one slice, it runs stage after stage, every slice of a
    /// stage before the next. Allocates nothing.
    public static func stages(_ stages: Int, slices: Int, threads: Int, _ body: (_ stage: Int, _ slice: Int) -> Void) {
        let lanes = max(1, min(threads, slices))
        if lanes == 1 {
            for stage in 0..<stages { for slice in 0..<slices { body(stage, slice) } }
            return
        }
        // Per slice: the next stage to claim, times 2, plus 1 while a thread holds the slice.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: slices) { state in
            state.initialize(repeating: 0)
            let lock = Atomic<Bool>(false)
            /// The least advanced free slice's next stage (lowest slice on a tie), now held; nil
            /// once nothing is left; waits while what is left follows stages another thread holds.
            func claim() -> (stage: Int, slice: Int)? {
                while true {
                    while !lock.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {}
                    var best = -1, more = false
                    for s in 0..<slices {
                        let next = state[s] >> 1, held = state[s] & 1
                        if next + held < stages { more = true }
                        if held == 0, next < stages, best < 0 || next < state[best] >> 1 { best = s }
                    }
                    let stage = best >= 0 ? state[best] >> 1 : 0
                    if best >= 0 { state[best] |= 1 }
                    lock.store(false, ordering: .releasing)
                    if best >= 0 { return (stage, best) }
                    if !more { return nil }
                    sched_yield()
                }
            }
            run(tasks: lanes, threads: lanes) { _ in
                while let (stage, slice) = claim() {
                    body(stage, slice)
                    while !lock.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {}
                    state[slice] = (stage + 1) << 1
                    lock.store(false, ordering: .releasing)
                }
            }
        }
    }
}
