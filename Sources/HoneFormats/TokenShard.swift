import Foundation

/// Token shards: what the tokenize stage writes and the training stages read (docs/token-shards.md).
///
///     NAME.tokens   "HONETOK1", u32 bytes per token (2 or 4), u32 0, u64 token count, tokens
///     NAME.index    "HONEIDX1", u64 document count n, n + 1 u64 token offsets
///     NAME.mask     "HONEMSK1", u64 token count, one byte per token: 1 in the loss, 0 not
///
/// All little-endian. Document i is tokens [offset[i], offset[i+1]). `.mask` exists for
/// supervised data (the loss covers only response tokens).
public enum TokenShard {
    public static let tokensMagic = Array("HONETOK1".utf8)
    public static let indexMagic = Array("HONEIDX1".utf8)
    public static let maskMagic = Array("HONEMSK1".utf8)

    public struct Failure: Error, CustomStringConvertible {
        public let file: String, offset: Int, expected: String
        public var description: String { "\(file): at byte \(offset): expected \(expected)" }
    }

    /// Writes a shard document by document, streaming the tokens and the mask.
    public final class Writer {
        let base: String
        let width: Int
        let tokens: FileHandle
        let mask: FileHandle?
        var offsets: [UInt64] = [0]
        var buffer: [UInt8] = []
        var maskBuffer: [UInt8] = []
        public private(set) var tokenCount: UInt64 = 0
        public private(set) var lossTokens: UInt64 = 0

        /// `base` is the path without extension; `vocabSize` decides uint16 or uint32.
        public init(base: String, vocabSize: Int, withMask: Bool) throws {
            self.base = base
            width = vocabSize <= 65_536 ? 2 : 4
            tokens = try Writer.create(base + ".tokens")
            mask = withMask ? try Writer.create(base + ".mask") : nil
            var header = TokenShard.tokensMagic
            header += le(UInt32(width)) + le(UInt32(0)) + le(UInt64(0))
            try tokens.write(contentsOf: header)
            if let mask { try mask.write(contentsOf: TokenShard.maskMagic + le(UInt64(0))) }
        }

        static func create(_ path: String) throws -> FileHandle {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
            return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }

        /// One document; `loss` (same length) marks the tokens in the loss.
        public func add(_ ids: [Int], loss: [Bool]? = nil) throws {
            for id in ids {
                if width == 2 { buffer += le(UInt16(truncatingIfNeeded: id)) } else { buffer += le(UInt32(truncatingIfNeeded: id)) }
            }
            if mask != nil {
                let l = loss ?? [Bool](repeating: true, count: ids.count)
                for b in l { maskBuffer.append(b ? 1 : 0); if b { lossTokens += 1 } }
            }
            tokenCount += UInt64(ids.count)
            offsets.append(tokenCount)
            if buffer.count > 1 << 20 { try flush() }
        }

        func flush() throws {
            try tokens.write(contentsOf: buffer); buffer.removeAll(keepingCapacity: true)
            if let mask { try mask.write(contentsOf: maskBuffer); maskBuffer.removeAll(keepingCapacity: true) }
        }

        public var documents: Int { offsets.count - 1 }

        public func close() throws {
            try flush()
            try tokens.seek(toOffset: 16)
            try tokens.write(contentsOf: le(tokenCount))
            try tokens.close()
            if let mask {
                try mask.seek(toOffset: 8)
                try mask.write(contentsOf: le(tokenCount))
                try mask.close()
            }
            var index = TokenShard.indexMagic + le(UInt64(offsets.count - 1))
            for o in offsets { index += le(o) }
            try Data(index).write(to: URL(fileURLWithPath: base + ".index"))
        }
    }

    public struct Shard: Sendable, Equatable {
        public let tokens: [UInt32]
        public let offsets: [UInt64]
        public let mask: [UInt8]?
        public var documents: Int { offsets.count - 1 }
        public init(tokens: [UInt32], offsets: [UInt64], mask: [UInt8]?) {
            self.tokens = tokens; self.offsets = offsets; self.mask = mask
        }
        public func document(_ i: Int) -> ArraySlice<UInt32> { tokens[Int(offsets[i])..<Int(offsets[i + 1])] }
    }

    /// Reads and checks a shard; every problem names the file, the byte offset and what was
    /// expected there.
    public static func read(base: String) throws -> Shard {
        func load(_ path: String) throws -> [UInt8] {
            guard let d = FileManager.default.contents(atPath: path) else { throw Failure(file: path, offset: 0, expected: "a readable file") }
            return [UInt8](d)
        }
        let t = try load(base + ".tokens")
        guard t.count >= 24, Array(t[0..<8]) == tokensMagic else { throw Failure(file: base + ".tokens", offset: 0, expected: "HONETOK1 and a 24-byte header") }
        let width = Int(u32(t, 8))
        guard width == 2 || width == 4 else { throw Failure(file: base + ".tokens", offset: 8, expected: "2 or 4 bytes per token, found \(width)") }
        let count = Int(u64(t, 16))
        guard t.count == 24 + count * width else {
            throw Failure(file: base + ".tokens", offset: t.count, expected: "\(24 + count * width) bytes for \(count) tokens (truncated?)")
        }
        var tokens = [UInt32](repeating: 0, count: count)
        for i in 0..<count { tokens[i] = width == 2 ? UInt32(t[24 + 2 * i]) | UInt32(t[25 + 2 * i]) << 8 : u32(t, 24 + 4 * i) }
        let x = try load(base + ".index")
        guard x.count >= 16, Array(x[0..<8]) == indexMagic else { throw Failure(file: base + ".index", offset: 0, expected: "HONEIDX1 and a document count") }
        let n = Int(u64(x, 8))
        guard x.count == 16 + (n + 1) * 8 else { throw Failure(file: base + ".index", offset: x.count, expected: "\(n + 1) offsets") }
        let offsets = (0...n).map { u64(x, 16 + 8 * $0) }
        for i in 0..<n where offsets[i] > offsets[i + 1] {
            throw Failure(file: base + ".index", offset: 16 + 8 * (i + 1), expected: "offsets that do not decrease")
        }
        guard offsets.first == 0, offsets.last == UInt64(count) else {
            throw Failure(file: base + ".index", offset: 16, expected: "offsets from 0 to the token count \(count)")
        }
        var mask: [UInt8]?
        if FileManager.default.fileExists(atPath: base + ".mask") {
            let m = try load(base + ".mask")
            guard m.count == 16 + count, Array(m[0..<8]) == maskMagic, u64(m, 8) == UInt64(count) else {
                throw Failure(file: base + ".mask", offset: 0, expected: "HONEMSK1 and one byte for each of \(count) tokens")
            }
            mask = Array(m[16...])
        }
        return Shard(tokens: tokens, offsets: offsets, mask: mask)
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}
