import Foundation
import Testing

/// Every successful whole-pipeline run is an experiment; the same results are the same
/// experiment; `hone exp show` and `hone exp diff` read params, metrics and artifacts back.
@Suite struct ExperimentTests {
    static let pipeline = #"""
    vars: {n: 3}
    stages:
      make:
        kind: shell
        cmd: 'seq ${n} > out.txt && printf "{\"lines\": %d}\n" ${n} > m.json'
        outs: [out.txt]
        metrics: [m.json]
        params: [n]
      count:
        kind: shell
        cmd: wc -l < out.txt > count.txt
        deps: [out.txt]
        outs: [count.txt]
    """#

    @Test func runsBecomeExperimentsThatShowAndDiff() throws {
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        let first = try box.hone("run", "p.yaml")
        #expect(first.status == 0 && first.out.contains("Experiment "), "\(first.all)")
        // Nothing new: no second experiment. A run of one stage is not an experiment either.
        #expect(try !box.hone("run", "p.yaml").out.contains("Experiment "))
        #expect(try !box.hone("run", "p.yaml", "-S", "n=5", "make").out.contains("Experiment "))
        #expect(try box.hone("run", "p.yaml", "-S", "n=5").out.contains("Experiment "))
        let list = try box.hone("exp", "list").out.split(separator: "\n")
        #expect(list.count == 3, "\(list)")
        let ids = list.dropFirst().map { String($0.split(separator: " ")[0]) }

        let show = try box.hone("exp", "show", "-p", "p.yaml", "--only-changed", "--sort", "make.lines", "--descending").out
        let rows = show.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.first == ["experiment", "make.n", "make.lines"], "\(show)")
        #expect(rows.dropFirst().map { $0[1] } == ["5", "3"], "\(show)")

        let diff = try box.hone("exp", "diff", ids[0], ids[1]).out
        #expect(diff.contains("make.n: 3 -> 5") && diff.contains("make.lines: 3.0 -> 5.0"), "\(diff)")
        #expect(diff.contains("count.count.txt:") && diff.contains("make.out.txt:"), "\(diff)")

        let unknown = try box.hone("exp", "show", "-p", "p.yaml", "nosuch")
        #expect(unknown.status == 2 && unknown.err.contains("no experiment 'nosuch'"), "\(unknown.all)")
    }

    @Test func aSweepRunsOneExperimentPerValueAndAgainRunsNothing() throws {
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        let first = try box.hone("run", "p.yaml", "--sweep", "n=2,4")
        #expect(first.status == 0, "\(first.all)")
        #expect(first.out.contains("sweep 1/2: n=2") && first.out.contains("sweep 2/2: n=4"), "\(first.out)")
        let again = try box.hone("run", "p.yaml", "--sweep", "n=2,4")
        #expect(again.status == 0 && !again.out.contains(" ran") && !again.out.contains("Experiment "), "\(again.out)")
        #expect(try box.hone("exp", "list").out.split(separator: "\n").count == 3)
        let bad = try box.hone("run", "p.yaml", "--sweep", "n=1,,2")
        #expect(bad.status == 2 && bad.err.contains("no empty value"), "\(bad.all)")
    }
}
