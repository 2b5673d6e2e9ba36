import Foundation
import HoneBase
import HoneModel
import HoneTensor
import HoneTrain
import Testing

/// One-parameter-pair updates worked out by hand. (The full AdamW path is also checked against
/// PyTorch in HoneModelTests/TorchOracleTests.)
@Suite struct OptimizerTests {
    /// A layout with one norm gain (no decay) and one matrix (decay), 4 values in all.
    func layout() -> ParameterLayout {
        var c = ModelConfig(vocabSize: 1)
        c.hiddenSize = 2; c.heads = 1; c.layers = 1; c.intermediateSize = 1
        return ParameterLayout(c)
    }

    @Test func sgdWithMomentumAndCoupledDecay() {
        let l = layout()
        var s = Optimizer.Settings()
        s.kind = .sgd; s.momentum = 0.5; s.weightDecay = 0.1
        let w = Buffer(l.count), g = Buffer(l.count)
        let o = Optimizer(s, parameters: l.views(weights: w, grads: g))
        let matrix = l.tensors[0].offset, gain = l.tensors[1].offset  // embedding [1, 2]; input norm [2]
        w[matrix] = 1; g[matrix] = 0.5; w[gain] = 1; g[gain] = 0.5
        o.step(lr: 0.1)
        // matrix: g' = 0.5 + 0.1·1 = 0.6, buf = 0.6, w = 1 − 0.06; gain: no decay, w = 1 − 0.05
        #expect(abs(w[matrix] - 0.94) < 1e-7 && abs(w[gain] - 0.95) < 1e-7)
        o.step(lr: 0.1)
        // matrix: g' = 0.5 + 0.094 = 0.594, buf = 0.5·0.6 + 0.594 = 0.894, w = 0.94 − 0.0894
        #expect(abs(w[matrix] - 0.8506) < 1e-6)
    }

    @Test func adamwDecaysDecoupledAndAdamCoupled() {
        let l = layout()
        for kind in [Optimizer.Kind.adamw, .adam] {
            var s = Optimizer.Settings()
            s.kind = kind; s.weightDecay = 0.5; s.eps = 0
            let w = Buffer(l.count), g = Buffer(l.count)
            let o = Optimizer(s, parameters: l.views(weights: w, grads: g))
            w[0] = 2; g[0] = 0.25
            o.step(lr: 0.1)
            // First Adam step moves by lr·sign(g'), bias-corrected. AdamW: 2·(1 − 0.05) − 0.1;
            // Adam: g' = 0.25 + 1 > 0, so 2 − 0.1.
            #expect(abs(w[0] - (kind == .adamw ? 1.8 : 1.9)) < 1e-6, "\(kind)")
        }
    }

    /// The update runs eight lanes at a time and the tail one by one: both must give, bit for
    /// bit, the per-element formula (PyTorch's, as written here), on a tensor of 21 values (two
    /// lane blocks and a tail of 5) over three steps, decoupled and coupled decay.
    @Test func lanesAndTailGiveTheFormulasBits() {
        for kind in [Optimizer.Kind.adamw, .adam] {
            var s = Optimizer.Settings()
            s.kind = kind; s.weightDecay = 0.1; s.beta2 = 0.95
            let n = 21
            let w = Buffer(n), g = Buffer(n)
            let views = ParameterLayout([(name: "w", shape: [3, 7])]).views(weights: w, grads: g)
            let o = Optimizer(s, parameters: views)
            var rng = CounterRNG(key: 7)
            for i in 0..<n { w[i] = Float(rng.below(2000)) / 1000 - 1 }
            var p = (0..<n).map { w[$0] }, m = [Float](repeating: 0, count: n), v = m
            let lr: Float = 3e-3
            for step in 1...3 {
                for i in 0..<n { g[i] = Float(rng.below(2000)) / 1000 - 1 }
                o.step(lr: lr)
                let bc1 = 1 - pow(Double(s.beta1), Double(step)), bc2 = 1 - pow(Double(s.beta2), Double(step))
                let stepSize = Float(Double(lr) / bc1), bc2Root = Float(bc2.squareRoot())
                for i in 0..<n {
                    var gi = g[i]
                    if kind == .adamw { p[i] *= 1 - lr * s.weightDecay } else { gi += s.weightDecay * p[i] }
                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi
                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Root + s.eps)
                }
            }
            #expect((0..<n).allSatisfy { w[$0].bitPattern == p[$0].bitPattern }, "\(kind)")
            #expect((0..<n).allSatisfy { o.m[$0].bitPattern == m[$0].bitPattern && o.v[$0].bitPattern == v[$0].bitPattern }, "\(kind)")
        }
    }

    @Test func clippingScalesToTheMaximumNorm() {
        // Two tensors, so the norm spans both.
        let w = Buffer(2), g = Buffer(2)
        let views = ParameterLayout([(name: "a", shape: [1]), (name: "b", shape: [1, 1])]).views(weights: w, grads: g)
        g[0] = 3; g[1] = 4
        #expect(clipGradients(views, maxNorm: 1) == 5)
        #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
        g[0] = 0.3; g[1] = 0.4
        clipGradients(views, maxNorm: 1)
        #expect(g[0] == 0.3 && g[1] == 0.4)
    }
}
