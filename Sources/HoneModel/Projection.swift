/// The seven linear projections of a Llama layer: what LoRA targets (by these names, as PEFT's
/// `target_modules` does) and what a quantized base keeps in blocks.
public enum Projection: String, CaseIterable, Sendable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj", gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// Position in `allCases`, for per-layer tables.
    public var index: Int {
        switch self {
        case .q: return 0
        case .k: return 1
        case .v: return 2
        case .o: return 3
        case .gate: return 4
        case .up: return 5
        case .down: return 6
        }
    }

    /// The module path inside layer `l`, as Hugging Face names it: `model.layers.3.self_attn.q_proj`.
    public func module(layer l: Int) -> String {
        switch self {
        case .q, .k, .v, .o: return "model.layers.\(l).self_attn.\(rawValue)"
        case .gate, .up, .down: return "model.layers.\(l).mlp.\(rawValue)"
        }
    }

    /// The weight's name in a Hugging Face checkpoint.
    public func weightName(layer l: Int) -> String { module(layer: l) + ".weight" }

    /// (out features, in features): the weight is stored [out, in].
    public func shape(_ c: ModelConfig) -> (out: Int, in: Int) {
        let d = c.hiddenSize, hd = c.headDim
        switch self {
        case .q: return (c.heads * hd, d)
        case .k, .v: return (c.kv * hd, d)
        case .o: return (d, c.heads * hd)
        case .gate, .up: return (c.ffn, d)
        case .down: return (d, c.ffn)
        }
    }
}
