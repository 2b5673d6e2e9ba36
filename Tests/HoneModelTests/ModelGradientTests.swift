import HoneBase
import HoneModel
import HoneTensor
import Testing

/// The whole decoder's backward against central finite differences, for every tensor, in the
/// configurations that change the code path: GQA, tied and untied heads, the scalar head, dropout.
@Suite struct ModelGradientTests {
    static func tiny(tied: Bool, scalar: Bool = false, dropout: Float = 0) -> ModelConfig {
        var c = ModelConfig(vocabSize: 23)
        c.hiddenSize = 16; c.intermediateSize = 24; c.layers = 2; c.heads = 4; c.kvHeads = 2
        c.maxPositions = 16; c.tiedEmbeddings = tied; c.scalarHead = scalar; c.dropout = dropout
        c.initStd = 0.3  // large weights: gradients far from zero, so a wrong one shows
        return c
    }

    /// Loss = masked next-token cross-entropy (+ Σ score·r with a scalar head).
    struct Case {
        let model: Model
        let acts: Activations
        let targets: [Int32]
        let mask: [UInt8]
        let r: [Float]
        let dropout: Model.DropoutDraw?

        init(_ c: ModelConfig, threads: Int = 1, B: Int = 2, T: Int = 6, rowSlicing: Bool = true) {
            model = Model(config: c, weights: initialWeights(ParameterLayout(c), config: c, key: 5), threads: threads)
            model.rowSlicing = rowSlicing
            acts = Activations(config: c, B: B, T: T)
            var rng = CounterRNG(key: 6)
            for m in 0..<acts.M { acts.tokens[m] = Int32(rng.below(c.vocabSize)) }
            targets = (0..<acts.M).map { _ in Int32(rng.below(c.vocabSize)) }
            mask = (0..<acts.M).map { $0 % 3 == 1 ? 0 : 1 }
            r = (0..<acts.M).map { _ in Float(rng.nextDouble() - 0.5) }
            dropout = c.dropout > 0 ? Model.DropoutDraw(key: 77, pass: 3) : nil
        }

        func loss() -> Double {
            model.forward(acts, dropout: dropout)
            model.lmHeadForward(acts)
            var l = Double(model.lmLoss(acts, targets: targets, mask: mask))
            if model.config.scalarHead {
                model.scoreForward(acts)
                for m in 0..<acts.M { l += Double(acts.scores[m] * r[m]) }
            }
            return l
        }

        func gradients() {
            model.grads.zero()
            _ = loss()
            model.lmHeadBackward(acts)
            if model.config.scalarHead {
                for m in 0..<acts.M { acts.dscores[m] = r[m] }
                model.scoreBackward(acts)
            }
            model.backward(acts)
        }
    }

    func check(_ c: ModelConfig) {
        let k = Case(c)
        k.gradients()
        var rng = CounterRNG(key: 9)
        for t in k.model.layout.tensors {
            for _ in 0..<4 {
                let i = t.offset + rng.below(t.count)
                let saved = k.model.weights[i], h: Float = 1e-2
                k.model.weights[i] = saved + h; let up = k.loss()
                k.model.weights[i] = saved - h; let down = k.loss()
                k.model.weights[i] = saved
                let numeric = (up - down) / Double(2 * h), analytic = Double(k.model.grads[i])
                let ok = abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(numeric)
                #expect(ok, "\(t.name)[\(i - t.offset)]: analytic \(analytic), numeric \(numeric)")
            }
        }
    }

    @Test func untiedWithGQA() { check(Self.tiny(tied: false)) }
    @Test func tiedWithScalarHead() { check(Self.tiny(tied: true, scalar: true)) }
    @Test func withDropout() { check(Self.tiny(tied: false, dropout: 0.3)) }

    @Test func gradientsAreBitIdenticalOnOneAndTwoThreads() {
        let one = Case(Self.tiny(tied: true, scalar: true, dropout: 0.2), threads: 1)
        let two = Case(Self.tiny(tied: true, scalar: true, dropout: 0.2), threads: 2)
        one.gradients(); two.gradients()
        let same = Array(one.model.grads.buffer) == Array(two.model.grads.buffer)
        #expect(same, "gradients differ between 1 and 2 threads")
    }

    /// From 2048 rows the layers' forward and backward run in 512-row slices, each at its own
    /// pace (`Parallel.stages`); the final hidden states and every gradient are bit for bit those
    /// of the layers run over all rows, on 1 thread and on 2, dropout included, the head tied to
    /// the embeddings or not.
    @Test(arguments: [false, true]) func rowSlicedLayersGiveTheBitsOfAllRows(tied: Bool) {
        var c = Self.tiny(tied: tied, dropout: 0.2)
        c.maxPositions = 16
        var results: [(final: [Float], grads: [Float])] = []
        for (threads, slicing) in [(1, true), (2, true), (2, false), (1, false)] {
            let k = Case(c, threads: threads, B: 128, T: 16, rowSlicing: slicing)
            #expect(k.model.layerSlices(k.acts).count == (slicing ? 4 : 1))
            k.gradients()
            results.append((Array(k.acts.final.buffer), Array(k.model.grads.buffer)))
        }
        for r in results.dropFirst() {
            #expect(r.final == results[0].final && r.grads == results[0].grads)
        }
    }

    @Test func dropoutMasksDependOnThePassAndKeepTheExpectedFraction() {
        let n = 100_000, x = Buffer(n), y = Buffer(n), m1 = Buffer(n), m2 = Buffer(n)
        for i in 0..<n { x[i] = 1; y[i] = 1 }
        Dropout.forward(x.pointer, mask: m1.pointer, count: n, p: 0.25, key: 1, offset: 0, threads: 2)
        Dropout.forward(y.pointer, mask: m2.pointer, count: n, p: 0.25, key: 1, offset: UInt64(n), threads: 1)
        let dropped = (0..<n).filter { m1[$0] == 0 }.count
        #expect(abs(Double(dropped) / Double(n) - 0.25) < 0.01)
        #expect((0..<n).allSatisfy { m1[$0] == 0 || m1[$0] == Float(1) / 0.75 })
        #expect(Array(m1.buffer) != Array(m2.buffer))
        // The same key and offset give the same mask on any thread count.
        let z = Buffer(n), m3 = Buffer(n)
        for i in 0..<n { z[i] = 1 }
        Dropout.forward(z.pointer, mask: m3.pointer, count: n, p: 0.25, key: 1, offset: 0, threads: 1)
        #expect(Array(m1.buffer) == Array(m3.buffer))
    }
}
