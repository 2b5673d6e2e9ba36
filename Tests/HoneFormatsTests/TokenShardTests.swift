import Foundation
import HoneFormats
import Testing

@Suite struct TokenShardTests {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("shard-\(UUID().uuidString)").path

    @Test(arguments: [1000, 70_000])
    func shardsRoundTripWithTheirIndexAndMask(_ vocab: Int) throws {
        let w = try TokenShard.Writer(base: base, vocabSize: vocab, withMask: true)
        try w.add([1, 2, 3], loss: [false, true, true])
        try w.add([])
        try w.add([vocab - 1, 0], loss: [true, false])
        try w.close()
        let s = try TokenShard.read(base: base)
        #expect(s.tokens == [1, 2, 3, UInt32(vocab - 1), 0])
        #expect(s.offsets == [0, 3, 3, 5])
        #expect(s.mask == [0, 1, 1, 1, 0])
        #expect(Array(s.document(2)) == [UInt32(vocab - 1), 0])
    }

    @Test func truncatedTokensFileNamesTheFileAndOffset() throws {
        let w = try TokenShard.Writer(base: base, vocabSize: 100, withMask: false)
        try w.add([5, 6, 7])
        try w.close()
        let data = try Data(contentsOf: URL(fileURLWithPath: base + ".tokens"))
        try data.dropLast(1).write(to: URL(fileURLWithPath: base + ".tokens"))
        #expect { try TokenShard.read(base: base) } throws: { error in
            "\(error)".contains(".tokens: at byte 29: expected 30 bytes for 3 tokens")
        }
    }
}
