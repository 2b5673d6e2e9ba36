import Foundation
import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import HoneTrain
import Testing

/// Training with parameter-efficient methods: the frozen base stays bit for bit, only the
/// trained tensors move and are checkpointed, and a killed run resumes to the same bytes.
@Suite struct PEFTTrainingTests {
    static func config() -> ModelConfig {
        var c = TrainerTests.config()
        c.hiddenSize = 32; c.intermediateSize = 64  // in-features a multiple of 32 for QLoRA
        return c
    }

    static func model(_ tuning: Tuning, quantized: Bool = false, threads: Int = 1) throws -> Model {
        let c = config()
        let full = initialWeights(ParameterLayout(c), config: c, key: 3)
        guard quantized else { return Model(config: c, weights: full, threads: threads, tuning: tuning) }
        let (rest, q) = try QuantizedProjections.split(full, config: c, format: .q4_1)
        return Model(config: c, weights: rest, threads: threads, tuning: tuning, quantized: q)
    }

    static func lora(dropout: Float = 0.1) -> Tuning {
        var t = Tuning(), l = LoRAConfig()
        l.rank = 4; l.alpha = 8; l.dropout = dropout
        t.base = .none; t.lora = l; t.loraKey = 21
        return t
    }

    /// Bottleneck adapters of width 4 added to the base; only they train.
    static func adapter(threads: Int = 1) throws -> Model {
        let c = config()
        let a = BottleneckAdapter.adding(to: c, weights: initialWeights(ParameterLayout(c), config: c, key: 3), size: 4, key: 5)
        var t = Tuning()
        t.base = .only(BottleneckAdapter.names(a.config))
        return Model(config: a.config, weights: a.weights, threads: threads, tuning: t)
    }

    /// Four virtual tokens before every sequence; only they train.
    static func prompt(threads: Int = 1) throws -> Model {
        let c = config()
        var base = c
        base.maxPositions = 16
        let a = PromptTuning.adding(to: base, weights: initialWeights(ParameterLayout(base), config: base, key: 3), count: 4, key: 5)
        var t = Tuning()
        t.base = .only([PromptTuning.tensorName])
        return Model(config: a.config, weights: a.weights, threads: threads, tuning: t)
    }

    /// Every method, by name: a fresh model on `threads` threads.
    static let methods: [(name: String, make: (Int) throws -> Model)] = [
        ("lora", { try model(lora(), threads: $0) }), ("qlora", { try model(lora(), quantized: true, threads: $0) }),
        ("freeze", { try model(freeze(), threads: $0) }), ("adapter", { try adapter(threads: $0) }), ("prompt", { try prompt(threads: $0) }),
        ("prefix", { try prefix(threads: $0) }),
    ]

    /// A four-token prefix in every layer; only it trains.
    static func prefix(threads: Int = 1) throws -> Model {
        let c = config()
        var base = c
        base.maxPositions = 16
        let a = try PrefixTuning.adding(to: base, weights: initialWeights(ParameterLayout(base), config: base, key: 3), count: 4, key: 5)
        var t = Tuning()
        t.base = .only([PrefixTuning.tensorName])
        return Model(config: a.config, weights: a.weights, threads: threads, tuning: t)
    }

    static func freeze() -> Tuning {
        var t = Tuning()
        t.base = .only(["model.layers.1.mlp.up_proj.weight", "model.norm.weight"])
        return t
    }

    func settings() -> TrainSettings {
        var s = TrainSettings()
        s.steps = 6; s.batchSize = 4; s.learningRate = 0.02; s.dataKey = 11; s.dropoutKey = 12
        s.optimizer.kind = .adamw; s.optimizer.weightDecay = 0.1; s.saveSteps = 2; s.evalEvery = 2
        return s
    }

    static let val = Examples(shard: TrainerTests.shard(documents: 6, key: 9), T: 7, packing: .documents, useMask: true)

    @Test func everyFrozenTensorIsBitIdenticalAfterTraining() throws {
        for (name, make) in Self.methods {
            let m = try make(1)
            let before = Array(m.weights.buffer)
            let trainedBefore = m.trainable.map { t in (0..<t.count).map { t.weights[$0] } }
            // Prompt tuning moves only a few input vectors: it wants a larger step (Lester et al. use 0.3).
            var s = settings()
            if name == "prompt" { s.learningRate = 0.3 }
            let outcome = try Trainer(model: m, settings: s, train: TrainerTests.examples, val: Self.val)
                .run(scratch: nil, report: { _ in }, log: { _ in })
            let trained = Set(m.trainable.map(\.name))
            for t in m.layout.tensors where !trained.contains(t.name) {
                let same = (0..<t.count).allSatisfy { m.weights[t.offset + $0] == before[t.offset + $0] }
                #expect(same, "\(t.name) moved (\(m.tuning.json))")
            }
            let moved = zip(m.trainable, trainedBefore).filter { t, old in (0..<t.count).contains { t.weights[$0] != old[$0] } }.count
            #expect(moved == m.trainable.count, "\(m.trainable.count - moved) trained tensors did not move")
            let losses = outcome.history.compactMap { $0["val_loss"]?.doubleValue }
            #expect((losses.last ?? 9) < (losses.first ?? 0), "val loss \(losses)")
        }
    }

    @Test func aKilledRunResumesToTheSameBytesWithEveryMethod() throws {
        for (name, make) in Self.methods {
            let s = settings()
            let whole = try make(1)
            let wholeOutcome = try Trainer(model: whole, settings: s, train: TrainerTests.examples, val: Self.val)
                .run(scratch: nil, report: { _ in }, log: { _ in })
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hone-peft-resume-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: scratch) }
            #expect(throws: TrainerTests.Interrupt.self) {
                _ = try Trainer(model: try make(1), settings: s, train: TrainerTests.examples, val: Self.val)
                    .run(scratch: scratch, report: { if $0.step == 5 { throw TrainerTests.Interrupt() } }, log: { _ in })
            }
            // A checkpoint holds what trains, not the frozen base.
            let newest = try #require(Checkpoint.list(in: scratch).last)
            let saved = try Checkpoint.read(newest.url)
            #expect(saved.array("weights")?.count == whole.trainableCount)
            #expect(throws: CheckpointError.self) { _ = try saved.model() }
            let resumed = try make(2)
            let outcome = try Trainer(model: resumed, settings: s, train: TrainerTests.examples, val: Self.val)
                .run(scratch: scratch, report: { _ in }, log: { _ in })
            let same = zip(whole.trainable, resumed.trainable).allSatisfy { a, b in (0..<a.count).allSatisfy { a.weights[$0] == b.weights[$0] } }
            #expect(same, "resumed weights differ (\(name))")
            #expect(outcome.history == wholeOutcome.history)
            // A checkpoint of one method is not restored into another.
            let other = try Self.model(name.contains("lora") ? Self.freeze() : Self.lora())
            #expect(throws: TrainError.self) {
                _ = try Trainer(model: other, settings: s, train: TrainerTests.examples, val: Self.val).run(scratch: scratch, report: { _ in }, log: { _ in })
            }
        }
    }
}
