import Foundation
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
}
