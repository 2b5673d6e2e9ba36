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

        // However the file is named, it is one pipeline: the same experiments, no new one.
        #expect(try !box.hone("run", "./p.yaml").out.contains("Experiment "))
        #expect(try box.hone("exp", "show", "-p", "./sub/../p.yaml").out.split(separator: "\n").count == 3)

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

/// `matrix:` in the pipeline file: a 2×3 sweep of an SFT stage runs its six instances and only
/// them, two at a time, and each is an experiment that `hone exp show` compares.
@Suite struct MatrixSweepTests {
    static let pipeline = """
    seed: 3
    stages:
      tok: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl}, params: {vocab_size: 280}}
      lm:
        kind: pretrain
        inputs: {data: tok.data, tokenizer: tok.tokenizer}
        params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 32, batch_size: 4, steps: 6}
      sft:
        kind: sft
        SWEEP
        inputs: {data: tok.data, base: lm.model}
        params:
          batch_size: BATCH
          lr: LR
          seq_len: 32
          steps: 4
          eval_every: 2
    """

    @Test func sixInstancesRunOnceReusingUpstreamAndShowSideBySide() throws {
        let box = try Sandbox()
        let records = (0..<40).map { i in "{\"instruction\": \"What is \(i) + \(i % 7)?\", \"output\": \"\(i + i % 7)\"}" }
        try box.write("train.jsonl", records.joined(separator: "\n") + "\n")
        try box.write("val.jsonl", records.prefix(8).joined(separator: "\n") + "\n")
        try box.write("p.yaml", Self.pipeline.replacingOccurrences(of: "SWEEP", with: "desc: one run")
            .replacingOccurrences(of: "BATCH", with: "4").replacingOccurrences(of: "LR", with: "0.01"))
        let plain = try box.hone("run", "p.yaml")
        try #require(plain.status == 0, "\(plain.all)")

        try box.write("p.yaml", Self.pipeline.replacingOccurrences(of: "SWEEP", with: "matrix: {lr: [1e-3, 3e-3], batch: [2, 4, 8]}")
            .replacingOccurrences(of: "BATCH", with: "${item.batch}").replacingOccurrences(of: "LR", with: "${item.lr}"))
        let swept = try box.hone("run", "p.yaml", "-j", "2")
        try #require(swept.status == 0, "\(swept.all)")
        let ran = swept.out.split(separator: "\n").filter { $0.contains(": ran in") }.map { String($0.split(separator: ":")[0]) }
        #expect(Set(ran) == ["sft@1e-3+2", "sft@1e-3+4", "sft@1e-3+8", "sft@3e-3+2", "sft@3e-3+4", "sft@3e-3+8"], "\(swept.out)")
        #expect(swept.out.contains("6 ran") && !swept.out.contains("tok: running") && !swept.out.contains("lm: running"), "\(swept.out)")

        let again = try box.hone("run", "p.yaml", "-j", "2")
        #expect(again.status == 0 && again.out.contains("Everything is up to date (8 stages") && !again.out.contains("Experiment"), "\(again.out)")

        let line = try #require(swept.out.split(separator: "\n").first { $0.hasPrefix("Experiments ") })
        let ids = line.dropFirst("Experiments ".count).split(separator: " (")[0].components(separatedBy: ", ")
        #expect(ids.count == 6)
        let show = try box.hone(["exp", "show", "--only-changed", "--sort", "sft.val_loss"] + ids)
        let rows = show.out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.first == ["experiment", "sft.batch_size", "sft.lr", "sft.val_loss"], "\(show.all)")
        #expect(rows.count == 7, "\(show.out)")
        let combos = Set(rows.dropFirst().map { "\($0[2]),\($0[1])" })
        #expect(combos == ["0.001,2", "0.001,4", "0.001,8", "0.003,2", "0.003,4", "0.003,8"], "\(show.out)")
        let losses = rows.dropFirst().compactMap { Double($0[3]) }
        #expect(losses.count == 6 && losses == losses.sorted() && Set(losses).count > 1, "\(show.out)")
    }
}
