import HoneBase

/// Every hyperparameter of the decoder, with its default, in one value. The names follow
/// Hugging Face's LlamaConfig, so `config.json` maps one key to one field (see `hfJSON`).
public struct ModelConfig: Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int = 256
    /// The SwiGLU width; 0 means Llama's rule, 256·⌈⌊8d/3⌋/256⌉.
    public var intermediateSize: Int = 0
    public var layers: Int = 4
    public var heads: Int = 4
    /// Key/value heads (grouped-query attention when fewer than `heads`); 0 means `heads`.
    public var kvHeads: Int = 0
    public var maxPositions: Int = 512
    public var ropeTheta: Double = 10_000
    public var normEps: Float = 1e-5
    /// The LM head reuses the embedding table (as SmolLM2 does).
    public var tiedEmbeddings: Bool = true
    /// A scalar head (`score.weight`, [1, d]) beside the LM head: reward and value models.
    public var scalarHead: Bool = false
    /// Dropout on each residual branch (after the attention output and the MLP down projection).
    public var dropout: Float = 0
    /// Width m of a bottleneck adapter after each layer's MLP (0: none; see BottleneckAdapter).
    public var adapterSize: Int = 0
    /// Virtual tokens before every sequence (0: none): trainable input embeddings (prompt
    /// tuning, PromptTuning), or with `prefixTuning` trainable keys and values in every layer
    /// (PrefixTuning).
    public var virtualTokens: Int = 0
    public var prefixTuning: Bool = false
    /// Standard deviation of the normal initialisation of every matrix.
    public var initStd: Float = 0.02
    public var bosTokenId: Int? = nil
    public var eosTokenId: Int? = nil

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    /// The model_type of a Llama with bottleneck adapters, which only Hone computes.
    public static let adapterModelType = "hone_llama"

    public var ffn: Int { intermediateSize > 0 ? intermediateSize : 256 * ((8 * hiddenSize / 3 + 255) / 256) }
    public var kv: Int { kvHeads > 0 ? kvHeads : heads }
    public var headDim: Int { hiddenSize / heads }

    /// Why this config cannot build a model, or nil.
    public var problem: String? {
        if vocabSize < 1 { return "vocab_size must be at least 1" }
        if hiddenSize < 2 || heads < 1 || hiddenSize % heads != 0 { return "hidden_size \(hiddenSize) must be a multiple of heads \(heads)" }
        if headDim % 2 != 0 { return "the head dimension hidden_size/heads = \(headDim) must be even for rotary embeddings" }
        if heads % kv != 0 { return "heads \(heads) must be a multiple of kv_heads \(kv)" }
        if layers < 1 { return "layers must be at least 1" }
        if maxPositions < 1 { return "max_positions must be at least 1" }
        if !(0..<1).contains(dropout) { return "dropout must be in [0, 1)" }
        if adapterSize < 0 { return "the adapter size must not be negative" }
        if virtualTokens < 0 || virtualTokens >= maxPositions { return "virtual tokens must be fewer than max_positions \(maxPositions)" }
        if prefixTuning && virtualTokens == 0 { return "prefix tuning needs virtual tokens" }
        return nil
    }

    /// Hugging Face's `config.json` for LlamaForCausalLM.
    public var hfJSON: JSONValue {
        var o: [String: JSONValue] = [
            "architectures": .array([.string("LlamaForCausalLM")]),
            "model_type": .string("llama"),
            "vocab_size": .int(vocabSize),
            "hidden_size": .int(hiddenSize),
            "intermediate_size": .int(ffn),
            "num_hidden_layers": .int(layers),
            "num_attention_heads": .int(heads),
            "num_key_value_heads": .int(kv),
            "head_dim": .int(headDim),
            "max_position_embeddings": .int(maxPositions),
            "rope_theta": .double(ropeTheta),
            "rms_norm_eps": .double(Double(normEps)),
            "tie_word_embeddings": .bool(tiedEmbeddings),
            "hidden_act": .string("silu"),
            "attention_bias": .bool(false),
            "mlp_bias": .bool(false),
            "attention_dropout": .double(0),
            "initializer_range": .double(Double(initStd)),
            "torch_dtype": .string("float32"),
            "hone_scalar_head": .bool(scalarHead),
            "hone_dropout": .double(Double(dropout)),
        ]
        if adapterSize > 0 || virtualTokens > 0 {
            // Not a plain Llama any more: transformers would drop the adapters or the virtual tokens
            // with a warning and compute another model, so the file says what it is and
            // transformers refuses it.
            o["architectures"] = .array([.string("HoneLlamaForCausalLM")])
            o["model_type"] = .string(Self.adapterModelType)
            if adapterSize > 0 { o["hone_adapter_size"] = .int(adapterSize) }
            if virtualTokens > 0 { o["hone_virtual_tokens"] = .int(virtualTokens) }
            if prefixTuning { o["hone_prefix_tuning"] = .bool(true) }
        }
        if let bosTokenId { o["bos_token_id"] = .int(bosTokenId) }
        if let eosTokenId { o["eos_token_id"] = .int(eosTokenId) }
        return .object(o)
    }

    /// Reads a Hugging Face Llama `config.json` (and Hone's own additions).
    public init(hfJSON json: JSONValue) throws {
        func int(_ k: String) throws -> Int {
            guard let v = json[k]?.intValue else { throw ModelError.config("config.json: '\(k)' must be an integer") }
            return v
        }
        if let type = json["model_type"]?.stringValue, type != "llama", type != Self.adapterModelType {
            throw ModelError.config("config.json: model_type '\(type)' is not supported (expected 'llama')")
        }
        self.init(vocabSize: try int("vocab_size"))
        hiddenSize = try int("hidden_size")
        intermediateSize = try int("intermediate_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        kvHeads = json["num_key_value_heads"]?.intValue ?? heads
        if let hd = json["head_dim"]?.intValue, hd != hiddenSize / max(heads, 1) {
            throw ModelError.config("config.json: head_dim \(hd) differs from hidden_size/num_attention_heads; not supported")
        }
        maxPositions = json["max_position_embeddings"]?.intValue ?? 2048
        ropeTheta = json["rope_theta"]?.doubleValue ?? 10_000
        normEps = Float(json["rms_norm_eps"]?.doubleValue ?? 1e-6)
        tiedEmbeddings = json["tie_word_embeddings"]?.boolValue ?? false
        scalarHead = json["hone_scalar_head"]?.boolValue ?? false
        dropout = Float(json["hone_dropout"]?.doubleValue ?? 0)
        adapterSize = json["hone_adapter_size"]?.intValue ?? 0
        virtualTokens = json["hone_virtual_tokens"]?.intValue ?? 0
        prefixTuning = json["hone_prefix_tuning"]?.boolValue ?? false
        initStd = Float(json["initializer_range"]?.doubleValue ?? 0.02)
        bosTokenId = json["bos_token_id"]?.intValue
        eosTokenId = json["eos_token_id"]?.intValue ?? json["eos_token_id"]?.arrayValue?.first?.intValue
        if let act = json["hidden_act"]?.stringValue, act != "silu" {
            throw ModelError.config("config.json: hidden_act '\(act)' is not supported (expected 'silu')")
        }
        if json["rope_scaling"].map({ $0 != .null }) ?? false {
            throw ModelError.config("config.json: rope_scaling is not supported")
        }
        for key in ["attention_bias", "mlp_bias"] where json[key]?.boolValue == true {
            throw ModelError.config("config.json: \(key) true is not supported (Llama's projections have no bias)")
        }
        if let p = problem { throw ModelError.config("config.json: \(p)") }
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case config(String)
    case weights(String)
    case nonFinite(step: Int, tensor: String)
    case nonFiniteLoss(step: Int)

    public var description: String {
        switch self {
        case let .config(m), let .weights(m): return m
        case let .nonFinite(step, tensor):
            return "step \(step): the gradient of \(tensor) is NaN or infinite; lower the learning rate or clip gradients (max_grad_norm)"
        case let .nonFiniteLoss(step):
            return "step \(step): the loss is NaN or infinite; lower the learning rate or check the data"
        }
    }
}
