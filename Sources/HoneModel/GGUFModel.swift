import Foundation
import HoneFormats
import HoneTensor

/// A Llama-family GGUF (llama.cpp's format) as a Hone model: the config from the `llama.*` keys,
/// the tensors dequantized to fp32 under Hugging Face names, and q/k rows un-permuted — llama.cpp's
/// converter interleaves each head's rotary halves, Hone (like transformers) keeps them apart
/// (../shared/REFERENCE.md §3–4).
public enum GGUFModel {
    public static func config(_ g: GGUF) throws -> ModelConfig {
        func need(_ key: String) throws -> Int {
            guard let v = g.metadata[key]?.int else { throw ModelError.config("\(g.path): no integer '\(key)'") }
            return v
        }
        let arch = g.metadata["general.architecture"]?.string ?? "?"
        guard arch == "llama" else {
            throw ModelError.config("\(g.path): general.architecture '\(arch)' is not supported (expected 'llama')")
        }
        let vocab = g.metadata["llama.vocab_size"]?.int ?? g.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0
        var c = ModelConfig(vocabSize: vocab)
        c.hiddenSize = try need("llama.embedding_length")
        c.layers = try need("llama.block_count")
        c.heads = try need("llama.attention.head_count")
        c.kvHeads = g.metadata["llama.attention.head_count_kv"]?.int ?? c.heads
        c.intermediateSize = try need("llama.feed_forward_length")
        c.maxPositions = try need("llama.context_length")
        c.ropeTheta = g.metadata["llama.rope.freq_base"]?.double ?? 10_000
        c.normEps = Float(g.metadata["llama.attention.layer_norm_rms_epsilon"]?.double ?? 1e-5)
        c.tiedEmbeddings = g.tensors["output.weight"] == nil
        c.bosTokenId = g.metadata["tokenizer.ggml.bos_token_id"]?.int
        c.eosTokenId = g.metadata["tokenizer.ggml.eos_token_id"]?.int
        if let rot = g.metadata["llama.rope.dimension_count"]?.int, rot != c.headDim {
            throw ModelError.config("\(g.path): llama.rope.dimension_count \(rot) differs from the head dimension \(c.headDim); partial rotary embeddings are not supported")
        }
        if let p = c.problem { throw ModelError.config("\(g.path): \(p)") }
        return c
    }

    /// GGUF tensor name for each Hugging Face one.
    static func ggufName(_ hf: String) -> String {
        if hf == "model.embed_tokens.weight" { return "token_embd.weight" }
        if hf == "model.norm.weight" { return "output_norm.weight" }
        if hf == "lm_head.weight" { return "output.weight" }
        let parts = hf.split(separator: ".")  // model.layers.N.<module>.<proj>.weight
        guard parts.count >= 5 else { return hf }
        let n = parts[2], rest = parts[3...].joined(separator: ".")
        let table = ["input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
                     "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
                     "self_attn.o_proj.weight": "attn_output.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                     "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
                     "mlp.down_proj.weight": "ffn_down.weight"]
        return "blk.\(n)." + (table[rest] ?? rest)
    }

    public static func load(_ url: URL) throws -> (config: ModelConfig, weights: Buffer, gguf: GGUF) {
        let g = try GGUF(url: url)
        let c = try config(g)
        let layout = ParameterLayout(c)
        let weights = Buffer(layout.count)
        for t in layout.tensors { try read(t, from: g, config: c, into: weights.pointer + t.offset) }
        return (c, weights, g)
    }

    /// For QLoRA: the projections kept in `format`'s blocks — as the file has them when it
    /// stores them in that format (nothing lost, nothing dequantized), else quantized from fp32
    /// one matrix at a time — and the other tensors in fp32 under
    /// `ParameterLayout(config, projections: false)`.
    public static func loadQuantized(_ url: URL, format: BlockMatrix.Format) throws
        -> (config: ModelConfig, weights: Buffer, quantized: QuantizedProjections, gguf: GGUF) {
        let g = try GGUF(url: url)
        let c = try config(g)
        let layout = ParameterLayout(c, projections: false)
        let weights = Buffer(layout.count)
        for t in layout.tensors { try read(t, from: g, config: c, into: weights.pointer + t.offset) }
        let quantized = try QuantizedProjections(config: c, format: format) { _, p, t in
            let name = try checkedName(t, in: g)
            if let blocks = try g.blocks(name), blocks.format == format, blocks.rows == t.shape[0], blocks.columns == t.shape[1] {
                return huggingFaceRows(blocks, p, c)
            }
            let tmp = Buffer(t.count)
            try read(t, from: g, config: c, into: tmp.pointer)
            return try QuantizedProjections.quantize(tmp.pointer, rows: t.shape[0], columns: t.shape[1], format: format, name: t.name)
        }
        return (c, weights, quantized, g)
    }

    /// The file's block matrices as they are (each tensor in its own format; q and k rows
    /// reordered, which moves whole rows), for a `Generator`'s one-token products. F32/F16
    /// tensors are left out: those products read the fp32 weights.
    public static func blockWeights(_ g: GGUF, config c: ModelConfig) throws -> BlockWeights {
        let layout = ParameterLayout(c)
        func blocks(_ hfName: String) throws -> BlockMatrix? {
            guard let t = layout[hfName] else { return nil }
            return try g.blocks(try checkedName(t, in: g))
        }
        let projections = try (0..<c.layers).map { l in
            try Projection.allCases.map { p in try blocks(p.weightName(layer: l)).map { huggingFaceRows($0, p, c) } }
        }
        let head = try blocks(c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight")
        return BlockWeights(projections: projections, head: head)
    }

    /// A projection's blocks with q and k rows in Hugging Face order (blocks never cross rows, so
    /// this moves whole rows and loses nothing).
    static func huggingFaceRows(_ blocks: BlockMatrix, _ p: Projection, _ c: ModelConfig) -> BlockMatrix {
        switch p {
        case .q: return blocks.reorderingRows(unpermuteOrder(heads: c.heads, headDim: c.headDim))
        case .k: return blocks.reorderingRows(unpermuteOrder(heads: c.kv, headDim: c.headDim))
        default: return blocks
        }
    }

    /// The GGUF name of a tensor the file must hold, with the shape the config implies.
    static func checkedName(_ t: ParameterLayout.Tensor, in g: GGUF) throws -> String {
        let name = ggufName(t.name)
        guard let info = g.tensors[name] else {
            throw ModelError.weights("\(g.path): no tensor '\(name)' (Hugging Face '\(t.name)'), which the llama.* keys imply")
        }
        guard Array(info.dims.reversed()) == t.shape else {
            throw ModelError.weights("\(g.path): '\(name)' has GGUF dims \(info.dims), expected \(Array(t.shape.reversed()))")
        }
        return name
    }

    /// One tensor in fp32, under its Hugging Face name, q/k rows un-permuted.
    static func read(_ t: ParameterLayout.Tensor, from g: GGUF, config c: ModelConfig, into out: UnsafeMutablePointer<Float>) throws {
        let name = try checkedName(t, in: g)
        var values = try g.floats(name)
        if t.name.hasSuffix("q_proj.weight") { values = unpermute(values, heads: c.heads, headDim: c.headDim, columns: c.hiddenSize) }
        if t.name.hasSuffix("k_proj.weight") { values = unpermute(values, heads: c.kv, headDim: c.headDim, columns: c.hiddenSize) }
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { out.update(from: base, count: t.count) }
        }
    }

    /// The GGUF row that each Hugging Face row of a q or k projection comes from.
    static func unpermuteOrder(heads: Int, headDim D: Int) -> [Int] {
        var order = [Int](repeating: 0, count: heads * D)
        for h in 0..<heads {
            for i in 0..<(D / 2) {
                for j in 0..<2 { order[h * D + j * (D / 2) + i] = h * D + 2 * i + j }
            }
        }
        return order
    }

    /// HF row h·D + j·D/2 + i = GGUF row h·D + 2i + j (REFERENCE §4).
    static func unpermute(_ w: [Float], heads: Int, headDim D: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: w.count)
        for (hf, gg) in unpermuteOrder(heads: heads, headDim: D).enumerated() {
            for col in 0..<columns { out[hf * columns + col] = w[gg * columns + col] }
        }
        return out
    }
}
