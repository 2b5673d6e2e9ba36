import Foundation

/// TensorBoard event files, written by hand: TFRecord framing (length, masked CRC-32C of the
/// length, the record, masked CRC-32C of the record) around `Event` protocol buffers — a
/// version event, then one scalar `Summary` per (step, tag). What `tensorboard` and its
/// EventAccumulator read.
struct TensorBoardEvents {
    private var bytes: [UInt8] = []

    init(wallTime: Double) {
        // Event{wall_time = 1, file_version = 3}
        record(field(1, double: wallTime) + field(3, bytes: Array("brain.Event:2".utf8)))
    }

    /// One scalar at a step: Event{wall_time, step = 2, summary = 5 {value = 1 {tag = 1, simple_value = 2}}}.
    mutating func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double) {
        let v = field(1, bytes: Array(tag.utf8)) + field(2, float: Float(value))
        let summary = field(1, bytes: v)
        record(field(1, double: wallTime) + field(2, varint: UInt64(bitPattern: Int64(step))) + field(5, bytes: summary))
    }

    func write(to folder: URL, name: String) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: folder.appendingPathComponent("events.out.tfevents.\(name)"))
    }

    private mutating func record(_ data: [UInt8]) {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        bytes += length + le32(Self.masked(length)) + data + le32(Self.masked(data))
    }

    private func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    private func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        return out + [UInt8(v)]
    }

    private func field(_ n: Int, varint v: UInt64) -> [UInt8] { varint(UInt64(n << 3)) + varint(v) }
    private func field(_ n: Int, double v: Double) -> [UInt8] { varint(UInt64(n << 3 | 1)) + withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
    private func field(_ n: Int, float v: Float) -> [UInt8] { varint(UInt64(n << 3 | 5)) + le32(v.bitPattern) }
    private func field(_ n: Int, bytes v: [UInt8]) -> [UInt8] { varint(UInt64(n << 3 | 2)) + varint(UInt64(v.count)) + v }

    /// CRC-32C (Castagnoli), masked as TFRecord masks it.
    static func masked(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in data { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        crc ^= 0xFFFF_FFFF
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }
}
