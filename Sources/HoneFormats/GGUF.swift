import Foundation

/// GGUF v3, llama.cpp's model file (../shared/REFERENCE.md §1–2): a header of typed key/values,
/// tensor infos, then the tensor data at an aligned offset. Hone reads F32, F16, BF16, Q8_0,
/// Q4_0 and Q4_1 tensors into fp32. Every problem names the file, the byte offset and what was
/// expected there; nothing in a malformed file can make the reader trap.
public struct GGUF {
    public enum Value: Equatable, Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String), array([Value])
        public var int: Int? {
            switch self {
            case let .int(v): return Int(exactly: v)
            case let .uint(v): return Int(exactly: v)
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case let .float(v): return v
            case let .int(v): return Double(v)
            case let .uint(v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case let .string(s) = self { return s }; return nil }
        public var array: [Value]? { if case let .array(a) = self { return a }; return nil }
    }

    public enum TensorType: UInt32, Sendable {
        case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30
        /// (elements per block, bytes per block)
        var block: (elements: Int, bytes: Int) {
            switch self {
            case .f32: return (1, 4)
            case .f16, .bf16: return (1, 2)
            case .q4_0: return (32, 18)
            case .q4_1: return (32, 20)
            case .q8_0: return (32, 34)
            }
        }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        /// GGUF order: dims[0] varies fastest, so [ne0, ne1] is row-major [ne1, ne0].
        public let dims: [Int]
        public let type: TensorType
        /// From the start of the file.
        public let offset: Int
        public let byteCount: Int
        public var count: Int { dims.reduce(1, *) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let file: String, offset: Int, expected: String
        public var description: String { "\(file): at byte \(offset): expected \(expected)" }
        public init(file: String, offset: Int, expected: String) { self.file = file; self.offset = offset; self.expected = expected }
    }

    public let path: String
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    /// Tensor names in file order.
    public let order: [String]
    let data: Data

    public init(url: URL) throws {
        path = url.path
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw Failure(file: url.path, offset: 0, expected: "a readable file (\(error.localizedDescription))")
        }
        var r = Reader(data: data, file: url.path)
        guard try r.bytes(4) == Array("GGUF".utf8) else { throw Failure(file: path, offset: 0, expected: "the magic GGUF") }
        let version = try r.u32()
        guard version == 3 else { throw Failure(file: path, offset: 4, expected: "GGUF version 3, found \(version)") }
        let tensorCount = try r.count(limit: 1 << 20, what: "a tensor count"), kvCount = try r.count(limit: 1 << 20, what: "a key/value count")
        var meta: [String: Value] = [:]
        for _ in 0..<kvCount {
            let key = try r.string()
            meta[key] = try r.value(type: try r.u32(), depth: 0)
        }
        var infos: [TensorInfo] = [], names: [String] = []
        var relative: [(Int, Int)] = []
        for _ in 0..<tensorCount {
            let at = r.at
            let name = try r.string()
            let nDims = Int(try r.u32())
            guard (1...4).contains(nDims) else { throw Failure(file: path, offset: at, expected: "1 to 4 dimensions for '\(name)', found \(nDims)") }
            var dims: [Int] = []
            for _ in 0..<nDims { dims.append(try r.count(limit: 1 << 32, what: "a dimension of '\(name)'")) }
            let typeAt = r.at, raw = try r.u32()
            guard let type = TensorType(rawValue: raw) else {
                throw Failure(file: path, offset: typeAt, expected: "tensor type F32, F16, BF16, Q8_0, Q4_0 or Q4_1 for '\(name)', found ggml type \(raw)")
            }
            let offset = try r.count(limit: 1 << 50, what: "the data offset of '\(name)'")
            var count = 1
            for d in dims {
                let (m, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, m < 1 << 40 else { throw Failure(file: path, offset: at, expected: "a size that fits for '\(name)' \(dims)") }
                count = m
            }
            let block = type.block
            guard dims[0] % block.elements == 0 else {
                throw Failure(file: path, offset: at, expected: "rows of '\(name)' a multiple of \(block.elements) elements (\(type)), found \(dims[0])")
            }
            relative.append((offset, count / block.elements * block.bytes))
            names.append(name)
            infos.append(TensorInfo(name: name, dims: dims, type: type, offset: 0, byteCount: 0))
        }
        let alignment = meta["general.alignment"]?.int ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw Failure(file: path, offset: 0, expected: "general.alignment a power of two, found \(alignment)")
        }
        let start = (r.at + alignment - 1) / alignment * alignment
        var table: [String: TensorInfo] = [:]
        for (i, info) in infos.enumerated() {
            let (off, bytes) = relative[i]
            guard start + off + bytes <= data.count else {
                throw Failure(file: path, offset: data.count, expected: "tensor '\(info.name)' up to byte \(start + off + bytes) (file truncated)")
            }
            table[info.name] = TensorInfo(name: info.name, dims: info.dims, type: info.type, offset: start + off, byteCount: bytes)
        }
        metadata = meta
        tensors = table
        order = names
    }

    /// A tensor's values in fp32, row-major [dims.last … dims[0]].
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw Failure(file: path, offset: 0, expected: "a tensor named '\(name)'") }
        var out = [Float](repeating: 0, count: t.count)
        out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress, let dst = o.baseAddress else { return }
                let p = base + t.offset
                switch t.type {
                case .f32:
                    for i in 0..<t.count { dst[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0..<t.count { dst[i] = floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .bf16:
                    for i in 0..<t.count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                case .q8_0: BlockMatrix.dequantize(.q8_0, p, blocks: t.count / 32, into: dst)
                case .q4_0: BlockMatrix.dequantize(.q4_0, p, blocks: t.count / 32, into: dst)
                case .q4_1: BlockMatrix.dequantize(.q4_1, p, blocks: t.count / 32, into: dst)
                }
            }
        }
        return out
    }

    /// A 2-D tensor stored in a block format, as its blocks (no dequantization); nil for F32,
    /// F16 and BF16 tensors.
    public func blocks(_ name: String) throws -> BlockMatrix? {
        guard let t = tensors[name] else { throw Failure(file: path, offset: 0, expected: "a tensor named '\(name)'") }
        let format: BlockMatrix.Format
        switch t.type {
        case .q8_0: format = .q8_0
        case .q4_0: format = .q4_0
        case .q4_1: format = .q4_1
        case .f32, .f16, .bf16: return nil
        }
        guard t.dims.count == 2 else { throw Failure(file: path, offset: t.offset, expected: "a 2-D tensor '\(name)', found dims \(t.dims)") }
        let bytes = [UInt8](data[(data.startIndex + t.offset)..<(data.startIndex + t.offset + t.byteCount)])
        return BlockMatrix(format: format, rows: t.dims[1], columns: t.dims[0], bytes: bytes)
    }

    /// Little-endian reads that throw at the end of the data instead of trapping.
    struct Reader {
        let data: Data, file: String
        var at = 0

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, at + n <= data.count else { throw Failure(file: file, offset: at, expected: "\(n) more bytes (file truncated)") }
            defer { at += n }
            return Array(data[(data.startIndex + at)..<(data.startIndex + at + n)])
        }
        mutating func u32() throws -> UInt32 { try bytes(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func u64() throws -> UInt64 { try bytes(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func count(limit: UInt64, what: String) throws -> Int {
            let here = at, v = try u64()
            guard v <= limit else { throw Failure(file: file, offset: here, expected: "\(what) up to \(limit), found \(v)") }
            return Int(v)
        }
        mutating func string() throws -> String {
            let here = at, n = try count(limit: 1 << 30, what: "a string length")
            guard let s = String(bytes: try bytes(n), encoding: .utf8) else { throw Failure(file: file, offset: here + 8, expected: "UTF-8 text") }
            return s
        }
        mutating func value(type: UInt32, depth: Int) throws -> Value {
            switch type {
            case 0: return .uint(UInt64(try bytes(1)[0]))
            case 1: return .int(Int64(Int8(bitPattern: try bytes(1)[0])))
            case 2: let b = try bytes(2); return .uint(UInt64(b[0]) | UInt64(b[1]) << 8)
            case 3: let b = try bytes(2); return .int(Int64(Int16(bitPattern: UInt16(b[0]) | UInt16(b[1]) << 8)))
            case 4: return .uint(UInt64(try u32()))
            case 5: return .int(Int64(Int32(bitPattern: try u32())))
            case 6: return .float(Double(Float(bitPattern: try u32())))
            case 7: return .bool(try bytes(1)[0] != 0)
            case 8: return .string(try string())
            case 9:
                let here = at
                guard depth < 2 else { throw Failure(file: file, offset: here, expected: "arrays nested at most twice") }
                let element = try u32(), n = try count(limit: 1 << 26, what: "an array length")
                var items: [Value] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try value(type: element, depth: depth + 1)) }
                return .array(items)
            case 10: return .uint(try u64())
            case 11: return .int(Int64(bitPattern: try u64()))
            case 12: return .float(Double(bitPattern: try u64()))
            default: throw Failure(file: file, offset: at - 4, expected: "a GGUF value type 0…12, found \(type)")
            }
        }
    }
}
