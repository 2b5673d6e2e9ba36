import Foundation
import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import Testing

/// The parameter-efficient methods against finite differences and against each other: LoRA
/// (with and without its dropout), QLoRA over quantized blocks, and freezing.
@Suite struct PEFTTests {
    static func config() -> ModelConfig {
        var c = ModelConfig(vocabSize: 23)
        // in-features a multiple of 32, so the projections can be quantized
        c.hiddenSize = 32; c.intermediateSize = 64; c.layers = 2; c.heads = 4; c.kvHeads = 2
        c.maxPositions = 16; c.tiedEmbeddings = false; c.initStd = 0.3
        return c
    }

    static func weights(_ c: ModelConfig) -> Buffer { initialWeights(ParameterLayout(c), config: c, key: 5) }

    static func lora(rank: Int = 4, dropout: Float = 0, targets: [Projection] = Projection.allCases) -> Tuning {
        var t = Tuning()
        var l = LoRAConfig()
        l.rank = rank; l.alpha = 8; l.dropout = dropout; l.targets = targets
        t.base = .none; t.lora = l; t.loraKey = 17
        return t
    }

    /// B starts at zero, which would make A's gradient zero: give every adapter tensor values.
    static func randomizeAdapters(_ m: Model) {
        guard let lora = m.lora else { return }
        var rng = CounterRNG(key: 99)
        for i in 0..<lora.weights.count { lora.weights[i] = Float(rng.nextDouble() - 0.5) * 0.6 }
    }

    /// Masked next-token cross-entropy on fixed tokens.
    struct Case {
        let model: Model
        let acts: Activations
        let targets: [Int32]
        let mask: [UInt8]
        let dropout: Model.DropoutDraw?

        init(_ model: Model, dropout: Bool = false) {
            self.model = model
            acts = Activations(for: model, B: 2, T: 6)
            var rng = CounterRNG(key: 6)
            for m in 0..<acts.M { acts.tokens[m] = Int32(rng.below(model.config.vocabSize)) }
            targets = (0..<acts.M).map { _ in Int32(rng.below(model.config.vocabSize)) }
            mask = (0..<acts.M).map { $0 % 3 == 1 ? 0 : 1 }
            self.dropout = dropout ? Model.DropoutDraw(key: 77, pass: 3) : nil
        }

        func loss() -> Double {
            model.forward(acts, dropout: dropout)
            model.lmHeadForward(acts)
            return Double(model.lmLoss(acts, targets: targets, mask: mask))
        }

        func gradients() {
            model.zeroGrads()
            _ = loss()
            model.lmHeadBackward(acts)
            model.backward(acts)
        }

        func logits() -> [Float] {
            model.forward(acts)
            model.lmHeadForward(acts)
            return Array(acts.logits.buffer)
        }
    }

    /// Every trainable tensor at 4 sampled places against central differences.
    func checkTrainable(_ k: Case) {
        k.gradients()
        var rng = CounterRNG(key: 9)
        #expect(!k.model.trainable.isEmpty)
        for t in k.model.trainable {
            for _ in 0..<4 {
                let i = rng.below(t.count)
                let saved = t.weights[i], h: Float = 1e-2
                t.weights[i] = saved + h; let up = k.loss()
                t.weights[i] = saved - h; let down = k.loss()
                t.weights[i] = saved
                let numeric = (up - down) / Double(2 * h), analytic = Double(t.grads[i])
                #expect(abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(numeric), "\(t.name)[\(i)]: analytic \(analytic), numeric \(numeric)")
            }
        }
    }

    @Test func loraGradientsMatchFiniteDifferences() {
        let c = Self.config()
        let m = Model(config: c, weights: Self.weights(c), tuning: Self.lora())
        Self.randomizeAdapters(m)
        #expect(m.trainable.count == 2 * 7 * c.layers && m.grads.count == 0)
        checkTrainable(Case(m))
    }

    @Test func loraWithDropoutGradientsMatchFiniteDifferences() {
        let c = Self.config()
        let m = Model(config: c, weights: Self.weights(c), tuning: Self.lora(dropout: 0.3, targets: [.q, .v, .down]))
        Self.randomizeAdapters(m)
        let k = Case(m, dropout: true)
        // The masks do drop something: the loss differs from the one without dropout.
        let without = Case(m).loss()
        #expect(k.loss() != without)
        checkTrainable(k)
    }

    @Test func qloraGradientsMatchFiniteDifferencesOverQuantizedBlocks() throws {
        let c = Self.config()
        for format in BlockMatrix.Format.allCases {
            let full = Self.weights(c)
            let (rest, q) = try QuantizedProjections.split(full, config: c, format: format)
            let m = Model(config: c, weights: rest, tuning: Self.lora(), quantized: q)
            Self.randomizeAdapters(m)
            checkTrainable(Case(m))
        }
    }

    @Test func freezingTrainsOnlyTheChosenTensorsWithTheFullModelsGradients() {
        let c = Self.config()
        var t = Tuning()
        let chosen: Set<String> = ["model.layers.1.mlp.down_proj.weight", "model.layers.1.input_layernorm.weight", "model.norm.weight", "lm_head.weight"]
        t.base = .only(chosen)
        let frozen = Model(config: c, weights: Self.weights(c), tuning: t)
        #expect(Set(frozen.trainable.map(\.name)) == chosen)
        #expect(frozen.grads.count == frozen.trainable.reduce(0) { $0 + $1.count })
        checkTrainable(Case(frozen))
        // The same gradients, to the bit, as full fine-tuning computes for those tensors: the
        // backward that stops at layer 1 and skips frozen weights changes nothing else.
        let full = Model(config: c, weights: Self.weights(c))
        Case(full).gradients()
        Case(frozen).gradients()
        for v in frozen.trainable {
            let offset = full.layout[v.name]?.offset ?? -1
            let same = (0..<v.count).allSatisfy { v.grads[$0] == full.grads[offset + $0] }
            #expect(same, "\(v.name)")
        }
    }

    @Test func aMergedModelGivesTheLogitsOfBasePlusAdapters() throws {
        let c = Self.config()
        for quantized in [false, true] {
            let full = Self.weights(c)
            let parts = quantized ? try QuantizedProjections.split(full, config: c, format: .q4_1) : nil
            let q = parts?.quantized, base = parts?.rest ?? full
            let adapted = Model(config: c, weights: base, tuning: Self.lora(targets: [.q, .k, .o, .up, .down]), quantized: q)
            Self.randomizeAdapters(adapted)
            let merged = Model(config: c, weights: adapted.mergedWeights())
            let a = Case(adapted).logits(), b = Case(merged).logits()
            let scale = a.map { abs($0) }.max() ?? 1
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "quantized \(quantized): largest logit difference \(worst) of \(scale)")
        }
    }

    @Test func aQuantizedBaseComputesExactlyWhatItsDequantizedWeightsCompute() throws {
        let c = Self.config()
        let full = Self.weights(c)
        let (rest, q) = try QuantizedProjections.split(full, config: c, format: .q8_0)
        let quantized = Model(config: c, weights: rest, tuning: Self.lora(), quantized: q)
        let dequantized = Model(config: c, weights: quantized.mergedWeights())  // B = 0: the base alone
        #expect(Case(quantized).logits() == Case(dequantized).logits())
        #expect(q.bytes * 32 / 34 == c.layers * Projection.allCases.reduce(0) { $0 + $1.shape(c).out * $1.shape(c).in })
    }

    @Test func adapterGradientsAreBitIdenticalOnOneAndTwoThreads() {
        let c = Self.config()
        let one = Model(config: c, weights: Self.weights(c), threads: 1, tuning: Self.lora(dropout: 0.2))
        let two = Model(config: c, weights: Self.weights(c), threads: 2, tuning: Self.lora(dropout: 0.2))
        Self.randomizeAdapters(one); Self.randomizeAdapters(two)
        Case(one, dropout: true).gradients(); Case(two, dropout: true).gradients()
        #expect(Array(one.lora?.grads.buffer ?? .init(start: nil, count: 0)) == Array(two.lora?.grads.buffer ?? .init(start: nil, count: 0)))
    }

    @Test func loraStartsAtTheBaseModel() {
        let c = Self.config()
        let base = Model(config: c, weights: Self.weights(c))
        let adapted = Model(config: c, weights: Self.weights(c), tuning: Self.lora())
        #expect(Case(base).logits() == Case(adapted).logits())
        // A is drawn uniform in ±1/√in; B is zero.
        let lora = adapted.lora
        let a = lora?.layout["model.layers.0.mlp.down_proj.lora_A.weight"]
        #expect(a?.shape == [4, 64])
        if let lora, let a {
            let values = (0..<a.count).map { lora.weights[a.offset + $0] }
            #expect(values.allSatisfy { abs($0) <= 1 / Float(64).squareRoot() } && Set(values).count > a.count / 2)
        }
        #expect(lora?.layout["model.layers.0.self_attn.k_proj.lora_B.weight"]?.shape == [16, 4])
    }

    @Test func adaptersAreWrittenInPEFTsLayout() throws {
        let c = Self.config()
        let m = Model(config: c, weights: Self.weights(c), tuning: Self.lora(targets: [.q, .down]))
        Self.randomizeAdapters(m)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lora = try #require(m.lora)
        try AdapterFiles.save(lora, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", to: dir)
        let tensors = try Safetensors.read(dir.appendingPathComponent("adapter_model.safetensors"))
        #expect(Set(tensors.keys) == Set((0..<2).flatMap { l in ["self_attn.q_proj", "mlp.down_proj"].flatMap { p in
            ["lora_A", "lora_B"].map { "base_model.model.model.layers.\(l).\(p).\($0).weight" } } }))
        let b = try #require(tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"])
        let t = try #require(lora.layout["model.layers.1.mlp.down_proj.lora_B.weight"])
        #expect(b.shape == [32, 4] && b.values == (0..<t.count).map { lora.weights[t.offset + $0] })
        let config = try JSONValue.parse(try Data(contentsOf: dir.appendingPathComponent("adapter_config.json")))
        #expect(config["peft_type"]?.stringValue == "LORA" && config["r"]?.intValue == 4 && config["lora_alpha"]?.doubleValue == 8)
        #expect(config["target_modules"]?.arrayValue?.compactMap(\.stringValue) == ["q_proj", "down_proj"])
        #expect(config["base_model_name_or_path"]?.stringValue == "HuggingFaceTB/SmolLM2-135M-Instruct")
    }

    static func adapted(_ c: ModelConfig, m: Int = 6) -> Model {
        let a = BottleneckAdapter.adding(to: c, weights: weights(c), size: m, key: 31)
        var t = Tuning()
        t.base = .only(BottleneckAdapter.names(a.config))
        return Model(config: a.config, weights: a.weights, tuning: t)
    }

    @Test func bottleneckAdapterGradientsMatchFiniteDifferences() {
        let c = Self.config()
        let m = Self.adapted(c)
        // Wu and the biases start at zero: give them values, so every product is exercised.
        var rng = CounterRNG(key: 41)
        for t in m.trainable { for i in 0..<t.count { t.weights[i] = Float(rng.nextDouble() - 0.5) * 0.4 } }
        #expect(m.trainable.count == 4 * c.layers)
        // 2md + m + d a layer.
        #expect(m.trainableCount == c.layers * (2 * 6 * c.hiddenSize + 6 + c.hiddenSize))
        checkTrainable(Case(m))
    }

    @Test func anAdaptedModelStartsAtTheBaseAndLoadsBackAndGeneratesTheSame() throws {
        let c = Self.config()
        let base = Model(config: c, weights: Self.weights(c))
        let m = Self.adapted(c)
        #expect(Case(base).logits() == Case(m).logits())
        var rng = CounterRNG(key: 42)
        for t in m.trainable { for i in 0..<t.count { t.weights[i] = Float(rng.nextDouble() - 0.5) * 0.4 } }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-adapted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFiles.save(config: m.config, weights: m.weights, to: dir)
        let config = try JSONValue.parse(try Data(contentsOf: dir.appendingPathComponent("config.json")))
        #expect(config["model_type"]?.stringValue == "hone_llama" && config["hone_adapter_size"]?.intValue == 6)
        let loaded = try ModelFiles.load(dir)
        let back = Model(config: loaded.config, weights: loaded.weights)
        let logits = Case(m).logits()
        #expect(Case(back).logits() == logits)
        // The KV-cache generator applies the adapters too.
        let k = Case(back)
        let tokens = (0..<k.acts.T).map { k.acts.tokens[$0] }
        let g = Generator(model: back)
        let rows = try g.feed(tokens, allLogits: true)
        let V = c.vocabSize
        let worst = (0..<(k.acts.T * V)).map { abs(rows[$0] - logits[$0]) }.max() ?? 1
        #expect(worst < 1e-4, "generator logits differ by \(worst)")
    }

    static func prompted(_ c: ModelConfig, P: Int = 3) -> Model {
        let a = PromptTuning.adding(to: c, weights: weights(c), count: P, key: 51)
        var t = Tuning()
        t.base = .only([PromptTuning.tensorName])
        return Model(config: a.config, weights: a.weights, tuning: t)
    }

    @Test func promptTuningGradientsMatchFiniteDifferences() {
        let c = Self.config()
        let m = Self.prompted(c)
        #expect(m.trainable.map(\.name) == ["prompt_embeddings"] && m.trainableCount == 3 * c.hiddenSize)
        let k = Case(m)
        #expect(k.acts.S == 9 && k.acts.layerRows == 18 && k.acts.M == 12)
        checkTrainable(k)
    }

    @Test func virtualTokensComeFirstInTheGeneratorAndInTheFiles() throws {
        let c = Self.config()
        let m = Self.prompted(c)
        // The prompt starts as embeddings drawn from the vocabulary, so the outputs change.
        let base = Model(config: c, weights: Self.weights(c))
        let k = Case(m)
        let logits = k.logits()
        #expect(logits != Case(base).logits())
        let tokens = (0..<k.acts.T).map { k.acts.tokens[$0] }
        let rows = try Generator(model: m).feed(tokens, allLogits: true)
        let worst = (0..<(k.acts.T * c.vocabSize)).map { abs(rows[$0] - logits[$0]) }.max() ?? 1
        #expect(worst < 1e-4, "generator logits differ by \(worst)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-prompt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFiles.save(config: m.config, weights: m.weights, to: dir)
        let loaded = try ModelFiles.load(dir)
        #expect(loaded.config.virtualTokens == 3 && Case(Model(config: loaded.config, weights: loaded.weights)).logits() == logits)
        try AdapterFiles.saveVirtualTokens(config: m.config, weights: m.weights, to: dir)
        let peft = try Safetensors.read(dir.appendingPathComponent("adapter_model.safetensors"))
        #expect(peft["prompt_embeddings"]?.shape == [3, c.hiddenSize])
        let config = try JSONValue.parse(try Data(contentsOf: dir.appendingPathComponent("adapter_config.json")))
        #expect(config["peft_type"]?.stringValue == "PROMPT_TUNING" && config["num_virtual_tokens"]?.intValue == 3)
    }

    static func prefixed(_ c: ModelConfig, P: Int = 3) throws -> Model {
        let a = try PrefixTuning.adding(to: c, weights: weights(c), count: P, key: 61)
        var t = Tuning()
        t.base = .only([PrefixTuning.tensorName])
        return Model(config: a.config, weights: a.weights, tuning: t)
    }

    @Test func prefixTuningGradientsMatchFiniteDifferences() throws {
        let c = Self.config()
        let m = try Self.prefixed(c)
        // P rows of (key, value) for every layer: 3 × 2 layers × 2 × kv 2 × D 8.
        #expect(m.trainable.map(\.name) == ["prefix_key_values"] && m.trainableCount == 3 * 2 * 2 * 2 * 8)
        checkTrainable(Case(m))
    }

    /// Prompt tuning and prefix tuning are two methods: a prompt acts at the input only, a prefix
    /// in every layer. With the same virtual tokens, a prefix made of the keys and values the
    /// prompt produces computes exactly the prompt-tuned model; perturbing one layer's prefix
    /// changes the output, which no input embedding reaches in the same way.
    @Test func prefixTuningIsNotPromptTuning() throws {
        let c = Self.config()
        let prompted = Self.prompted(c)
        // The keys and values the prompt-tuned model caches for its virtual tokens, as a prefix.
        let g = Generator(model: prompted)
        _ = try g.feed([1])
        var pc = c
        pc.virtualTokens = 3; pc.prefixTuning = true
        let layout = ParameterLayout(pc), w = layout.relayout(Self.weights(c), from: ParameterLayout(c))
        let prefix = try #require(layout["prefix_key_values"])
        let kvWidth = c.kv * c.headDim, row = prefix.shape[1]
        for j in 0..<3 {
            for l in 0..<c.layers {
                let kv = g.cached(layer: l, position: j)
                (w.pointer + prefix.offset + j * row + 2 * l * kvWidth).update(from: kv.key, count: kvWidth)
                (w.pointer + prefix.offset + j * row + (2 * l + 1) * kvWidth).update(from: kv.value, count: kvWidth)
            }
        }
        let prefixed = Model(config: pc, weights: w)
        let a = Case(prompted).logits(), b = Case(prefixed).logits()
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4, "a prefix holding the prompt's keys and values gives other logits: \(worst)")
        // Layer 1's prefix alone moves the output; prompt tuning has no such parameter.
        w[prefix.offset + 2 * 1 * kvWidth] += 1
        #expect(Case(Model(config: pc, weights: w)).logits() != b)
        #expect(prompted.layout["prefix_key_values"] == nil && prefixed.layout["prompt_embeddings"] == nil)
    }
}
