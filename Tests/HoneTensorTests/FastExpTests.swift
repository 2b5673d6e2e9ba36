import CFastMath
import Foundation
import HoneBase
import HoneTensor
import Testing

@Suite struct FastExpTests {
    /// exp of each element, through `expShifted` with no shift.
    static func exp(_ xs: [Float]) -> [Float] {
        var ys = [Float](repeating: 0, count: xs.count)
        _ = xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { FastExp.expShifted(x.baseAddress!, $0.baseAddress!, count: xs.count, shift: 0) } }
        return ys
    }

    @Test func matchesFoundationExpToTwoTenthsOfAMillionth() {
        var worst: Double = 0
        var xs: [Float] = []
        var x: Float = -87
        while x < 88 { xs.append(x); x += 0.0117 }
        for (x, got) in zip(xs, Self.exp(xs)) {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(got) - want) / want)
        }
        #expect(worst < 2e-7, "worst relative error \(worst)")
        let ins = Buffer(11), ys = Buffer(11)
        for i in 0..<11 { ins[i] = Float(i) - 5 }
        let sum = FastExp.expShifted(ins.pointer, ys.pointer, count: 11, shift: 1)
        let want = (0..<11).reduce(0.0) { $0 + Foundation.exp(Double(ins[$1]) - 1) }
        #expect(abs(Double(sum) - want) / want < 1e-6)
        #expect(abs(Double(ys[10]) - Foundation.exp(4.0)) / Foundation.exp(4.0) < 2e-7)
    }

    /// Outside the range the inputs are clamped (to 88.3 above and −87.3 below), and a NaN
    /// takes the upper bound; in the eight lanes and in the tail alike.
    @Test(arguments: [0, 8]) func clampsOutOfRangeAndNaNInputs(lanes: Int) {
        let xs: [Float] = [.nan, 100, .infinity, -100, -.infinity, 88.3, -87.3, 0]
        let got = Self.exp([Float](repeating: 0, count: lanes) + xs).suffix(8).map { $0 }
        let high = Self.exp([88.3])[0], low = Self.exp([-87.3])[0]
        #expect(high.isFinite && high > 2e38 && low > 0 && low < 1e-37)
        #expect([got[0], got[1], got[2], got[5]].allSatisfy { $0.bitPattern == high.bitPattern })
        #expect([got[3], got[4], got[6]].allSatisfy { $0.bitPattern == low.bitPattern })
        #expect(got[7] == 1)
    }

    /// The AVX2 path and the portable one give the same bits: exponentials, sums, sigmoids and
    /// SiLU outputs (with and without the product), for lengths around the groups of eight.
    @Test func theAVX2AndPortablePathsGiveTheSameBits() {
        var rng = CounterRNG(key: 17)
        for n in [0, 1, 7, 8, 9, 31, 1000] {
            let xs = (0..<n).map { _ in Float(rng.nextDouble() * 200 - 100) } + (n > 3 ? [.nan, .infinity, -.infinity] : [])
            let times = xs.map { _ in Float(rng.nextDouble() * 4 - 2) }
            func run() -> [UInt32] {
                let m = xs.count
                var y = [Float](repeating: 0, count: m), s = y, o = y, o2 = y
                let sum = xs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { FastExp.expShifted(x.baseAddress!, $0.baseAddress!, count: m, shift: 1.5) } }
                xs.withUnsafeBufferPointer { x in
                    hone_silu(x.baseAddress, nil, &s, &o, m)
                    times.withUnsafeBufferPointer { hone_silu(x.baseAddress, $0.baseAddress, &s, &o2, m) }
                }
                return (y + s + o + o2 + [sum]).map(\.bitPattern)
            }
            let fast = run()
            hone_fastmath_allow_simd(0)
            let portable = run()
            hone_fastmath_allow_simd(1)
            #expect(fast == portable, "n \(n)")
        }
    }

    /// The eight-lane maximum gives the left-to-right fold's value for every length from 0 to
    /// 19 (lane blocks and tails), with the largest value in each position in turn, a NaN
    /// passed over, and −∞ for nothing.
    @Test func maximumMatchesTheScalarFold() {
        var rng = CounterRNG(key: 3)
        for n in 0..<20 {
            for top in 0..<max(n, 1) {
                var xs = (0..<n).map { _ in Float(rng.below(1000)) / 10 - 50 }
                if n > 0 { xs[top] = 60 }
                if n > 2 { xs[(top + 1) % n] = .nan }
                let got = xs.withUnsafeBufferPointer { FastExp.maximum($0.baseAddress!, count: n) }
                let want = xs.reduce(-Float.infinity) { max($0, $1) }
                #expect(got == want, "n \(n), largest at \(top)")
            }
        }
    }
}

@Suite struct LanesTests {
    /// Counts below, at and past one group of eight, with a tail of every length.
    @Test(arguments: [0, 1, 7, 8, 9, 16, 23, 150])
    func dotMatchesTheDoubleSum(n: Int) {
        let a = random(max(n, 1), key: 40, std: 1), b = random(max(n, 1), key: 41, std: 1)
        let exact = (0..<n).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) }
        let scale = (0..<n).reduce(1.0) { $0 + abs(Double(a[$1]) * Double(b[$1])) }
        #expect(abs(Double(Lanes.dot(a.pointer, b.pointer, count: n)) - exact) < 1e-6 * scale)
    }
}
