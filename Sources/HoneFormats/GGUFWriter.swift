import Foundation

/// Writes GGUF v3 files: key/values, then tensors given as raw blocks of their type, aligned to 32
/// bytes. Used to build test files and (later) to export quantized models.
public struct GGUFWriter {
    var metadata: [(String, GGUF.Value, UInt32)] = []
    var tensors: [(name: String, dims: [Int], type: GGUF.TensorType, bytes: [UInt8])] = []

    public init() {}

    public mutating func set(_ key: String, _ value: GGUF.Value) {
        metadata.append((key, value, Self.typeCode(value)))
    }

    /// `bytes` are the tensor's blocks in `type`'s layout; dims in GGUF order (dims[0] fastest).
    public mutating func add(_ name: String, dims: [Int], type: GGUF.TensorType, bytes: [UInt8]) {
        tensors.append((name, dims, type, bytes))
    }

    public mutating func add(_ name: String, dims: [Int], floats: [Float]) {
        var b: [UInt8] = []
        b.reserveCapacity(floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { b += $0 } }
        add(name, dims: dims, type: .f32, bytes: b)
    }

    static func typeCode(_ v: GGUF.Value) -> UInt32 {
        switch v {
        case .uint: return 4
        case .int: return 5
        case .float: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        }
    }

    public func data() -> Data {
        var out: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func value(_ v: GGUF.Value) {
            switch v {
            case let .uint(x): u32(UInt32(truncatingIfNeeded: x))
            case let .int(x): u32(UInt32(bitPattern: Int32(truncatingIfNeeded: x)))
            case let .float(x): u32(Float(x).bitPattern)
            case let .bool(x): out.append(x ? 1 : 0)
            case let .string(s): str(s)
            case let .array(items):
                u32(items.first.map(Self.typeCode) ?? 4)
                u64(UInt64(items.count))
                for i in items { value(i) }
            }
        }
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v, t) in metadata { str(k); u32(t); value(v) }
        var offset = 0
        for t in tensors {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset = (offset + t.bytes.count + 31) / 32 * 32
        }
        while out.count % 32 != 0 { out.append(0) }
        for t in tensors {
            out += t.bytes
            while out.count % 32 != 0 { out.append(0) }
        }
        return Data(out)
    }
}
