import Foundation
import HoneBase
import HoneTensor
import Testing

@Suite struct FastExpTests {
    @Test func matchesFoundationExpToTwoTenthsOfAMillionth() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let got = FastExp.exp8(v)
            for j in 0..<8 {
                let want = Foundation.exp(Double(v[j]))
                worst = max(worst, abs(Double(got[j]) - want) / want)
            }
            x += 0.0917
        }
        #expect(worst < 2e-7, "worst relative error \(worst)")
        let xs = Buffer(11), ys = Buffer(11)
        for i in 0..<11 { xs[i] = Float(i) - 5 }
        let sum = FastExp.expShifted(xs.pointer, ys.pointer, count: 11, shift: 1)
        let want = (0..<11).reduce(0.0) { $0 + Foundation.exp(Double(xs[$1]) - 1) }
        #expect(abs(Double(sum) - want) / want < 1e-6)
        #expect(abs(Double(ys[10]) - Foundation.exp(4.0)) / Foundation.exp(4.0) < 2e-7)
    }

    /// Outside the range the inputs are clamped (to 88.3 above and −87.3 below), and a NaN
    /// takes the upper bound, as the stdlib's pointwiseMin/Max clamp did.
    @Test func clampsOutOfRangeAndNaNInputs() {
        let got = FastExp.exp8(SIMD8(.nan, 100, .infinity, -100, -.infinity, 88.3, -87.3, 0))
        let high = FastExp.exp8(SIMD8(repeating: 88.3))[0], low = FastExp.exp8(SIMD8(repeating: -87.3))[0]
        #expect(high.isFinite && high > 2e38 && low > 0 && low < 1e-37)
        #expect([got[0], got[1], got[2], got[5]].allSatisfy { $0.bitPattern == high.bitPattern })
        #expect([got[3], got[4], got[6]].allSatisfy { $0.bitPattern == low.bitPattern })
        #expect(got[7] == 1)
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
