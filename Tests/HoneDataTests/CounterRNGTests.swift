import HoneBase
import Testing

@Suite struct CounterRNGTests {
    /// The Random123 known-answer vector for Philox4x32-10 with counter 0 and key 0.
    @Test func philoxMatchesTheReferenceVector() {
        let b = CounterRNG.block(key: 0, index: 0)
        #expect([b.0, b.1, b.2, b.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
    }

    @Test func resumingFromAPositionContinuesTheSameStream() {
        var a = CounterRNG(key: 42)
        let first = (0..<10).map { _ in a.next() }
        var b = CounterRNG(key: 42, position: 6)
        #expect((0..<4).map { _ in b.next() } == Array(first[6...]))
    }

    @Test func belowStaysInRangeAndShuffleIsAPermutation() {
        var r = CounterRNG(key: 7)
        #expect((0..<1000).allSatisfy { _ in (0..<3).contains(r.below(3)) })
        var xs = Array(0..<50)
        r.shuffle(&xs)
        #expect(xs.sorted() == Array(0..<50))
        #expect(xs != Array(0..<50))
    }
}
