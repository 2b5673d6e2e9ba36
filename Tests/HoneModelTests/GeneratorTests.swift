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

    /// A cache that starts small and grows as tokens come gives the bits of one made whole at
    /// the start: growing copies the filled positions, and no sum depends on the capacity.
    @Test func growingCacheGivesTheBitsOfAFullOne() throws {
        var c = ModelGradientTests.tiny(tied: false)
        c.maxPositions = 40; c.initStd = 0.1
        let model = Model(config: c, weights: initialWeights(ParameterLayout(c), config: c, key: 23), threads: 2)
        var rng = CounterRNG(key: 24)
        let tokens = (0..<38).map { _ in Int32(rng.below(c.vocabSize)) }
        let growing = Generator(model: model, chunk: 4, capacity: 3), full = Generator(model: model, chunk: 4, capacity: 40)
        #expect(growing.capacity == 3 && full.capacity == 40)
        func run(_ g: Generator) throws -> [Float] {
            var out = try g.feed(Array(tokens[0..<5]), allLogits: true)  // a prompt, in two chunks
            for t in tokens[5..<20] { out += try g.feed([t]) }  // one at a time, across two growths
            g.rewind(to: 12)
            out += try g.feed(Array(tokens[20..<38]), allLogits: true)  // past the rewind, to 30 positions
            return out
        }
        let a = try run(growing), b = try run(full)
        #expect(growing.capacity == 40 && a.count == b.count && a == b)  // 3, 6, 12, 24, then 40 (the most)
        for l in 0..<c.layers {
            for position in [0, 11, 29] { #expect(growing.cached(layer: l, position: position) == full.cached(layer: l, position: position)) }
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
