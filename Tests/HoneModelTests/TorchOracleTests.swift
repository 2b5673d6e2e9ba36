import Foundation
import HoneFormats
import HoneModel
import HoneTensor
import HoneTrain
import Testing

/// PyTorch as an independent oracle (Fixtures/make_torch_fixtures.py wrote the fixtures; this
/// test needs no torch): logits, loss and every gradient to 1e-4 of each tensor's largest
/// magnitude, and the weights after 10 AdamW steps with clipping to 1e-4 as well.
@Suite struct TorchOracleTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func config(tied: Bool) -> ModelConfig {
        var c = ModelConfig(vocabSize: 37)
        c.hiddenSize = 32; c.layers = 2; c.heads = 4; c.kvHeads = 2; c.intermediateSize = 48
        c.normEps = 1e-5; c.ropeTheta = 10_000; c.maxPositions = 8; c.tiedEmbeddings = tied
        return c
    }

    /// max |a − b| / max |b|: the error relative to the tensor's scale.
    func relativeError(_ a: UnsafeBufferPointer<Float>, _ b: [Float]) -> Float {
        var diff: Float = 0, scale: Float = 0
        for i in 0..<b.count { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
        return diff / max(scale, 1e-30)
    }

    func run(tied: Bool) throws {
        let f = try Safetensors.read(Self.fixtures.appendingPathComponent(tied ? "torch_tied.safetensors" : "torch_untied.safetensors"))
        let c = config(tied: tied)
        let layout = ParameterLayout(c)
        let weights = Buffer(layout.count)
        for t in layout.tensors {
            let src = try #require(f["init/" + t.name], "fixture lacks \(t.name)")
            #expect(src.shape == t.shape)
            for i in 0..<t.count { weights[t.offset + i] = src.values[i] }
        }
        let model = Model(config: c, weights: weights, threads: 2)
        let acts = Activations(config: c, B: 2, T: 8)
        let tokens = try #require(f["tokens"]).values, targets = try #require(f["targets"]).values.map { Int32($0) }
        let mask = try #require(f["mask"]).values.map { UInt8($0) }
        for m in 0..<acts.M { acts.tokens[m] = Int32(tokens[m]) }

        var logits: [Float] = []
        func gradients() -> Float {
            model.grads.zero()
            model.forward(acts)
            model.lmHeadForward(acts)
            logits = Array(acts.logits.buffer)  // the loss overwrites them with their gradient
            let loss = model.lmLoss(acts, targets: targets, mask: mask)
            model.lmHeadBackward(acts)
            model.backward(acts)
            return loss
        }
        let loss = gradients()
        let refLoss = try #require(f["loss"]).values[0]
        #expect(abs(loss - refLoss) <= 1e-4 * abs(refLoss), "loss \(loss) vs torch \(refLoss)")
        let logitsError = logits.withUnsafeBufferPointer { relativeError($0, (f["logits"]?.values) ?? []) }
        #expect(logitsError <= 1e-4, "logits: relative error \(logitsError)")
        for t in layout.tensors {
            let ref = try #require(f["grad/" + t.name]).values
            let e = relativeError(UnsafeBufferPointer(start: model.grads.pointer + t.offset, count: t.count), ref)
            #expect(e <= 1e-4, "gradient of \(t.name): relative error \(e)")
        }

        var s = Optimizer.Settings()
        s.kind = .adamw; s.beta1 = 0.9; s.beta2 = 0.95; s.eps = 1e-8; s.weightDecay = 0.1
        let opt = Optimizer(s, parameters: model.trainable)
        for _ in 0..<10 {
            _ = gradients()
            clipGradients(model.trainable, maxNorm: 1)
            opt.step(lr: 1e-2)
        }
        for t in layout.tensors {
            let ref = try #require(f["after/" + t.name]).values
            let e = relativeError(UnsafeBufferPointer(start: model.weights.pointer + t.offset, count: t.count), ref)
            #expect(e <= 1e-4, "\(t.name) after 10 AdamW steps: relative error \(e)")
        }
    }

    @Test func untiedMatchesPyTorch() throws { try run(tied: false) }
    @Test func tiedMatchesPyTorch() throws { try run(tied: true) }
}
