import Foundation
import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import HoneTrain
import Testing

/// The training loop: accumulation, resume, the guard, early stopping.
@Suite struct TrainerTests {
    static func config() -> ModelConfig {
        var c = ModelConfig(vocabSize: 19)
        c.hiddenSize = 16; c.layers = 2; c.heads = 2; c.kvHeads = 1; c.intermediateSize = 32; c.maxPositions = 8
        return c
    }

    /// Documents of varying length whose masks keep a varying share of tokens: batches then
    /// differ in loss tokens, which is what makes the weighting of micro-batches matter.
    static func shard(documents: Int, key: UInt64) -> TokenShard.Shard {
        var rng = CounterRNG(key: key)
        var tokens: [UInt32] = [], offsets: [UInt64] = [0], mask: [UInt8] = []
        for _ in 0..<documents {
            let n = 4 + rng.below(6), start = rng.below(19)
            for i in 0..<n { tokens.append(UInt32((start + i) % 19)); mask.append(i >= n / 2 || rng.below(3) == 0 ? 1 : 0) }
            offsets.append(UInt64(tokens.count))
        }
        return TokenShard.Shard(tokens: tokens, offsets: offsets, mask: mask)
    }

    static func model(threads: Int = 1) -> Model {
        let c = config()
        return Model(config: c, weights: initialWeights(ParameterLayout(c), config: c, key: 3), threads: threads)
    }

    static let examples = Examples(shard: shard(documents: 24, key: 8), T: 7, packing: .documents, useMask: true)

    func settings() -> TrainSettings {
        var s = TrainSettings()
        s.steps = 6; s.batchSize = 4; s.learningRate = 0.05; s.dataKey = 11; s.maxGradNorm = nil
        s.optimizer.kind = .sgd; s.optimizer.momentum = 0
        return s
    }

    @Test func twoMicroBatchesOfTwoEqualOneBatchOfFour() throws {
        var a = settings(); a.steps = 1; a.shuffle = false
        var b = a; b.batchSize = 2; b.gradAccumulation = 2
        let ma = Self.model(), mb = Self.model()
        _ = try Trainer(model: ma, settings: a, train: Self.examples, val: nil).run(scratch: nil, report: { _ in }, log: { _ in })
        _ = try Trainer(model: mb, settings: b, train: Self.examples, val: nil).run(scratch: nil, report: { _ in }, log: { _ in })
        // SGD moves each weight by lr·g, so equal weights mean equal gradients (to rounding).
        var worst: Float = 0
        for i in 0..<ma.weights.count { worst = max(worst, abs(ma.weights[i] - mb.weights[i])) }
        #expect(worst < 1e-6, "largest difference \(worst)")
        // The batches do differ in loss tokens: a mean per micro-batch would not be equal.
        let first = Self.examples.lossTokens[0] + Self.examples.lossTokens[1], second = Self.examples.lossTokens[2] + Self.examples.lossTokens[3]
        #expect(first != second)
    }

    struct Interrupt: Error {}

    @Test func aResumedRunEndsWithTheSameBytes() throws {
        var s = settings(); s.saveSteps = 2; s.saveTotalLimit = 2; s.optimizer.kind = .adamw
        s.evalEvery = 2; s.schedule.kind = .cosine; s.schedule.total = 6; s.schedule.warmup = 1
        let val = Examples(shard: Self.shard(documents: 6, key: 9), T: 7, packing: .documents, useMask: true)
        let whole = Self.model()
        let wholeOutcome = try Trainer(model: whole, settings: s, train: Self.examples, val: val).run(scratch: nil, report: { _ in }, log: { _ in })

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hone-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(throws: Interrupt.self) {
            _ = try Trainer(model: Self.model(), settings: s, train: Self.examples, val: val)
                .run(scratch: scratch, report: { if $0.step == 5 { throw Interrupt() } }, log: { _ in })
        }
        #expect(Checkpoint.list(in: scratch).map(\.step) == [2, 4])
        var lines: [String] = []
        let resumed = Self.model(threads: 2)
        let outcome = try Trainer(model: resumed, settings: s, train: Self.examples, val: val)
            .run(scratch: scratch, report: { _ in }, log: { lines.append($0) })
        #expect(lines.contains { $0.contains("resumed from checkpoint-00000004.hck") })
        let sameWeights = Array(resumed.weights.buffer) == Array(whole.weights.buffer)
        #expect(sameWeights, "the resumed weights differ")
        let sameHistory = outcome.history == wholeOutcome.history
        #expect(sameHistory, "the resumed history differs")
        #expect(Checkpoint.list(in: scratch).map(\.step) == [4, 6])
    }

    @Test func theGuardNamesTheStepAndTheTensor() throws {
        let trainer = Trainer(model: Self.model(), settings: settings(), train: Self.examples, val: nil)
        let target = try #require(trainer.model.layout["model.layers.1.mlp.up_proj.weight"])
        trainer.afterBackward = { m in m.grads[target.offset + 3] = .nan }
        var steps = 0
        #expect(throws: ModelError.nonFinite(step: 1, tensor: "model.layers.1.mlp.up_proj.weight")) {
            _ = try trainer.run(scratch: nil, report: { _ in steps += 1 }, log: { _ in })
        }
        #expect(steps == 0)
    }

    @Test func earlyStoppingKeepsTheBestWeights() throws {
        // Gradient ascent on val = train: every evaluation is worse than the first, so patience 2
        // stops at step 3 and the weights are those after step 1.
        var s = settings(); s.learningRate = -0.05; s.evalEvery = 1; s.patience = 2; s.shuffle = false; s.steps = 10
        let m = Self.model()
        let outcome = try Trainer(model: m, settings: s, train: Self.examples, val: Self.examples).run(scratch: nil, report: { _ in }, log: { _ in })
        #expect(outcome.stoppedEarly && outcome.steps == 3 && outcome.bestStep == 1)
        var one = s; one.steps = 1; one.patience = 0
        let m1 = Self.model()
        _ = try Trainer(model: m1, settings: one, train: Self.examples, val: Self.examples).run(scratch: nil, report: { _ in }, log: { _ in })
        let same = Array(m.weights.buffer) == Array(m1.weights.buffer)
        #expect(same, "the kept weights are not those after step 1")
    }

    @Test func valWithoutLossTokensIsRefusedBeforeTraining() {
        // Every mask 0 inside the first T + 1 tokens: val loss would be 0/0.
        let shard = TokenShard.Shard(tokens: [1, 2, 3, 4], offsets: [0, 4], mask: [0, 0, 0, 0])
        let val = Examples(shard: shard, T: 7, packing: .documents, useMask: true)
        var s = settings(); s.evalEvery = 1
        #expect(throws: TrainError.self) {
            _ = try Trainer(model: Self.model(), settings: s, train: Self.examples, val: val).run(scratch: nil, report: { _ in }, log: { _ in })
        }
    }

    @Test func evalBeforeRecordsTheStartingModelAsStepZero() throws {
        var s = settings(); s.evalBefore = true; s.evalEvery = 3
        let fresh = Trainer(model: Self.model(), settings: s, train: Self.examples, val: Self.examples)
        let start = fresh.evaluate(LanguageModeling(Self.examples, rows: s.batchSize))["loss"] ?? .nan
        let outcome = try Trainer(model: Self.model(), settings: s, train: Self.examples, val: Self.examples)
            .run(scratch: nil, report: { _ in }, log: { _ in })
        let evals = outcome.history.filter { $0["val_loss"] != nil }
        #expect(evals.map { $0["step"]?.intValue } == [0, 3, 6])
        #expect(abs((evals.first?["val_loss"]?.doubleValue ?? 0) - start) < 1e-6)
    }
}
