import Foundation
import HoneBase

/// Hugging Face safetensors (https://huggingface.co/docs/safetensors):
///
///     u64 n (little-endian), n bytes of JSON header, then the tensor bytes
///     header: {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
///              "__metadata__": {"format": "pt"}}   (offsets relative to the end of the header)
///
/// Hone writes F32 and reads F32, F16 and BF16 into fp32.
public enum Safetensors {
    public struct Tensor: Sendable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) { self.name = name; self.shape = shape; self.values = values }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let file: String, offset: Int, expected: String
        public var description: String { "\(file): at byte \(offset): expected \(expected)" }
    }

    /// Writes tensors in the order given, each 4-byte float32 little-endian, the header padded
    /// with spaces to a multiple of 8 bytes (as the reference implementation does).
    public static func write(_ tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)], metadata: [String: String] = [:],
                             to url: URL) throws {
        var header: [String: JSONValue] = [:]
        var offset = 0
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.data.count, "\(t.name): shape does not match its data")
            header[t.name] = .object(["dtype": .string("F32"), "shape": .array(t.shape.map { .int($0) }),
                                      "data_offsets": .array([.int(offset), .int(offset + t.data.count * 4)])])
            offset += t.data.count * 4
        }
        var meta = metadata
        meta["format"] = meta["format"] ?? "pt"
        header["__metadata__"] = .object(meta.mapValues { .string($0) })
        var json = Array(JSONValue.object(header).canonical.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw Failure(file: url.path, offset: 0, expected: "a writable path")
        }
        let h = try FileHandle(forWritingTo: url)
        defer { try? h.close() }
        var lead: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { lead += $0 }
        try h.write(contentsOf: lead + json)
        for t in tensors {
            if let base = t.data.baseAddress { try h.write(contentsOf: Data(bytes: base, count: t.data.count * 4)) }
        }
    }

    /// Reads every tensor, checking each header entry against the file's size.
    public static func read(_ url: URL) throws -> [String: Tensor] {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw Failure(file: file, offset: 0, expected: "a readable file (\(error.localizedDescription))")
        }
        guard data.count >= 8 else { throw Failure(file: file, offset: data.count, expected: "an 8-byte header length (file truncated)") }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(data.count - 8) else {
            throw Failure(file: file, offset: 0, expected: "a header length within the file's \(data.count) bytes, found \(n)")
        }
        let header: JSONValue
        do { header = try JSONValue.parse(data.subdata(in: 8..<(8 + Int(n)))) } catch {
            throw Failure(file: file, offset: 8, expected: "a JSON header (\(error))")
        }
        guard let entries = header.objectValue else { throw Failure(file: file, offset: 8, expected: "a JSON object header") }
        let start = 8 + Int(n)
        var out: [String: Tensor] = [:]
        for (name, e) in entries where name != "__metadata__" {
            guard let dtype = e["dtype"]?.stringValue, let shapeItems = e["shape"]?.arrayValue,
                  let offItems = e["data_offsets"]?.arrayValue, offItems.count == 2 else {
                throw Failure(file: file, offset: 8, expected: "dtype, shape and data_offsets for tensor '\(name)'")
            }
            let shape = shapeItems.compactMap(\.intValue), offs = offItems.compactMap(\.intValue)
            guard shape.count == shapeItems.count, offs.count == 2, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }),
                  offs.allSatisfy({ $0 >= 0 && $0 < 1 << 50 }), offs[0] <= offs[1] else {
                throw Failure(file: file, offset: 8, expected: "non-negative integer shape and data_offsets for '\(name)', found \(e["shape"] ?? .null) and \(e["data_offsets"] ?? .null)")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw Failure(file: file, offset: 8, expected: "dtype F32, F16 or BF16 for '\(name)', found \(dtype)")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d)
                return (m.partialValue, acc.1 || m.overflow)
            }
            guard !overflow, offs[1] - offs[0] == count * width else {
                throw Failure(file: file, offset: 8, expected: "\(count * width) bytes for '\(name)' \(shape), found offsets \(offs)")
            }
            guard start + offs[1] <= data.count else {
                throw Failure(file: file, offset: data.count, expected: "tensor '\(name)' up to byte \(start + offs[1]) (file truncated)")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let p = raw.baseAddress.map { $0 + start + offs[0] }
                guard let p else { return }
                for i in 0..<count {
                    switch dtype {
                    case "F32": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case "BF16": values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    default: values[i] = Float(floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                }
            }
            out[name] = Tensor(name: name, shape: shape, values: values)
        }
        return out
    }
}

/// IEEE half precision to fp32, by hand (Float16 is not available on every Linux Swift target).
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31, exp = Int((h >> 10) & 0x1F), frac = UInt32(h & 0x3FF)
    if exp == 0 {
        if frac == 0 { return Float(bitPattern: sign) }
        let v = Float(frac) * 0x1p-24  // subnormal
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
}
