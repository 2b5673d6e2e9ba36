/// A matrix in one of GGML's block formats: each row cut into blocks of 32 values, each block one
/// or two fp16 numbers and 32 small integers (../shared/REFERENCE.md §2). What llama.cpp users
/// have on disk, and what a QLoRA base stays in: 4-bit blocks take 5/32 of fp32's memory.
///
///     Q8_0  34 bytes: d (f16), 32 × int8 q            x = d·q
///     Q4_0  18 bytes: d (f16), 16 bytes of nibbles     x = d·(q − 8)
///     Q4_1  20 bytes: d, m (f16), 16 bytes of nibbles  x = d·q + m
///
/// A nibble byte j holds value j in its low half and value j + 16 in its high half.
public struct BlockMatrix: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case q8_0, q4_0, q4_1
        public var blockBytes: Int {
            switch self {
            case .q8_0: return 34
            case .q4_0: return 18
            case .q4_1: return 20
            }
        }
    }

    public static let blockSize = 32
    public let format: Format
    public let rows: Int, columns: Int
    public let bytes: [UInt8]
    public var bytesPerRow: Int { columns / Self.blockSize * format.blockBytes }

    public init(format: Format, rows: Int, columns: Int, bytes: [UInt8]) {
        precondition(columns % Self.blockSize == 0 && bytes.count == rows * columns / Self.blockSize * format.blockBytes,
                     "block matrix size does not match its shape")
        self.format = format; self.rows = rows; self.columns = columns; self.bytes = bytes
    }

    /// Quantizes a row-major [rows, columns] matrix as ggml's reference quantizers do (the scale
    /// rounded to f16; a value's code from the fp32 scale). columns must be a multiple of 32.
    public static func quantize(_ x: UnsafePointer<Float>, rows: Int, columns: Int, format: Format) -> BlockMatrix {
        let blocks = rows * columns / blockSize
        var out = [UInt8](repeating: 0, count: blocks * format.blockBytes)
        out.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            for b in 0..<blocks {
                let v = x + b * blockSize, p = base + b * format.blockBytes
                func store(_ at: Int, _ f: Float) { p.storeBytes(of: halfFromFloat(f).littleEndian, toByteOffset: at, as: UInt16.self) }
                switch format {
                case .q8_0:
                    var amax: Float = 0
                    for j in 0..<blockSize { amax = max(amax, abs(v[j])) }
                    let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
                    store(0, d)
                    for j in 0..<blockSize { p.storeBytes(of: Int8(code((v[j] * id).rounded(), -128, 127)), toByteOffset: 2 + j, as: Int8.self) }
                case .q4_0:
                    // The value of largest magnitude, sign kept, maps to −8.
                    var amax: Float = 0, mx: Float = 0
                    for j in 0..<blockSize where abs(v[j]) > amax { amax = abs(v[j]); mx = v[j] }
                    let d = mx / -8, id: Float = d != 0 ? 1 / d : 0
                    store(0, d)
                    for j in 0..<16 {
                        let lo = code((v[j] * id + 8.5).rounded(.towardZero), 0, 15), hi = code((v[j + 16] * id + 8.5).rounded(.towardZero), 0, 15)
                        p.storeBytes(of: UInt8(lo) | UInt8(hi) << 4, toByteOffset: 2 + j, as: UInt8.self)
                    }
                case .q4_1:
                    var lo = Float.infinity, hi = -Float.infinity
                    for j in 0..<blockSize { lo = min(lo, v[j]); hi = max(hi, v[j]) }
                    let d = (hi - lo) / 15, id: Float = d != 0 ? 1 / d : 0
                    store(0, d); store(2, lo)
                    for j in 0..<16 {
                        let a = code(((v[j] - lo) * id + 0.5).rounded(.towardZero), 0, 15), b = code(((v[j + 16] - lo) * id + 0.5).rounded(.towardZero), 0, 15)
                        p.storeBytes(of: UInt8(a) | UInt8(b) << 4, toByteOffset: 4 + j, as: UInt8.self)
                    }
                }
            }
        }
        return BlockMatrix(format: format, rows: rows, columns: columns, bytes: out)
    }

    /// An already rounded code, clamped (ggml: roundf for Q8_0, a float add of 0.5 or 8.5 then
    /// truncation for Q4_1 and Q4_0 — the add rounds first, so the two differ just below a half);
    /// NaN gives 0 instead of a trap.
    static func code(_ x: Float, _ lo: Int, _ hi: Int) -> Int {
        guard x.isFinite else { return x.isNaN ? 0 : (x > 0 ? hi : lo) }
        return max(lo, min(hi, Int(x)))
    }

    /// Writes rows `range` in fp32 to `out` (row-major, `columns` wide).
    public func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            Self.dequantize(format, base + range.lowerBound * bytesPerRow, blocks: range.count * columns / Self.blockSize, into: out)
        }
    }

    /// `blocks` consecutive blocks at `p` into fp32.
    static func dequantize(_ format: Format, _ p: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        func half(_ at: Int) -> Float { floatFromHalf(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        switch format {
        case .q8_0:
            for b in 0..<blocks {
                let at = b * 34, d = half(at), o = out + b * 32
                for j in 0..<32 { o[j] = d * Float(p.load(fromByteOffset: at + 2 + j, as: Int8.self)) }
            }
        case .q4_0:
            for b in 0..<blocks {
                let at = b * 18, d = half(at), o = out + b * 32
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: at + 2 + j, as: UInt8.self)
                    o[j] = d * Float(Int(q & 0xF) - 8)
                    o[j + 16] = d * Float(Int(q >> 4) - 8)
                }
            }
        case .q4_1:
            for b in 0..<blocks {
                let at = b * 20, d = half(at), m = half(at + 2), o = out + b * 32
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: at + 4 + j, as: UInt8.self)
                    o[j] = d * Float(q & 0xF) + m
                    o[j + 16] = d * Float(q >> 4) + m
                }
            }
        }
    }

    /// The same matrix with its rows reordered: row i of the result is row `order[i]` of this one.
    /// Blocks never cross rows, so this moves bytes and loses nothing.
    public func reorderingRows(_ order: [Int]) -> BlockMatrix {
        precondition(order.count == rows)
        let n = bytesPerRow
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        for r in order { out += bytes[(r * n)..<((r + 1) * n)] }
        return BlockMatrix(format: format, rows: rows, columns: columns, bytes: out)
    }
}

/// fp32 to IEEE half, rounding to nearest even (as numpy and ggml's converters do); values past
/// the half range become infinities.
public func halfFromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF), mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {
        // Subnormal half (or zero): shift the full mantissa into place, rounding to even.
        if e < -10 { return sign }
        let m = mant | 0x80_0000
        let shift = UInt32(14 - e)
        var h = m >> shift
        let rest = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
        if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e) << 10 | mant >> 13
    let rest = mant & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }  // a carry into the exponent is right
    return sign | UInt16(h)
}
