import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import HonePipeline

/// How a training stage tunes its model — `method` and the params each method reads — and
/// their reading into the model's `Tuning`.
///
/// - full: every tensor trains.
/// - lora: low-rank adapters on the `lora_targets` projections; the base is frozen.
/// - qlora: lora over a base whose projections stay in `quant` blocks (frozen).
/// - freeze: only the last `train_layers` layers, and the tensors `train_norms` and
///   `train_tensors` name, train. (Llama checkpoints have no bias tensors to select.)
/// - adapter: bottleneck adapters of width `adapter_size` after every MLP; the base is frozen.
/// - prompt: `virtual_tokens` trainable embeddings before every sequence; the base is frozen.
/// - prefix: `virtual_tokens` trainable keys and values in every layer; the base is frozen.
enum TuningParams {
    enum Method: String, CaseIterable { case full, lora, qlora, freeze, adapter, prompt, prefix }

    static let specs: [ParamSpec] = [
        ParamSpec("method", .string(choices: Method.allCases.map(\.rawValue)), default: .string("full"),
                  help: "full (every tensor trains), lora, qlora (LoRA over a quantized frozen base), freeze (chosen tensors train), adapter (bottleneck adapters after each MLP), prompt (prompt tuning) or prefix (prefix tuning)"),
        ParamSpec("lora_rank", .int(min: 1, max: 4096), default: .int(8), help: "lora/qlora: the adapters' rank r"),
        ParamSpec("lora_alpha", .number(min: 0), default: .double(16), help: "lora/qlora: the update is scaled by alpha/r (above 0)"),
        ParamSpec("lora_dropout", .number(min: 0, max: 0.95), default: .double(0), help: "lora/qlora: dropout on the adapters' input while training"),
        ParamSpec("lora_targets", .list(.string(choices: Projection.allCases.map(\.rawValue))),
                  default: .array(Projection.allCases.map { .string($0.rawValue) }), help: "lora/qlora: the projections that get adapters"),
        ParamSpec("quant", .string(choices: BlockMatrix.Format.allCases.map(\.rawValue)), default: .string("q4_1"),
                  help: "qlora: the block format of the frozen projections (a GGUF base already in it is kept as it is)"),
        ParamSpec("adapter_size", .int(min: 1, max: 65536), default: .int(64), help: "adapter: the bottleneck width m (2md + m + d parameters a layer)"),
        ParamSpec("virtual_tokens", .int(min: 1, max: 4096), default: .int(20), help: "prompt, prefix: virtual tokens before every sequence (prompt: trainable embeddings; prefix: trainable keys and values in every layer)"),
        ParamSpec("train_layers", .int(min: 0), default: .int(2), help: "freeze: the last N layers train"),
        ParamSpec("train_norms", .bool, default: .bool(false), help: "freeze: every RMSNorm gain trains too"),
        ParamSpec("train_tensors", .list(.string()), default: .array([]),
                  help: "freeze: more tensors that train, by Hugging Face name; * matches any text (model.layers.*.mlp.down_proj.weight)"),
    ]

    static func method(_ p: Params) -> Method { Method(rawValue: p.string("method") ?? "full") ?? .full }

    /// The params each method reads (besides `method`).
    static func reads(_ m: Method) -> Set<String> {
        let lora: Set<String> = ["lora_rank", "lora_alpha", "lora_dropout", "lora_targets"]
        switch m {
        case .full: return []
        case .lora: return lora
        case .qlora: return lora.union(["quant"])
        case .freeze: return ["train_layers", "train_norms", "train_tensors"]
        case .adapter: return ["adapter_size"]
        case .prompt, .prefix: return ["virtual_tokens"]
        }
    }

    static func check(_ p: Params) -> [ParamIssue] {
        var issues: [ParamIssue] = []
        // A param set for another method is most likely a mistake (quant with lora: meant qlora?).
        let m = method(p)
        for spec in specs where spec.name != "method" && !reads(m).contains(spec.name) && p[spec.name] != spec.defaultValue {
            let users = Method.allCases.filter { reads($0).contains(spec.name) }.map(\.rawValue).joined(separator: " or ")
            issues.append(ParamIssue(param: spec.name, message: "\(spec.name) has no effect with method: \(m.rawValue); it is read by method: \(users)"))
        }
        if [.lora, .qlora].contains(m), let alpha = p.double("lora_alpha"), alpha <= 0 {
            issues.append(ParamIssue(param: "lora_alpha", message: "lora_alpha must be above 0: the update is scaled by alpha/r, so 0 would train nothing"))
        }
        let targets = p["lora_targets"]?.arrayValue ?? []
        if [.lora, .qlora].contains(method(p)) && targets.isEmpty {
            issues.append(ParamIssue(param: "lora_targets", message: "LoRA needs at least one projection to adapt"))
        }
        if Set(targets).count != targets.count {
            issues.append(ParamIssue(param: "lora_targets", message: "a projection is listed twice"))
        }
        if method(p) == .freeze, p.int("train_layers") == 0, p.bool("train_norms") != true, (p["train_tensors"]?.arrayValue ?? []).isEmpty {
            issues.append(ParamIssue(param: "train_layers", message: "with train_layers 0, no train_norms and no train_tensors nothing would train"))
        }
        return issues
    }

    /// The block format QLoRA keeps the base in, or nil for the other methods.
    static func quantFormat(_ p: Params) -> BlockMatrix.Format? {
        method(p) == .qlora ? BlockMatrix.Format(rawValue: p.string("quant") ?? "q4_1") ?? .q4_1 : nil
    }

    /// What trains, for a model with `config`. Throws when a `train_tensors` pattern names nothing.
    static func tuning(_ p: Params, config: ModelConfig, loraKey: UInt64) throws -> Tuning {
        var t = Tuning()
        t.loraKey = loraKey
        switch method(p) {
        case .full: break
        case .lora, .qlora:
            var l = LoRAConfig()
            l.rank = p.int("lora_rank") ?? 8
            l.alpha = Float(p.double("lora_alpha") ?? 16)
            l.dropout = Float(p.double("lora_dropout") ?? 0)
            let names = Set((p["lora_targets"]?.arrayValue ?? []).compactMap(\.stringValue))
            l.targets = Projection.allCases.filter { names.contains($0.rawValue) }
            t.base = .none
            t.lora = l
        case .freeze:
            t.base = .only(try frozenSelection(p, config: config))
        case .adapter:
            t.base = .only(BottleneckAdapter.names(config))
        case .prompt:
            t.base = .only([PromptTuning.tensorName])
        case .prefix:
            t.base = .only([PrefixTuning.tensorName])
        }
        return t
    }

    /// The model `adapter` and `prompt` train: the base with adapters of width `adapter_size`
    /// (or `virtual_tokens` prompt embeddings) added, or as it is when it already has them in
    /// that size (a model such a stage wrote).
    static func withAddedTensors(_ p: Params, config: ModelConfig, weights: Buffer, key: UInt64) throws -> (config: ModelConfig, weights: Buffer) {
        switch method(p) {
        case .adapter:
            let m = p.int("adapter_size") ?? 64
            if config.adapterSize == 0 { return BottleneckAdapter.adding(to: config, weights: weights, size: m, key: key) }
            guard config.adapterSize == m else {
                throw StageFailure("the base model already has bottleneck adapters of size \(config.adapterSize); set adapter_size: \(config.adapterSize) to go on training them")
            }
        case .prompt, .prefix:
            let n = p.int("virtual_tokens") ?? 20, prefix = method(p) == .prefix
            if config.virtualTokens == 0 {
                return prefix ? try PrefixTuning.adding(to: config, weights: weights, count: n, key: key)
                              : PromptTuning.adding(to: config, weights: weights, count: n, key: key)
            }
            guard config.virtualTokens == n, config.prefixTuning == prefix else {
                throw StageFailure("the base model already has \(config.virtualTokens) virtual tokens for \(config.prefixTuning ? "prefix" : "prompt") tuning; go on with method: \(config.prefixTuning ? "prefix" : "prompt") and virtual_tokens: \(config.virtualTokens)")
            }
        default: break
        }
        return (config, weights)
    }

    /// The tensors `freeze` trains.
    static func frozenSelection(_ p: Params, config: ModelConfig) throws -> Set<String> {
        let names = ParameterLayout(config).tensors.map(\.name)
        var chosen = Set<String>()
        let last = min(p.int("train_layers") ?? 2, config.layers)
        for l in (config.layers - last)..<config.layers {
            chosen.formUnion(names.filter { $0.hasPrefix("model.layers.\(l).") })
        }
        if p.bool("train_norms") == true { chosen.formUnion(names.filter { $0.hasSuffix("norm.weight") }) }
        for pattern in (p["train_tensors"]?.arrayValue ?? []).compactMap(\.stringValue) {
            let hits = names.filter { globMatches(pattern, $0) }
            guard !hits.isEmpty else {
                throw StageFailure("train_tensors: '\(pattern)' names no tensor of this model (its tensors are named like \(names.prefix(3).joined(separator: ", ")), …, model.norm.weight)")
            }
            chosen.formUnion(hits)
        }
        return chosen
    }

    /// `*` matches any run of characters (dots included); everything else matches itself.
    static func globMatches(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return pattern == text }
        guard text.hasPrefix(parts[0]), let lastPart = parts.last, text.dropFirst(parts[0].count).hasSuffix(lastPart),
              parts[0].count + lastPart.count <= text.count else { return false }
        var rest = Substring(text.dropFirst(parts[0].count).dropLast(lastPart.count))
        for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
            guard let r = rest.range(of: middle) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }
}
