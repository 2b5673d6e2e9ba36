import Foundation
import HoneFormats

/// LoRA adapters on disk as Hugging Face PEFT writes them, so `PeftModel.from_pretrained` loads
/// them over the base: `adapter_model.safetensors` (tensors named
/// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`, fp32) and
/// `adapter_config.json`.
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
}
