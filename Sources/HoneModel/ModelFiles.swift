import Foundation
import HoneBase
import HoneFormats
import HoneTensor

/// A model on disk, as Hugging Face lays it out: `model.safetensors` (Llama tensor names, fp32)
/// and `config.json`, so `transformers` loads it and Hone loads it back.
public enum ModelFiles {
    public static let weightsName = "model.safetensors"
    public static let configName = "config.json"

    public static func save(config: ModelConfig, weights: Buffer, to folder: URL) throws {
        let layout = ParameterLayout(config)
        let tensors = layout.tensors.map { t in
            (name: t.name, shape: t.shape, data: UnsafeBufferPointer(start: weights.pointer + t.offset, count: t.count))
        }
        try Safetensors.write(tensors, to: folder.appendingPathComponent(weightsName))
        try Data((config.hfJSON.pretty + "\n").utf8).write(to: folder.appendingPathComponent(configName))
    }

    /// Reads a folder written by `save` or by `transformers` (safetensors + config.json).
    public static func load(_ folder: URL) throws -> (config: ModelConfig, weights: Buffer) {
        let configURL = folder.appendingPathComponent(configName)
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelError.weights("\(folder.path): no \(configName) (a model folder holds config.json and model.safetensors)")
        }
        let config = try ModelConfig(hfJSON: try JSONValue.parse(data))
        let tensors = try Safetensors.read(folder.appendingPathComponent(weightsName))
        let layout = ParameterLayout(config)
        let weights = Buffer(layout.count)
        for t in layout.tensors {
            guard let found = tensors[t.name] else {
                throw ModelError.weights("\(folder.path)/\(weightsName): no tensor '\(t.name)' (shape \(t.shape)), which config.json implies")
            }
            guard found.shape == t.shape else {
                throw ModelError.weights("\(folder.path)/\(weightsName): '\(t.name)' has shape \(found.shape), config.json implies \(t.shape)")
            }
            found.values.withUnsafeBufferPointer { src in
                if let base = src.baseAddress { (weights.pointer + t.offset).update(from: base, count: t.count) }
            }
        }
        return (config, weights)
    }
}
