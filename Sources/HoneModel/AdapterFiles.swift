import Foundation
import HoneFormats
import HoneTensor

/// LoRA adapters and prompt-tuning embeddings on disk as Hugging Face PEFT writes them, so
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

    /// The virtual tokens of a prompt-tuned model (weights in `ParameterLayout(config)`).
    public static func savePrompt(config: ModelConfig, weights: Buffer, baseModel: String? = nil, to folder: URL) throws {
        guard let t = ParameterLayout(config)[PromptTuning.tensorName] else { return }
        try Safetensors.write([(name: PromptTuning.tensorName, shape: t.shape, data: UnsafeBufferPointer(start: weights.pointer + t.offset, count: t.count))],
                              to: folder.appendingPathComponent(weightsName))
        try Data((PromptTuning.peftConfig(config, baseModel: baseModel).pretty + "\n").utf8).write(to: folder.appendingPathComponent(configName))
    }
}
