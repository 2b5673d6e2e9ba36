import Foundation
import HoneTrain
import Testing

/// Schedules against values worked out by hand (base rate 1: the multiplier is the rate).
@Suite struct ScheduleTests {
    func values(_ s: Schedule, _ steps: ClosedRange<Int>) -> [Double] {
        steps.map { s.multiplier(step: $0, plateau: Plateau()) }
    }

    func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 } }

    @Test func warmupThenCosineToTheFloor() {
        var s = Schedule()
        s.kind = .cosine; s.warmup = 2; s.total = 6; s.minRatio = 0.1
        // warmup: 1/2, 2/2; then k = 0..3 of span 4: 0.1 + 0.9·½(1 + cos(πk/4))
        let expected = [0.5, 1.0, 1.0, 0.1 + 0.45 * (1 + 0.5.squareRoot()), 0.55, 0.1 + 0.45 * (1 - 0.5.squareRoot())]
        #expect(close(values(s, 0...5), expected))
    }

    @Test func linearWithWarmupAndStepDecay() {
        var s = Schedule()
        s.kind = .linear; s.warmup = 1; s.total = 5
        #expect(close(values(s, 0...4), [1, 1, 0.75, 0.5, 0.25]))
        var t = Schedule()
        t.kind = .step; t.stepSize = 2; t.gamma = 0.5
        #expect(close(values(t, 0...4), [1, 1, 0.5, 0.5, 0.25]))
        #expect(close(values(Schedule(), 0...2), [1, 1, 1]))
    }

    @Test func reduceOnPlateauAsPyTorch() {
        // patience 1: the second evaluation in a row without improvement reduces the rate.
        var p = Plateau(patience: 1, reduce: 0.5, threshold: 0.01)
        var factors: [Double] = []
        for loss in [1.0, 0.995, 0.999, 0.9, 0.91, 0.92, 0.93] { p.observe(loss); factors.append(p.factor) }
        // 0.995 is within the 1% threshold of 1.0: bad 1; 0.999: bad 2 > 1 → 0.5, reset;
        // 0.9 improves; 0.91: bad 1; 0.92: bad 2 → 0.25; 0.93: bad 1.
        #expect(factors == [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
        var s = Schedule()
        s.kind = .plateau
        #expect(s.multiplier(step: 10, plateau: p) == 0.25)
    }
}
