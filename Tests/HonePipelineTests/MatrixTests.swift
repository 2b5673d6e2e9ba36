import HoneBase
import HonePipeline
import Testing

/// `matrix:` and `foreach:`: instance names, their values, overrides, references, experiments.
@Suite struct MatrixTests {
    static let sweep = """
    vars: {rates: [1e-4, 3e-4]}
    stages:
      prep:
        kind: shell
        cmd: seq 10 > raw.txt
        outs: [raw.txt]
      tune:
        kind: shell
        matrix:
          lr: ${rates}
          batch: [8, 16, 32]
        cmd: echo ${item.lr} ${item.batch} > "tune-${item.batch}-${item.lr}"
        deps: [raw.txt]
        outs: ["tune-${item.batch}-${item.lr}"]
    """

    func shell(_ p: Pipeline, _ name: String) throws -> ShellStage {
        guard case let .shell(s) = try #require(p.stage(name)).body else { throw Failure.notShell }
        return s
    }
    enum Failure: Error { case notShell }

    @Test func aMatrixIsEveryCombinationFirstNameSlowestLabelledAsWritten() throws {
        let p = try decode(Self.sweep).get()
        #expect(p.stages.map(\.name) == ["prep", "tune@1e-4+8", "tune@1e-4+16", "tune@1e-4+32",
                                         "tune@3e-4+8", "tune@3e-4+16", "tune@3e-4+32"])
        let s = try shell(p, "tune@3e-4+16")
        #expect(s.cmd == "echo 0.0003 16 > \"tune-16-0.0003\"")
        // What an instance varies is a param of a shell stage: it shows in `hone exp show`.
        #expect(s.params == ["lr": .double(3e-4), "batch": .int(16)])
        #expect(p.stage("tune@3e-4+16")?.template == "tune" && p.stage("tune@3e-4+16")?.label == "3e-4+16")
        #expect(p.stage("tune@1e-4+8")?.upstream == ["prep"])
        #expect(p.stages(named: "tune").count == 6 && p.stages(named: "prep").map(\.name) == ["prep"])
    }

    /// A value with a dot (or any character a name cannot hold), or two values alike, label by position.
    @Test func valuesThatCannotBeNamesLabelByPosition() throws {
        let p = try decode("""
        stages:
          t:
            kind: shell
            matrix: {lr: [0.001, 0.01], mode: [fast, slow]}
            cmd: echo ${item.lr} ${item.mode}
          f:
            kind: shell
            foreach: [a, b, a]
            cmd: echo ${item}
          g:
            kind: shell
            foreach:
              small: {n: 1}
              big: {n: 2}
            cmd: echo ${key} ${item.n}
        """).get()
        #expect(p.stages.map(\.name) == ["t@0+fast", "t@0+slow", "t@1+fast", "t@1+slow", "f@0", "f@1", "f@2", "g@small", "g@big"])
        #expect(try shell(p, "g@big").cmd == "echo big 2")
        #expect(try shell(p, "f@2").params == ["item": .string("a")])
        #expect(try shell(p, "g@small").params == ["item": .object(["n": .int(1)]), "key": .string("small")])
    }

    @Test func overridesSetEveryInstanceOrOneAndAListVarCanBeOverridden() throws {
        let yaml = """
        vars: {modes: [a, b]}
        stages:
          t:
            kind: shell
            foreach: ${modes}
            cmd: echo ${item} ${k}
            params: {k: 1}
        """
        let p = try decode(yaml, overrides: ["t.k=2", "t@b.k=3"]).get()
        #expect(try shell(p, "t@a").cmd == "echo a 2" && shell(p, "t@b").cmd == "echo b 3")
        let q = try decode(yaml, overrides: ["modes=[x, y, z]"]).get()
        #expect(q.stages.map(\.name) == ["t@x", "t@y", "t@z"])
        guard case let .failure(d) = decode(yaml, overrides: ["t@c.k=1"]) else { Issue.record("accepted"); return }
        #expect(d.description.contains("unknown stage 't@c'"), "\(d)")
    }

    @Test func anInputNamesOneInstanceAndTheErrorsSayHow() throws {
        let yaml = """
        stages:
          t:
            kind: shell
            foreach: [a, b]
            cmd: echo ${item} > "out-${item}"
            outs: ["out-${item}"]
          use:
            kind: shell
            inputs: {x: REF}
            cmd: cat $HONE_INPUT_x/*
        """
        let p = try decode(yaml.replacingOccurrences(of: "REF", with: "t@b.out-b")).get()
        #expect(p.stage("use")?.upstream == ["t@b"])
        guard case let .failure(whole) = decode(yaml.replacingOccurrences(of: "REF", with: "t.out-b")),
              case let .failure(typo) = decode(yaml.replacingOccurrences(of: "REF", with: "t@c.out-c")) else {
            Issue.record("accepted"); return
        }
        #expect(whole.description.contains("p.yaml:9:17: stages.use.inputs.x: stage 't' is swept into 2 instances: name one, as 't@a.out-b'"), "\(whole)")
        #expect(typo.description.contains("no instance 't@c' (did you mean 't@a'?) (instances: t@a, t@b)"), "\(typo)")
    }

    /// An error in a swept stage's body is one line of the file: it is said once, not per instance.
    @Test func aProblemInTheBodyIsReportedOnce() throws {
        guard case let .failure(d) = decode("""
        stages:
          t:
            kind: shell
            matrix: {n: [1, 2, 3]}
            cmd: echo ${item.m}
        """) else { Issue.record("accepted"); return }
        #expect(d.items.count == 1 && d.description.contains("p.yaml:5:10: stages.t@1.cmd: undefined variable '${item.m}'"), "\(d)")
    }

    /// Experiments follow the graph: an instance goes with the instances it reads, a stage
    /// downstream of one instance only with that one, independent sweeps in every combination.
    @Test func experimentsFollowTheGraphUnderTheStagesNameInTheFile() throws {
        let p = try decode("""
        stages:
          prep: {kind: shell, cmd: "true", outs: [p]}
          a: {kind: shell, foreach: [x, y], cmd: "true", deps: [p], outs: ["a-${item}"]}
          b: {kind: shell, foreach: [x, y], cmd: "true", deps: ["a-${item}"]}
          c: {kind: shell, foreach: [u, v, w], cmd: "true"}
          report: {kind: shell, cmd: "true", deps: [a-y]}
        """).get()
        let sets = p.experimentStageSets
        // a@x with b@x only (b@x reads a@x), times c's three; a@y with b@y and report.
        #expect(sets.count == 6, "\(sets)")
        #expect(sets.contains(["prep": "prep", "a": "a@x", "b": "b@x", "c": "c@u"]))
        #expect(sets.contains(["prep": "prep", "a": "a@y", "b": "b@y", "c": "c@w", "report": "report"]))
        #expect(!sets.contains { $0["a"] == "a@x" && ($0["b"] == "b@y" || $0["report"] != nil) })
        #expect(Set(sets.map { $0["a"]! + $0["c"]! }).count == 6)
        #expect(p.experimentStageNames == ["prep", "a", "b", "c", "report"])
        let plain = try decode("stages:\n  s: {kind: shell, cmd: 'true'}\n").get()
        #expect(plain.experimentStageSets == [["s": "s"]])
    }

    /// The docs' example: two evaluations of one instance of a six-way sweep.
    @Test func aStageReadingOneInstanceIsOnlyInThatInstancesExperiments() throws {
        let p = try decode("""
        stages:
          sft: {kind: shell, matrix: {lr: [1e-4, 3e-4], batch: [8, 16, 32]}, cmd: "echo ${item.lr} > m-${item.lr}-${item.batch}", outs: ["m-${item.lr}-${item.batch}"]}
          eval: {kind: shell, foreach: [val, test], cmd: "echo ${item}", deps: [m-3e-4-16]}
        """.replacingOccurrences(of: "m-3e-4-16", with: "m-0.0003-16")).get()
        let sets = p.experimentStageSets
        #expect(sets.count == 7, "five instances alone, and sft@3e-4+16 with each eval: \(sets)")
        #expect(sets.filter { $0["eval"] != nil }.allSatisfy { $0["sft"] == "sft@3e-4+16" })
        #expect(sets.filter { $0["eval"] == nil }.count == 5)
    }
}
