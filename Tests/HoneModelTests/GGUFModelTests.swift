import Foundation
import HoneBase
import HoneData
import HoneFormats
import HoneModel
import HoneTensor
import Testing

/// GGUF models: a tiny Llama written the way llama.cpp's converter lays it out (q/k rows
/// permuted, GGUF names and dimension order) loads back to the same weights; and the reference
/// model, SmolLM2-135M-Instruct from `make model`, tokenizes and answers as transformers does.
@Suite struct GGUFModelTests {
    static let smol = Sandbox.repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")

    enum Sandbox { static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    @Test func aConvertedLlamaLoadsBackToTheSameWeights() throws {
        var c = ModelConfig(vocabSize: 29)
        c.hiddenSize = 16; c.layers = 2; c.heads = 4; c.kvHeads = 2; c.intermediateSize = 24; c.maxPositions = 32
        c.tiedEmbeddings = false; c.ropeTheta = 50_000
        let layout = ParameterLayout(c)
        let w = initialWeights(layout, config: c, key: 12)
        for i in 0..<w.count { w[i] += Float(i % 7) * 0.01 }  // norms not all ones
        var g = GGUFWriter()
        g.set("general.architecture", .string("llama"))
        g.set("llama.vocab_size", .uint(29)); g.set("llama.embedding_length", .uint(16)); g.set("llama.block_count", .uint(2))
        g.set("llama.attention.head_count", .uint(4)); g.set("llama.attention.head_count_kv", .uint(2))
        g.set("llama.feed_forward_length", .uint(24)); g.set("llama.context_length", .uint(32))
        g.set("llama.rope.freq_base", .float(50_000)); g.set("llama.attention.layer_norm_rms_epsilon", .float(1e-5))
        g.set("llama.rope.dimension_count", .uint(4))
        for t in layout.tensors {
            var values = Array(UnsafeBufferPointer(start: w.pointer + t.offset, count: t.count))
            let heads = t.name.hasSuffix("q_proj.weight") ? c.heads : t.name.hasSuffix("k_proj.weight") ? c.kv : 0
            if heads > 0 { values = permute(values, heads: heads, D: c.headDim, columns: c.hiddenSize) }
            g.add(ggufName(t.name), dims: t.shape.reversed(), floats: values)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hone-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try g.data().write(to: url)
        let loaded = try GGUFModel.load(url)
        #expect(loaded.config == c)
        let same = (0..<w.count).allSatisfy { loaded.weights[$0] == w[$0] }
        #expect(same, "the un-permuted weights differ from the originals")
    }

    /// QLoRA from the reference model keeps the file's own Q4_1 blocks (q/k rows moved whole):
    /// dequantized, they are exactly the weights the fp32 loader reads.
    @Test func smolLM2sQ4BlocksAreKeptAsTheFileHasThem() throws {
        guard FileManager.default.fileExists(atPath: Self.smol.path) else {
            print("skipped: \(Self.smol.path) is missing (make model fetches it)")
            return
        }
        let q = try GGUFModel.loadQuantized(Self.smol, format: .q4_1)
        let quantized = Model(config: q.config, weights: q.weights, threads: 2, tuning: .frozen, quantized: q.quantized)
        let fp32 = try GGUFModel.load(Self.smol)
        let merged = quantized.mergedWeights()
        #expect(merged.count == fp32.weights.count)
        let same = (0..<merged.count).allSatisfy { merged[$0] == fp32.weights[$0] }
        #expect(same, "the kept blocks dequantize to other weights than the file's")
        // 30 layers of projections in 20-byte blocks of 32: 5/32 of their fp32 size.
        let projections = 30 * (576 * 576 * 2 + 576 * 192 * 2 + 576 * 1536 * 3)
        #expect(q.quantized.bytes == projections / 32 * 20)
    }

    /// llama.cpp's converter: GGUF row h·D + 2i + j = HF row h·D + j·D/2 + i.
    func permute(_ w: [Float], heads: Int, D: Int, columns: Int) -> [Float] {
        var out = w
        for h in 0..<heads { for i in 0..<(D / 2) { for j in 0..<2 {
            for col in 0..<columns { out[(h * D + 2 * i + j) * columns + col] = w[(h * D + j * (D / 2) + i) * columns + col] }
        } } }
        return out
    }

    func ggufName(_ hf: String) -> String {
        let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        if let f = fixed[hf] { return f }
        let p = hf.split(separator: ".")
        let map = ["input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                   "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
                   "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"]
        let module = p[3..<(p.count - 1)].joined(separator: ".")
        return "blk.\(p[2]).\(map[module] ?? module).weight"
    }

    @Test func smolLM2TokenizesAndAnswersAsTransformersDoes() throws {
        guard FileManager.default.fileExists(atPath: Self.smol.path) else {
            print("skipped: \(Self.smol.path) is missing (make model fetches it)")
            return
        }
        let m = try GGUFModel.load(Self.smol)
        #expect(m.config.layers == 30 && m.config.hiddenSize == 576 && m.config.kv == 3 && m.config.tiedEmbeddings)
        let tokenizer = try Tokenizer(gguf: m.gguf)
        let text = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        // The ids transformers' apply_chat_template gives (../shared/REFERENCE.md §5).
        let expected = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198,
                        1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
        let ids = tokenizer.encode(text)
        #expect(ids == expected)
        let generator = Generator(model: Model(config: m.config, weights: m.weights, threads: 2))
        var sampler = Sampler(temperature: 0, topK: 0, topP: 1, seed: 0)
        var logits = try generator.feed(ids.map { Int32($0) })
        var out: [Int] = []
        while out.count < 12 {
            let next = sampler.pick(logits[...])
            if next == 2 { break }
            out.append(next)
            logits = try generator.feed([Int32(next)])
        }
        #expect(tokenizer.decode(out) == "The capital of France is Paris.")
    }
}
