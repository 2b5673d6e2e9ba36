import Foundation
import HoneBase
import HoneFormats
import HoneModel
import HoneTensor
import Testing

/// Model folders as Hugging Face writes them, one file or sharded.
@Suite struct ModelFilesTests {
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-model-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The tensors split over two shards with an index, as transformers' save_pretrained does
    /// past its shard size: the same weights come back; a missing shard is named.
    @Test func aShardedCheckpointLoadsAsTheSingleFileDoes() throws {
        var c = ModelConfig(vocabSize: 19)
        c.hiddenSize = 16; c.layers = 2; c.heads = 2; c.kvHeads = 2; c.intermediateSize = 24; c.maxPositions = 8
        let layout = ParameterLayout(c)
        let w = initialWeights(layout, config: c, key: 4)
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFiles.save(config: c, weights: w, to: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(ModelFiles.weightsName))
        var map: [String: JSONValue] = [:]
        for (k, part) in [layout.tensors.prefix(5), layout.tensors.dropFirst(5)].enumerated() {
            let file = "model-0000\(k + 1)-of-00002.safetensors"
            try Safetensors.write(part.map { t in (name: t.name, shape: t.shape, data: UnsafeBufferPointer(start: w.pointer + t.offset, count: t.count)) },
                                  to: dir.appendingPathComponent(file))
            for t in part { map[t.name] = .string(file) }
        }
        let index: JSONValue = .object(["metadata": .object(["total_size": .int(layout.count * 4)]), "weight_map": .object(map)])
        try Data(index.pretty.utf8).write(to: dir.appendingPathComponent(ModelFiles.indexName))
        let loaded = try ModelFiles.load(dir)
        #expect(loaded.config == c)
        #expect(Array(loaded.weights.buffer) == Array(w.buffer))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        #expect {
            _ = try ModelFiles.load(dir)
        } throws: { error in
            "\(error)".contains("shard model-00002-of-00002.safetensors") && "\(error)".contains("is missing")
        }
    }
}
