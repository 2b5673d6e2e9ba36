import HonePipeline
import Testing

/// `--sweep` values and their combinations.
@Suite struct SweepTests {
    @Test func valuesSplitAtCommasOrComeFromAList() throws {
        #expect(Sweep("sft.lr=1e-4,3e-4")?.values == ["1e-4", "3e-4"])
        #expect(Sweep("sft.lr=1e-4,3e-4")?.key == "sft.lr")
        // A value with a comma (or a dot) inside: the list form.
        #expect(Sweep(#"tok.special=[a, "b,c", 1.5]"#)?.values == ["a", "\"b,c\"", "1.5"])
        #expect(Sweep("n=") == nil && Sweep("=3") == nil && Sweep("n=1,,2") == nil && Sweep("n=[1, 2") == nil)
    }

    @Test func combinationsVaryTheFirstSweepSlowest() throws {
        let a = try #require(Sweep("a=1,2")), b = try #require(Sweep("x.b=p,q,r"))
        #expect(Sweep.combinations([a, b]) == [["a=1", "x.b=p"], ["a=1", "x.b=q"], ["a=1", "x.b=r"],
                                               ["a=2", "x.b=p"], ["a=2", "x.b=q"], ["a=2", "x.b=r"]])
    }
}
