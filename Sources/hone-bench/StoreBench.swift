import CZlib
import Foundation
import HoneBase
import HoneStore

// Store throughput (`make bench`): write and read+verify of 100 MB buffers through Hone's
// object store, beside plain zlib-1 + SHA-256 on the same bytes (../shared/bench/store_io.py's
// configuration). One JSON line per buffer.

let size = 100_000_000

/// SplitMix64: a fixed stream, so every run measures the same bytes.
struct SplitMix { var s: UInt64; mutating func next() -> UInt64 {
    s &+= 0x9E3779B97F4A7C15; var z = s
    z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
    return z ^ (z >> 31) } }

/// fp32 N(0, 0.02), like freshly initialised weights (Box–Muller).
func weights() -> [UInt8] {
    var rng = SplitMix(s: 0)
    var out = [Float](repeating: 0, count: size / 4)
    var i = 0
    while i < out.count {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-300), u2 = Double(rng.next() >> 11) / Double(1 << 53)
        let r = (-2 * log(u1)).squareRoot()
        out[i] = Float(0.02 * r * cos(2 * .pi * u2)); if i + 1 < out.count { out[i + 1] = Float(0.02 * r * sin(2 * .pi * u2)) }
        i += 2
    }
    return out.withUnsafeBytes { Array($0) }
}

/// uint16 token ids < 8192 with a Zipf(1.1)-like law (store_io.py's fallback buffer).
func tokens() -> [UInt8] {
    var rng = SplitMix(s: 1)
    var cdf: [Double] = []
    var total = 0.0
    for k in 1...8192 { total += 1 / pow(Double(k), 1.1); cdf.append(total) }
    var out = [UInt16](repeating: 0, count: size / 2)
    for i in 0..<out.count {
        let u = Double(rng.next() >> 11) / Double(1 << 53) * total
        var lo = 0, hi = cdf.count - 1
        while lo < hi { let mid = (lo + hi) / 2; if cdf[mid] < u { lo = mid + 1 } else { hi = mid } }
        out[i] = UInt16(lo)
    }
    return out.withUnsafeBytes { Array($0) }
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let t = Date(); try body(); return Date().timeIntervalSince(t)
}

func mbs(_ seconds: [Double]) -> [String: Double] {
    let xs = seconds.map { Double(size) / 1e6 / $0 }.sorted()
    return ["min": ((xs.first ?? 0) * 10).rounded() / 10, "med": (xs[xs.count / 2] * 10).rounded() / 10, "max": ((xs.last ?? 0) * 10).rounded() / 10]
}

func storeBench(reps: Int) throws {
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-bench-\(getpid())")
defer { try? FileManager.default.removeItem(at: dir) }
for (name, buffer) in [("weights_f32", weights()), ("tokens_u16", tokens())] {
    var writes: [Double] = [], reads: [Double] = [], zlibs: [Double] = []
    var stored = 0, zlibSize = 0
    for _ in 0..<reps {
        try? FileManager.default.removeItem(at: dir)
        let store = try ObjectStore(root: dir)
        var digest: Digest?
        writes.append(try time { digest = try store.put(bytes: buffer) })
        guard let digest else { continue }
        stored = store.storedSize(digest)
        reads.append(try time { var n = 0; try store.read(digest) { n += $0.count }; precondition(n == size) })
        zlibs.append(time {
            var destLen = compressBound(uLong(size))
            var dest = [UInt8](repeating: 0, count: Int(destLen))
            _ = buffer.withUnsafeBytes { src in compress2(&dest, &destLen, src.bindMemory(to: Bytef.self).baseAddress, uLong(size), 1) }
            zlibSize = Int(destLen)
            _ = Digest.of(buffer)
        })
    }
    let line: JSONValue = .object([
        "bench": .string("store_io"), "buffer": .string(name), "bytes": .int(size),
        "hone_write_MB_s": .object(mbs(writes).mapValues { .double($0) }),
        "hone_read_verify_MB_s": .object(mbs(reads).mapValues { .double($0) }),
        "hone_ratio": .double((Double(stored) / Double(size) * 10000).rounded() / 10000),
        "zlib1_sha256_MB_s": .object(mbs(zlibs).mapValues { .double($0) }),
        "zlib1_ratio": .double((Double(zlibSize) / Double(size) * 10000).rounded() / 10000),
        "write_speedup_vs_zlib1": .double((zlibs.sorted()[zlibs.count / 2] / writes.sorted()[writes.count / 2] * 100).rounded() / 100),
    ])
    print(line.canonical)
}
}
