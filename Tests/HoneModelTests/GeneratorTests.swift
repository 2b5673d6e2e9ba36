import Foundation
import HoneBase
import HoneModel
import HoneTensor
import Testing

/// The KV-cache path against the training forward, and the sampler's rules.
@Suite struct GeneratorTests {
    @Test func cachedLogitsMatchTheFullForwardRowByRowAndInChunks() throws {
        var c = ModelGradientTests.tiny(tied: false)
        c.maxPositions = 12; c.initStd = 0.1
        let model = Model(config: c, weights: initialWeights(ParameterLayout(c), config: c, key: 21), threads: 2)
        let acts = Activations(config: c, B: 1, T: 10)
        var rng = CounterRNG(key: 22)
        let tokens = (0..<10).map { _ in Int32(rng.below(c.vocabSize)) }
        for t in 0..<10 { acts.tokens[t] = tokens[t] }
        model.forward(acts)
        model.lmHeadForward(acts)
        let full = Array(acts.logits.buffer)

        let oneByOne = Generator(model: model, chunk: 4)
        var stepwise: [Float] = []
        for t in tokens { stepwise += try oneByOne.feed([t]) }
        let chunked = try Generator(model: model, chunk: 4).feed(tokens, allLogits: true)
        for (name, got) in [("one token at a time", stepwise), ("chunks of 4", chunked)] {
            let worst = zip(got, full).map { abs($0 - $1) }.max() ?? 1
            #expect(got.count == full.count && worst < 1e-5, "\(name): largest difference \(worst)")
        }
        #expect(throws: ModelError.self) { try oneByOne.feed([1, 2, 3]) }  // 10 + 3 > 12 positions
    }

    /// The attention helpers compute every value in the scalar loops' order, so they give the
    /// scalar loops' bits: head sizes that are not multiples of 8 or 16, one and three heads per
    /// kv head, position ranges that end off a 16 boundary and span several 64-position chunks.
    @Test(arguments: [(20, 1, 0..<150), (72, 3, 5..<37), (64, 3, 0..<300)])
    func attentionHelpersGiveTheScalarLoopsBits(_ D: Int, _ group: Int, _ positions: Range<Int>) {
        var rng = CounterRNG(key: 31)
        let P = positions.upperBound + 16, R = positions.upperBound, kvWidth = D + 3
        let keys = (0..<(D * P)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        let values = (0..<(R * kvWidth)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        let q = (0..<(group * D)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var p = [Float](repeating: 0, count: group * R), a = [Float](repeating: 0, count: group * D)
        p.withUnsafeMutableBufferPointer { p in
            Generator.groupScores(p.baseAddress!, rowStride: R, q: q, keys: keys, stride: P, positions: positions, D: D, group: group)
        }
        for g in 0..<group {
            for u in positions {
                var dot: Float = 0
                for j in 0..<D { dot += q[g * D + j] * keys[j * P + u] }
                #expect(p[g * R + u].bitPattern == dot.bitPattern, "score \(g), \(u)")
            }
        }
        // Softmax and mix over 0..<n, from the helper's scores and from scalar loops.
        let n = positions.upperBound
        for g in 0..<group { for u in 0..<positions.lowerBound { p[g * R + u] = Float(u % 7) - 3 } }
        var expected = p
        p.withUnsafeMutableBufferPointer { p in
            for g in 0..<group { Generator.softmax(p.baseAddress! + g * R, scale: 0.125, positions: n) }
        }
        a.withUnsafeMutableBufferPointer { a in
            p.withUnsafeBufferPointer { p in
                Generator.groupMix(a.baseAddress!, weights: p.baseAddress!, rowStride: R, values: values, stride: kvWidth, positions: n, D: D,
                                   features: 0..<D, group: group)
            }
        }
        for g in 0..<group {
            var mx = -Float.infinity, sum: Float = 0
            for u in 0..<n { expected[g * R + u] *= 0.125; mx = max(mx, expected[g * R + u]) }
            for u in 0..<n { expected[g * R + u] = exp(expected[g * R + u] - mx); sum += expected[g * R + u] }
            for j in 0..<D {
                var acc: Float = 0
                for u in 0..<n { acc += (expected[g * R + u] / sum) * values[u * kvWidth + j] }
                #expect(a[g * D + j].bitPattern == acc.bitPattern, "mix \(g), \(j)")
            }
        }
    }

    @Test func samplerRules() {
        let logits: [Float] = [0.1, 2.0, 1.9, -1, 0]
        var greedy = Sampler(temperature: 0, topK: 0, topP: 1, seed: 1)
        #expect(greedy.pick(logits[...]) == 1)
        var topOne = Sampler(temperature: 1, topK: 1, topP: 1, seed: 1)
        #expect((0..<20).allSatisfy { _ in topOne.pick(logits[...]) == 1 })
        var nucleus = Sampler(temperature: 1, topK: 0, topP: 0.5, seed: 1)  // 2.0 and 1.9 carry ~45% each
        let picks = Set((0..<200).map { _ in nucleus.pick(logits[...]) })
        #expect(picks == [1, 2])
        var a = Sampler(temperature: 0.8, topK: 0, topP: 1, seed: 7), b = Sampler(temperature: 0.8, topK: 0, topP: 1, seed: 7)
        let sa = (0..<50).map { _ in a.pick(logits[...]) }, sb = (0..<50).map { _ in b.pick(logits[...]) }
        #expect(sa == sb && Set(sa).count >= 3)
    }
}
