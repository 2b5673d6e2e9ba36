import Crypto
import Foundation

/// A SHA-256 digest: the name of every object, tree and fingerprint.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var chars = hex.utf8.makeIterator()
        while let hi = chars.next(), let lo = chars.next() {
            guard let h = Digest.nibble(hi), let l = Digest.nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        bytes = out
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
    /// The first 12 hex digits, for people.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: Digest, b: Digest) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public static func of<D: DataProtocol>(_ data: D) -> Digest { Digest(Array(SHA256.hash(data: data))) }
    public static func of(_ text: String) -> Digest { of(Array(text.utf8)) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

/// Incremental SHA-256 over a stream of chunks.
public struct Hasher256 {
    private var state = SHA256()
    public init() {}
    public mutating func update(_ buffer: UnsafeRawBufferPointer) { state.update(bufferPointer: buffer) }
    public mutating func update<D: DataProtocol>(_ data: D) { state.update(data: data) }
    public func finalize() -> Digest { Digest(Array(state.finalize())) }
}
