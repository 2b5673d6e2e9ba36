import HonePipeline
import Testing

@Suite struct RandomKeyTests {
    @Test func keysDependOnEveryPartAndAreStable() {
        let base = RandomKey.derive(seed: 1, stage: "split", purpose: "shuffle")
        #expect(base == RandomKey.derive(seed: 1, stage: "split", purpose: "shuffle"))
        #expect(base != RandomKey.derive(seed: 2, stage: "split", purpose: "shuffle"))
        #expect(base != RandomKey.derive(seed: 1, stage: "splits", purpose: "huffle"))
        #expect(base != RandomKey.derive(seed: 1, stage: "split", purpose: "dropout"))
    }
}
