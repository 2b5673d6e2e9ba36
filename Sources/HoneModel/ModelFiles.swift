import Foundation
import HoneBase
import HoneFormats
import HoneTensor

/// A model on disk, as Hugging Face lays it out: `model.safetensors` (Llama tensor names, fp32)
/// and `config.json`, so `transformers` loads it and Hone loads it back. Larger checkpoints come
/// in shards, `model-00001-of-00002.safetensors` …, named tensor by tensor in
/// `model.safetensors.index.json` (its `weight_map`); Hone reads those too.
public enum ModelFiles {
    public static let weightsName = "model.safetensors"
    public static let configName = "config.json"
    public static let indexName = "model.safetensors.index.json"

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
        let tensors = try readTensors(folder)
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

    /// Every tensor of `model.safetensors`, or of the shards `model.safetensors.index.json` lists.
    static func readTensors(_ folder: URL) throws -> [String: Safetensors.Tensor] {
        let single = folder.appendingPathComponent(weightsName), index = folder.appendingPathComponent(indexName)
        guard !FileManager.default.fileExists(atPath: single.path), let data = FileManager.default.contents(atPath: index.path) else {
            return try Safetensors.read(single)
        }
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch { throw ModelError.weights("\(index.path): not JSON (\(error))") }
        guard let map = json["weight_map"]?.objectValue, !map.isEmpty else {
            throw ModelError.weights("\(index.path): no \"weight_map\" of tensor names to shard files")
        }
        var byFile: [String: [String]] = [:]
        for (name, file) in map {
            guard let file = file.stringValue, !file.contains("/") else {
                throw ModelError.weights("\(index.path): weight_map[\"\(name)\"] must name a shard file in the same folder, found \(file)")
            }
            byFile[file, default: []].append(name)
        }
        var out: [String: Safetensors.Tensor] = [:]
        for (file, names) in byFile.sorted(by: { $0.key < $1.key }) {
            let url = folder.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ModelError.weights("\(index.path): shard \(file) (holding \(names.sorted().first ?? "?") and \(names.count - 1) more) is missing")
            }
            let shard = try Safetensors.read(url)
            for name in names {
                guard let t = shard[name] else { throw ModelError.weights("\(url.path): no tensor '\(name)', which \(indexName) puts there") }
                out[name] = t
            }
        }
        return out
    }
}
