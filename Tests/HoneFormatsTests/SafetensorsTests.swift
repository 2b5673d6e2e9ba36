import Foundation
import HoneFormats
import Testing

/// Safetensors round trip, and malformed files refused with the file, the offset and what was
/// expected — never a crash.
@Suite struct SafetensorsTests {
    func temp(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("hone-st-\(UUID().uuidString)-\(name)")
    }

    @Test func roundTripsF32AndReadsF16AndBF16() throws {
        let url = temp("a.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a: [Float] = [1, -2.5, 3e-8, 65504], b: [Float] = [0.125]
        try a.withUnsafeBufferPointer { pa in try b.withUnsafeBufferPointer { pb in
            try Safetensors.write([("a", [2, 2], pa), ("b", [1], pb)], to: url)
        } }
        let read = try Safetensors.read(url)
        #expect(read["a"]?.shape == [2, 2] && read["a"]?.values == a && read["b"]?.values == b)

        // Hand-made F16 (1.0, -2.0) and BF16 (1.0) tensors.
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"g":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}"#
        let other = temp("b.safetensors")
        defer { try? FileManager.default.removeItem(at: other) }
        try file(header, body: [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F]).write(to: other)
        let half = try Safetensors.read(other)
        #expect(half["h"]?.values == [1, -2] && half["g"]?.values == [1])
    }

    func file(_ header: String, body: [UInt8], claimedLength: UInt64? = nil) -> Data {
        var d = Data()
        withUnsafeBytes(of: (claimedLength ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8))
        d.append(contentsOf: body)
        return d
    }

    @Test(arguments: [
        ("truncated data", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8, nil, "file truncated"),
        ("negative dimension", #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, nil, "non-negative integer shape"),
        ("shape of strings", #"{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}"#, 8, nil, "non-negative integer shape"),
        ("overflowing shape", #"{"a":{"dtype":"F32","shape":[1099511627775,1099511627775],"data_offsets":[0,4]}}"#, 4, nil, "bytes for 'a'"),
        ("offsets disagree with shape", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 8, nil, "8 bytes for 'a'"),
        ("unknown dtype", #"{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, 1, nil, "dtype F32, F16 or BF16"),
        ("header past the end", #"{}"#, 0, UInt64(1 << 40), "header length within the file"),
        ("not JSON", #"{"a": [1,"#, 0, nil, "a JSON header"),
    ] as [(String, String, Int, UInt64?, String)])
    func malformedFilesAreRefusedClearly(_ c: (name: String, header: String, body: Int, claimed: UInt64?, expected: String)) throws {
        let url = temp("bad.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try file(c.header, body: [UInt8](repeating: 0, count: c.body), claimedLength: c.claimed).write(to: url)
        do {
            _ = try Safetensors.read(url)
            Issue.record("\(c.name): accepted")
        } catch let e as Safetensors.Failure {
            #expect(e.description.contains(url.path) && e.description.contains(c.expected), "\(c.name): \(e)")
        }
    }
}
