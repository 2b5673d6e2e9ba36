import Foundation
import HoneBase
import HoneModel
import HoneTensor
import HoneTrain
import Testing

/// PPO's arithmetic against numbers worked out by hand, the reward model's loss gradient
/// against finite differences, and PPO optimising a reward that is a known function.
@Suite struct RLHFTests {
    func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-9) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol }
    }

    @Test func gaeMatchesAHandComputedExample() {
        // γ = 0.9, λ = 0.8. t=2: δ = 2 − 1.5 = 0.5, A = 0.5. t=1: δ = 0.9·1.5 − 1 = 0.35,
        // A = 0.35 + 0.72·0.5 = 0.71. t=0: δ = 1 + 0.9·1 − 0.5 = 1.4, A = 1.4 + 0.72·0.71 = 1.9112.
        let (a, r) = PPOMath.gae(rewards: [1, 0, 2], values: [0.5, 1.0, 1.5], gamma: 0.9, lambda: 0.8)
        #expect(close(a, [1.9112, 0.71, 0.5]))
        #expect(close(r, [2.4112, 1.71, 2.0]))
    }

    @Test func rewardsPenaliseKLAndScoreTheLastToken() {
        let r = PPOMath.rewards(score: 3, logprobs: [-1, -2], refLogprobs: [-1.5, -1], klCoef: 0.1)
        #expect(close(r, [-0.05, 0.1 + 3]))
    }

    @Test func whitenedAdvantagesHaveZeroMeanAndUnitVariance() {
        // mean 2, unbiased variance (1 + 0 + 1)/2 = 1: ±1/sqrt(1 + 1e-8).
        #expect(close(PPOMath.whiten([1, 2, 3]), [-1, 0, 1], 1e-8))
        // mean 2.5, unbiased variance (2.25 + 0.25 + 0.25 + 2.25)/3 = 5/3: (x − 2.5)·sqrt(3/5).
        #expect(close(PPOMath.whiten([1, 2, 3, 4]), [-1.161895004, -0.387298335, 0.387298335, 1.161895004], 1e-8))
        #expect(PPOMath.whiten([5]) == [0] && PPOMath.whiten([]) == [])
    }

    @Test func clippedPolicyLossAgainstHandValues() {
        // ρ = e^0.5 = 1.6487213 above 1 + ε = 1.2.
        let up = PPOMath.policyLoss(logprob: -1, oldLogprob: -1.5, advantage: 2, clip: 0.2)
        #expect(abs(up.loss - -2.4) < 1e-12 && up.dLogprob == 0 && up.clipped)
        // A negative advantage: the unclipped term is the larger; d/dlogπ of −A·ρ is −A·ρ.
        let down = PPOMath.policyLoss(logprob: -1, oldLogprob: -1.5, advantage: -2, clip: 0.2)
        #expect(abs(down.loss - 3.2974425) < 1e-6 && abs(down.dLogprob - 3.2974425) < 1e-6 && !down.clipped)
        let same = PPOMath.policyLoss(logprob: -0.7, oldLogprob: -0.7, advantage: 0.5, clip: 0.2)
        #expect(same.loss == -0.5 && same.dLogprob == -0.5 && same.ratio == 1)
    }

    @Test func clippedValueLossAgainstHandValues() {
        // V_clip = 1 + 0.2 = 1.2. (2 − 1.5)² = 0.25 > (1.2 − 1.5)² = 0.09: unclipped, ½·0.25.
        let a = PPOMath.valueLoss(value: 2, oldValue: 1, ret: 1.5, clip: 0.2)
        #expect(abs(a.loss - 0.125) < 1e-12 && abs(a.dValue - 0.5) < 1e-12 && !a.clipped)
        // (2 − 3)² = 1 < (1.2 − 3)² = 3.24: the clipped term, constant in V.
        let b = PPOMath.valueLoss(value: 2, oldValue: 1, ret: 3, clip: 0.2)
        #expect(abs(b.loss - 1.62) < 1e-12 && b.dValue == 0 && b.clipped)
    }

    @Test func adaptiveKLControllerMovesTowardItsTarget() {
        var above = PPOMath.KLController(initial: 0.2, target: 6, horizon: 10_000)
        above.update(kl: 9, rollouts: 16)  // error 0.5 clipped to 0.2: β·(1 + 0.2·16/10000)
        #expect(abs(above.value - 0.200064) < 1e-12)
        var below = PPOMath.KLController(initial: 0.2, target: 6, horizon: 10_000)
        below.update(kl: 5.4, rollouts: 16)  // error −0.1: β·(1 − 0.1·16/10000)
        #expect(abs(below.value - 0.199968) < 1e-12)
        var fixed = PPOMath.KLController(initial: 0.2, target: nil, horizon: 10_000)
        fixed.update(kl: 100, rollouts: 16)
        #expect(fixed.value == 0.2)
    }

    static func config(vocab: Int = 23, scalar: Bool = true) -> ModelConfig {
        var c = ModelConfig(vocabSize: vocab)
        c.hiddenSize = 16; c.intermediateSize = 24; c.layers = 2; c.heads = 4; c.kvHeads = 2
        c.maxPositions = 16; c.scalarHead = scalar
        return c
    }

    @Test func rewardLossGradientMatchesFiniteDifferences() {
        var c = Self.config(); c.initStd = 0.3
        let model = Model(config: c, weights: initialWeights(ParameterLayout(c), config: c, key: 5))
        var rng = CounterRNG(key: 9)
        func sequence(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.below(c.vocabSize)) } }
        // Lengths differ, and one passes T: its last T tokens are scored.
        let pairs = [PreferencePair(chosen: sequence(5), rejected: sequence(7)), PreferencePair(chosen: sequence(9), rejected: sequence(3))]
        let objective = RewardModeling(pairs, T: 8)
        let acts = Activations(for: model, B: 4, T: 8)
        model.zeroGrads()
        let loss = objective.step(model, acts, examples: [0, 1], normalizer: 2, dropout: nil)
        #expect(abs(loss - (objective.evaluate(model, acts, batches: 0)["loss"] ?? 0)) < 1e-6)
        let analytic = model.trainable.map { t in (0..<t.count).map { Double(t.grads[$0]) } }
        var worst = 0.0
        for (ti, t) in model.trainable.enumerated() {
            for i in stride(from: t.count / 7, to: t.count, by: max(1, t.count / 5)) {
                let keep = t.weights[i], h: Float = 1e-2
                t.weights[i] = keep + h
                let plus = objective.evaluate(model, acts, batches: 0)["loss"] ?? 0
                t.weights[i] = keep - h
                let minus = objective.evaluate(model, acts, batches: 0)["loss"] ?? 0
                t.weights[i] = keep
                let numeric = (plus - minus) / (2 * Double(h))
                worst = max(worst, abs(numeric - analytic[ti][i]) / max(1e-2, abs(numeric) + abs(analytic[ti][i])))
            }
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
    }

    /// The toy task: the reward is the share of response tokens equal to 7. A random policy
    /// over 12 tokens starts near 1/12; PPO must reach 0.8 within 40 steps, for each seed.
    @Test(arguments: [UInt64(1), 2, 3]) func ppoRaisesAKnownRewardForEverySeed(seed: UInt64) throws {
        let c = Self.config(vocab: 12)
        let weights = initialWeights(ParameterLayout(c), config: c, key: seed)
        let policy = Model(config: c, weights: weights, tuning: Tuning())
        let reference = Model(config: c, weights: weights.copy(), tuning: .frozen)
        var s = PPOSettings()
        s.steps = 40; s.rolloutBatch = 16; s.minibatch = 4; s.ppoEpochs = 4; s.maxNewTokens = 4
        s.learningRate = 3e-3; s.klCoef = 0.01; s.klTarget = nil
        s.rolloutKey = seed &+ 100; s.promptKey = seed &+ 200; s.minibatchKey = seed &+ 300
        let prompts: [[Int32]] = [[1, 2], [3, 4, 5], [6], [8, 9]]
        let trainer = try PPOTrainer(policy: policy, reference: reference, prompts: prompts, settings: s) { sequences in
            sequences.map { seq in Double(seq.suffix(4).filter { $0 == 7 }.count) / 4 }
        }
        let history = try trainer.run(scratch: nil, report: { _ in }, log: { _ in })
        let scores = history.compactMap { $0["score"]?.doubleValue }
        let first = scores.prefix(3).reduce(0, +) / 3, last = scores.suffix(3).reduce(0, +) / 3
        #expect(first < 0.3, "seed \(seed): start \(first)")
        #expect(last >= 0.8, "seed \(seed): scores \(scores)")
    }
}

@Suite struct ClassificationTests {
    /// Three labels, six examples; every number below is worked out by hand.
    @Test func metricsAgainstHandValues() {
        let c = Classification(labels: ["a", "b", "c"], truth: [0, 0, 0, 1, 1, 2], predicted: [0, 0, 1, 1, 2, 2])
        #expect(c.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        func near(_ x: Double, _ y: Double) -> Bool { abs(x - y) < 1e-9 }
        #expect(near(c.accuracy, 4.0 / 6))
        #expect([0, 1, 2].map(c.precision) == [1, 0.5, 0.5])
        #expect(near(c.recall(0), 2.0 / 3) && c.recall(1) == 0.5 && c.recall(2) == 1)
        #expect(near(c.f1(0), 0.8) && near(c.f1(1), 0.5) && near(c.f1(2), 2.0 / 3))
        #expect(near(c.macro(c.precision), 2.0 / 3))
        #expect(near(c.macro(c.recall), (2.0 / 3 + 0.5 + 1) / 3))
        #expect(near(c.macro(c.f1), (0.8 + 0.5 + 2.0 / 3) / 3))
        // Weighted by support 3, 2, 1.
        #expect(near(c.weighted(c.precision), 4.5 / 6))
        #expect(near(c.weighted(c.recall), 4.0 / 6))
        #expect(near(c.weighted(c.f1), (2.4 + 1 + 2.0 / 3) / 6))
    }

    @Test func aLabelNeverPredictedHasPrecisionZero() {
        let c = Classification(labels: ["x", "y"], truth: [0, 1], predicted: [0, 0])
        #expect(c.precision(1) == 0 && c.recall(1) == 0 && c.f1(1) == 0 && c.precision(0) == 0.5)
    }
}

@Suite struct TokenLogitsTests {
    /// The gradient PPO writes over a row of logits is that of g·log softmax(row)[token]:
    /// checked against central differences, and the entropy against its definition.
    @Test func logprobGradientMatchesFiniteDifferences() {
        var rng = CounterRNG(key: 21)
        let V = 9, token = 4, g = -0.7
        var row = (0..<V).map { _ in Float(rng.nextDouble() * 4 - 2) }
        let (lp, h) = TokenLogits.logprob(row, V: V, token: token)
        let p = row.map { exp(Double($0)) }, z = p.reduce(0, +)
        #expect(abs(lp - log(p[token] / z)) < 1e-6)
        #expect(abs(h - -p.reduce(0) { $0 + ($1 / z) * log($1 / z) }) < 1e-6)
        var grad = row
        TokenLogits.writeGradient(&grad, V: V, token: token, g: g)
        for v in 0..<V {
            let keep = row[v], step: Float = 1e-2
            row[v] = keep + step
            let plus = TokenLogits.logprob(row, V: V, token: token).logprob
            row[v] = keep - step
            let minus = TokenLogits.logprob(row, V: V, token: token).logprob
            row[v] = keep
            #expect(abs(g * (plus - minus) / (2 * Double(step)) - Double(grad[v])) < 1e-3, "logit \(v)")
        }
    }
}

@Suite struct NoDropoutPassTests {
    /// PPO's passes draw no dropout masks; for a model whose config has dropout (an SFT model
    /// trained with it) the backward must then skip the masks too, or every layer's gradient is 0.
    @Test func aPassWithoutDropoutDrawsHasTheGradientsOfAModelWithoutDropout() {
        var with = RLHFTests.config(); with.dropout = 0.3; with.initStd = 0.3
        var without = with; without.dropout = 0
        let weights = initialWeights(ParameterLayout(with), config: with, key: 8)
        func grads(_ c: ModelConfig) -> [Float] {
            let m = Model(config: c, weights: weights.copy())
            let acts = Activations(for: m, B: 2, T: 6)
            for i in 0..<acts.M { acts.tokens[i] = Int32(i % c.vocabSize) }
            let targets = (0..<acts.M).map { Int32(($0 + 1) % c.vocabSize) }
            m.zeroGrads()
            m.forward(acts)
            m.lmHeadForward(acts)
            _ = m.lmLoss(acts, targets: targets, mask: nil)
            m.lmHeadBackward(acts)
            m.backward(acts)
            return Array(m.grads.buffer)
        }
        let a = grads(with), b = grads(without)
        #expect(a == b)
        #expect(a.contains { $0 != 0 })
    }
}
