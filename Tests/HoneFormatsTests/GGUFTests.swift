import Foundation
import HoneFormats
import Testing

/// GGUF reading: every block format against values worked out by hand (../shared/REFERENCE.md
/// §2), and malformed files refused with the file, the offset and what was expected.
@Suite struct GGUFTests {
    func temp() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("hone-gguf-\(UUID().uuidString).gguf") }

    func half(_ f: Float) -> [UInt8] {
        // Exact for the values used here (small dyadic rationals).
        let bits = f.bitPattern, sign = UInt16(bits >> 16) & 0x8000
        let exp = Int((bits >> 23) & 0xFF) - 127 + 15, frac = UInt16((bits >> 13) & 0x3FF)
        let h = f == 0 ? sign : sign | UInt16(exp) << 10 | frac
        return [UInt8(h & 0xFF), UInt8(h >> 8)]
    }

    @Test func blockFormatsDequantizeAsTheReferenceSays() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.tokens", .array([.string("a"), .string("b")]))
        w.add("f32", dims: [2], floats: [1.5, -2])
        w.add("f16", dims: [2], type: .f16, bytes: half(0.5) + half(-3))
        // Q8_0: d = 0.5, qs = -16…15 → d·q
        w.add("q8", dims: [32], type: .q8_0, bytes: half(0.5) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) })
        // Q4_0: d = 2, byte j = (j low, 15 − j high) → element j = 2(j − 8), element j+16 = 2(7 − j)
        w.add("q40", dims: [32], type: .q4_0, bytes: half(2) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 })
        // Q4_1: d = 0.25, m = −1 → element j = 0.25·nib − 1
        w.add("q41", dims: [32], type: .q4_1, bytes: half(0.25) + half(-1) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 })
        let url = temp()
        defer { try? FileManager.default.removeItem(at: url) }
        try w.data().write(to: url)
        let g = try GGUF(url: url)
        #expect(g.metadata["general.architecture"]?.string == "llama")
        #expect(g.metadata["tokenizer.ggml.tokens"]?.array?.count == 2)
        #expect(try g.floats("f32") == [1.5, -2] && g.floats("f16") == [0.5, -3])
        #expect(try g.floats("q8") == (0..<32).map { 0.5 * Float($0 - 16) })
        #expect(try g.floats("q40") == (0..<16).map { 2 * Float($0 - 8) } + (0..<16).map { 2 * Float(7 - $0) })
        #expect(try g.floats("q41") == (0..<16).map { 0.25 * Float($0) - 1 } + (0..<16).map { 0.25 * Float(15 - $0) - 1 })
    }

    @Test func malformedFilesAreRefusedClearly() throws {
        var w = GGUFWriter()
        w.add("t", dims: [4], floats: [1, 2, 3, 4])
        let good = [UInt8](w.data())
        let cases: [(String, [UInt8], String)] = [
            ("bad magic", Array("GGML".utf8) + good.dropFirst(4), "the magic GGUF"),
            ("version 2", Array(good[0..<4]) + [2, 0, 0, 0] + good.dropFirst(8), "GGUF version 3"),
            ("truncated header", Array(good.prefix(30)), "file truncated"),
            ("truncated data", Array(good.prefix(good.count - 24)), "file truncated"),  // 16 data bytes + 16 of padding
            ("unknown tensor type", patchType(good, to: 99), "tensor type F32, F16, BF16, Q8_0, Q4_0 or Q4_1"),
        ]
        for (name, bytes, expected) in cases {
            let url = temp()
            defer { try? FileManager.default.removeItem(at: url) }
            try Data(bytes).write(to: url)
            do {
                _ = try GGUF(url: url)
                Issue.record("\(name): accepted")
            } catch let e as GGUF.Failure {
                #expect(e.description.contains(url.path) && e.description.contains(expected), "\(name): \(e)")
            }
        }
    }

    /// The one tensor's type field: after magic, version, counts, name "t" and one dimension.
    func patchType(_ b: [UInt8], to type: UInt32) -> [UInt8] {
        var b = b
        let at = 4 + 4 + 8 + 8 + (8 + 1) + 4 + 8
        withUnsafeBytes(of: type.littleEndian) { for (i, x) in $0.enumerated() { b[at + i] = x } }
        return b
    }
}
