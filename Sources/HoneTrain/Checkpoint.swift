import Foundation
import HoneBase
import HoneModel
import HoneTensor

/// A training checkpoint: everything a resumed run needs to end with the same bytes as a run
/// never stopped — weights, optimizer moments, the best weights so far, the step, the data
/// cursor, the schedule and early-stopping state and the metric history. (Randomness needs no
/// saved state: data order and dropout masks are pure functions of their keys and the step.)
///
///     "HONECKP1", u64 header length n, n bytes of JSON (the state), then the float32 arrays
///     named in the header's "arrays", in order, little-endian
///
/// Written to a temporary name, synced and renamed, so a kill at any point leaves either the
/// previous checkpoints or the new one, never half a file.
public struct Checkpoint {
    public static let magic = Array("HONECKP1".utf8)

    public var state: JSONValue
    /// Named arrays. One array may be written from several pieces: the tensors that train need
    /// not sit together (freezing), and gathering them first would double their memory.
    public var arrays: [(name: String, pieces: [UnsafeBufferPointer<Float>])]
    /// The buffers behind the arrays of a checkpoint read from disk.
    var owned: [String: Buffer] = [:]

    public init(state: JSONValue, arrays: [(name: String, pieces: [UnsafeBufferPointer<Float>])]) {
        self.state = state; self.arrays = arrays
    }

    public init(state: JSONValue, arrays: [(name: String, buffer: Buffer)]) {
        self.init(state: state, arrays: arrays.map { ($0.name, [UnsafeBufferPointer($0.buffer.buffer)]) })
        for (name, b) in arrays { owned[name] = b }
    }

    public static func fileName(step: Int) -> String { String(format: "checkpoint-%08d.hck", step) }

    /// Writes atomically into `folder`, then deletes the oldest checkpoints beyond `keep`.
    public func write(to folder: URL, step: Int, keep: Int) throws {
        var header = state.objectValue ?? [:]
        header["arrays"] = .array(arrays.map { a in .object(["name": .string(a.name), "count": .int(a.pieces.reduce(0) { $0 + $1.count })]) })
        let json = Array(JSONValue.object(header).canonical.utf8)
        let final = folder.appendingPathComponent(Self.fileName(step: step))
        let tmp = folder.appendingPathComponent(".\(Self.fileName(step: step)).tmp")
        try? FileManager.default.removeItem(at: tmp)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw CheckpointError("cannot create \(tmp.path)")
        }
        let h = try FileHandle(forWritingTo: tmp)
        defer { try? h.close() }
        var lead = Self.magic
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { lead += $0 }
        try h.write(contentsOf: lead + json)
        for (_, pieces) in arrays {
            for p in pieces where p.count > 0 {
                guard let base = p.baseAddress else { continue }
                try h.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: p.count * 4, deallocator: .none))
            }
        }
        try h.synchronize()
        guard rename(tmp.path, final.path) == 0 else { throw CheckpointError("cannot rename \(tmp.path): errno \(errno)") }
        // The rename itself must reach the disk before older checkpoints go.
        let dir = open(folder.path, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
        Self.prune(folder, keep: keep)
    }

    /// Deletes all but the newest `keep` checkpoints (at least one stays).
    public static func prune(_ folder: URL, keep: Int) {
        for old in list(in: folder).dropLast(max(1, keep)) { try? FileManager.default.removeItem(at: old.url) }
    }

    /// Checkpoints in `folder`, oldest first.
    public static func list(in folder: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".hck"),
                  let step = Int(name.dropFirst("checkpoint-".count).dropLast(4)) else { return nil }
            return (step, folder.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Reads a checkpoint, checking its header and that its size matches the arrays it names.
    public static func read(_ url: URL) throws -> Checkpoint {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        guard data.count >= 16, Array(data.prefix(8)) == magic else { throw CheckpointError("\(url.path): not a Hone checkpoint (no HONECKP1 header)") }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        guard n <= UInt64(data.count - 16) else { throw CheckpointError("\(url.path): header length \(n) runs past the end of the file") }
        let state = try JSONValue.parse(data.subdata(in: 16..<(16 + Int(n))))
        var offset = 16 + Int(n)
        var arrays: [(String, Buffer)] = []
        for item in state["arrays"]?.arrayValue ?? [] {
            guard let name = item["name"]?.stringValue, let count = item["count"]?.intValue, count >= 0,
                  offset + count * 4 <= data.count else {
                throw CheckpointError("\(url.path): at byte \(offset): expected array \(item) (file truncated?)")
            }
            let b = Buffer(count)
            data.withUnsafeBytes { raw in if let base = raw.baseAddress { memcpy(b.pointer, base + offset, count * 4) } }
            offset += count * 4
            arrays.append((name, b))
        }
        guard offset == data.count else { throw CheckpointError("\(url.path): \(data.count - offset) bytes after the last array") }
        return Checkpoint(state: state, arrays: arrays)
    }

    /// An array of a checkpoint read from disk.
    public func array(_ name: String) -> Buffer? { owned[name] }

    /// The model a checkpoint holds, to start another stage from: its best weights when early
    /// stopping kept some (what the stage's `model` output holds), else its current ones.
    public func model() throws -> (config: ModelConfig, weights: Buffer) {
        if let tuning = state["tuning"], tuning["base"]?.stringValue != "all" || tuning["lora"] != nil {
            throw CheckpointError("the checkpoint holds only the tensors its stage trained (LoRA or freezing), not a whole model; start from the stage's model output instead")
        }
        guard let json = state["config"], let weights = array("best_weights") ?? array("weights") else {
            throw CheckpointError("the checkpoint holds no model config or weights")
        }
        let config = try ModelConfig(hfJSON: json)
        guard weights.count == ParameterLayout(config).count else {
            throw CheckpointError("the checkpoint's weights do not match its config")
        }
        return (config, weights)
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension Checkpoint {
    /// What every training loop's checkpoint holds besides its own state: the trained values
    /// ("weights") and the optimizer's moments ("m", and "v" for Adam).
    static func trainingArrays(_ model: Model, _ optimizer: Optimizer) -> [(name: String, pieces: [UnsafeBufferPointer<Float>])] {
        var arrays = [("weights", model.trainable.map { UnsafeBufferPointer(start: $0.weights, count: $0.count) }),
                      ("m", [UnsafeBufferPointer(optimizer.m.buffer)])]
        if optimizer.v.count > 0 { arrays.append(("v", [UnsafeBufferPointer(optimizer.v.buffer)])) }
        return arrays
    }

    /// The state keys that say which model a checkpoint fits.
    static func trainingState(_ model: Model, _ optimizer: Optimizer) -> [String: JSONValue] {
        ["trainable_count": .int(model.trainableCount), "tuning": model.tuning.json, "optimizer_steps": .int(optimizer.steps)]
    }

    /// Puts the trained values and the optimizer's moments and step count back; throws
    /// `mismatch` when the checkpoint was made for another model or tuning.
    func restoreTraining(_ model: Model, _ optimizer: Optimizer, mismatch: String) throws {
        guard state["trainable_count"]?.intValue == model.trainableCount, state["tuning"] == model.tuning.json,
              let w = array("weights"), w.count == model.trainableCount, let m = array("m"), m.count == optimizer.m.count else {
            throw TrainError(mismatch)
        }
        model.restoreTrainable(from: w)
        optimizer.m.pointer.update(from: m.pointer, count: m.count)
        if optimizer.v.count > 0 {
            guard let v = array("v"), v.count == optimizer.v.count else { throw TrainError("the checkpoint has no second moments") }
            optimizer.v.pointer.update(from: v.pointer, count: v.count)
        }
        optimizer.steps = state["optimizer_steps"]?.intValue ?? 0
    }
}
