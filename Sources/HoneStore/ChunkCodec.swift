import CZlib
import Foundation

/// How one chunk of an object is stored. The object's name never depends on this: it is the
/// SHA-256 of the uncompressed bytes.
///
/// zlib on fp32 weights saves 7% at 32 MB/s (../shared/bench/README.md): the mantissa bytes are
/// noise, and deflate's match search finds nothing in them. So each chunk is looked at first:
/// - float-like data (a 4-byte byte-shuffle leaves planes of very different entropy) is split
///   into its 4 byte planes; planes whose byte histogram is skewed are Huffman-coded (no match
///   search: fast), noisy planes are stored as they are;
/// - other data (text, token ids) gets deflate level 1 when a trial on a sample pays;
/// - incompressible data is stored raw.
enum ChunkCodec {
    static let chunkSize = 4 << 20

    enum Plane: UInt8 { case raw = 0, deflate = 1, huffman = 2 }

    /// Encodes `chunk` into `out`: [u8 shuffle width][u8 plane count] then per plane
    /// [u8 method][u32 stored length][bytes].
    static func encode(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8], scratch: inout [UInt8]) {
        let n = chunk.count
        let width = n >= 4096 && n % 4 == 0 ? floatWidth(chunk) : 1
        out.append(UInt8(width))
        out.append(UInt8(width))
        if width == 1 {
            let method: Plane = n >= 256 && deflateSamplePays(chunk) ? .deflate : .raw
            appendPlane(chunk, method: method, into: &out)
            return
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: repeatElement(0, count: n))
        scratch.withUnsafeMutableBytes { planes in shuffle(chunk, width: width, into: planes) }
        let planeSize = n / width
        scratch.withUnsafeBytes { planes in
            for p in 0..<width {
                let plane = UnsafeRawBufferPointer(rebasing: planes[(p * planeSize)..<((p + 1) * planeSize)])
                let bits = entropyBits(plane)
                appendPlane(plane, method: bits < 7.6 ? .huffman : .raw, into: &out)
            }
        }
    }

    /// Decodes one encoded chunk (as written by `encode`) into `out`, which must hold `rawCount` bytes.
    static func decode(_ encoded: UnsafeRawBufferPointer, rawCount: Int, into out: UnsafeMutableRawBufferPointer,
                       scratch: inout [UInt8]) throws {
        guard encoded.count >= 2 else { throw StoreError.corruptEncoding("chunk header") }
        let width = Int(encoded[0]), planes = Int(encoded[1])
        guard width >= 1, planes == width, rawCount % width == 0 else { throw StoreError.corruptEncoding("chunk planes") }
        let planeSize = rawCount / width
        var offset = 2
        func readPlane(into dest: UnsafeMutableRawBufferPointer) throws {
            guard offset + 5 <= encoded.count, let method = Plane(rawValue: encoded[offset]) else {
                throw StoreError.corruptEncoding("plane header")
            }
            let stored = Int(readU32(encoded, offset + 1))
            offset += 5
            guard offset + stored <= encoded.count else { throw StoreError.corruptEncoding("plane length") }
            let body = UnsafeRawBufferPointer(rebasing: encoded[offset..<(offset + stored)])
            offset += stored
            switch method {
            case .raw:
                guard stored == dest.count else { throw StoreError.corruptEncoding("raw plane length") }
                dest.copyMemory(from: body)
            case .deflate, .huffman:
                try inflate(body, into: dest)
            }
        }
        if width == 1 {
            try readPlane(into: out)
            return
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: repeatElement(0, count: rawCount))
        try scratch.withUnsafeMutableBytes { planesBuf in
            for p in 0..<width {
                try readPlane(into: UnsafeMutableRawBufferPointer(rebasing: planesBuf[(p * planeSize)..<((p + 1) * planeSize)]))
            }
            unshuffle(UnsafeRawBufferPointer(planesBuf), width: width, into: out)
        }
    }

    // MARK: choosing

    /// 4 when shuffling into 4 byte planes leaves some planes far more predictable than the raw
    /// bytes are (fp32 and int32 data), else 1.
    static func floatWidth(_ chunk: UnsafeRawBufferPointer) -> Int {
        let sample = UnsafeRawBufferPointer(rebasing: chunk[0..<min(chunk.count, 1 << 16) / 4 * 4])
        let raw = entropyBits(sample)
        var planeBits = 0.0
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 4)
        for i in 0..<sample.count { counts[i & 3][Int(sample[i])] += 1 }
        for c in counts { planeBits += entropy(c, total: sample.count / 4) }
        // Shuffling pays when the planes, coded apart, beat the mixed bytes by a clear margin.
        return planeBits / 4 < raw - 0.5 ? 4 : 1
    }

    static func deflateSamplePays(_ chunk: UnsafeRawBufferPointer) -> Bool {
        let size = min(chunk.count, 1 << 16)
        let start = (chunk.count - size) / 2
        let sample = UnsafeRawBufferPointer(rebasing: chunk[start..<(start + size)])
        var out: [UInt8] = []
        deflate(sample, strategy: Z_DEFAULT_STRATEGY, into: &out)
        return Double(out.count) < Double(size) * 0.9
    }

    static func entropyBits(_ bytes: UnsafeRawBufferPointer) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        counts.withUnsafeMutableBufferPointer { c in for b in bytes { c[Int(b)] += 1 } }
        return entropy(counts, total: bytes.count)
    }

    static func entropy(_ counts: [Int], total: Int) -> Double {
        guard total > 0 else { return 0 }
        var h = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / Double(total)
            h -= p * log2(p)
        }
        return h
    }

    // MARK: planes

    static func appendPlane(_ bytes: UnsafeRawBufferPointer, method: Plane, into out: inout [UInt8]) {
        if method != .raw {
            var packed: [UInt8] = []
            deflate(bytes, strategy: method == .huffman ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY, into: &packed)
            if packed.count < bytes.count {
                out.append(method.rawValue); appendU32(&out, UInt32(packed.count)); out.append(contentsOf: packed)
                return
            }
        }
        out.append(Plane.raw.rawValue); appendU32(&out, UInt32(bytes.count)); out.append(contentsOf: bytes)
    }

    static func shuffle(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        for i in 0..<n { for p in 0..<width { dst[p * n + i] = src[i * width + p] } }
    }

    static func unshuffle(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        for i in 0..<n { for p in 0..<width { dst[i * width + p] = src[p * n + i] } }
    }

    // MARK: zlib

    static func deflate(_ input: UnsafeRawBufferPointer, strategy: Int32, into out: inout [UInt8]) {
        var stream = z_stream()
        guard deflateInit2_(&stream, 1, Z_DEFLATED, 15, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        out = [UInt8](repeating: 0, count: bound)
        let written: Int = out.withUnsafeMutableBytes { dst in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = dst.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(bound)
            let rc = CZlib.deflate(&stream, Z_FINISH)
            return rc == Z_STREAM_END ? Int(stream.total_out) : -1
        }
        if written < 0 { out = []; return }
        out.removeSubrange(written...)
    }

    static func inflate(_ input: UnsafeRawBufferPointer, into dest: UnsafeMutableRawBufferPointer) throws {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw StoreError.corruptEncoding("zlib init")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = dest.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(dest.count)
        let rc = CZlib.inflate(&stream, Z_FINISH)
        guard rc == Z_STREAM_END, Int(stream.total_out) == dest.count else {
            throw StoreError.corruptEncoding("deflate stream")
        }
    }
}

func appendU32(_ out: inout [UInt8], _ v: UInt32) {
    withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
}

func appendU64(_ out: inout [UInt8], _ v: UInt64) {
    withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
}

func readU32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

func readU64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
    return v
}
