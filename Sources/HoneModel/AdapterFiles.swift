import Foundation
import HoneFormats
import HoneTensor

/// LoRA adapters and prompt- and prefix-tuning embeddings on disk as Hugging Face PEFT writes them, so
/// `PeftModel.from_pretrained` loads them over the base: `adapter_model.safetensors` (LoRA:
/// tensors named `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`; prompt
/// tuning: `prompt_embeddings` [P, d]; fp32) and `adapter_config.json`.
public enum AdapterFiles {
    public static let weightsName = "adapter_model.safetensors"
    public static let configName = "adapter_config.json"

    public static func save(_ lora: LoRA, baseModel: String? = nil, to folder: URL) throws {
        let tensors = lora.layout.tensors.map { t in
            (name: LoRA.peftPrefix + t.name, shape: t.shape, data: UnsafeBufferPointer(start: lora.weights.pointer + t.offset, count: t.count))
        }
        try Safetensors.write(tensors, to: folder.appendingPathComponent(weightsName))
        try Data((lora.peftConfig(baseModel: baseModel).pretty + "\n").utf8).write(to: folder.appendingPathComponent(configName))
    }

    /// The virtual tokens of a prompt- or prefix-tuned model (weights in `ParameterLayout(config)`),
    /// as PEFT's `prompt_embeddings` (prompt: [P, d]; prefix: [P, L·2·kv·D]).
    public static func saveVirtualTokens(config: ModelConfig, weights: Buffer, baseModel: String? = nil, to folder: URL) throws {
        guard let t = ParameterLayout(config)[config.prefixTuning ? PrefixTuning.tensorName : PromptTuning.tensorName] else { return }
        try Safetensors.write([(name: "prompt_embeddings", shape: t.shape, data: UnsafeBufferPointer(start: weights.pointer + t.offset, count: t.count))],
                              to: folder.appendingPathComponent(weightsName))
        let json = config.prefixTuning ? PrefixTuning.peftConfig(config, baseModel: baseModel) : PromptTuning.peftConfig(config, baseModel: baseModel)
        try Data((json.pretty + "\n").utf8).write(to: folder.appendingPathComponent(configName))
    }
}
