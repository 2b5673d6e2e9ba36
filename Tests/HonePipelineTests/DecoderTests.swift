import Foundation
import HonePipeline
import HoneStore
import Testing

func decode(_ yaml: String, kinds: [any StageKind] = [], overrides: [String] = []) -> Result<Pipeline, Diagnostics> {
    let ws = FileManager.default.temporaryDirectory
    return PipelineDecoder(kinds: kinds, workspace: ws).decode(bytes: Array(yaml.utf8), file: "p.yaml",
                                                              overrides: overrides.compactMap(Override.init))
}

@Suite struct DecoderTests {
    @Test func exactInterpolationKeepsTheVarsTypeAndSplicedOnesBecomeText() throws {
        let p = try decode("""
        vars: {lr: 0.001, n: 3}
        stages:
          a:
            kind: shell
            cmd: train --lr ${lr} --n ${n} --home $${HOME}
            params: {rate: "${lr}"}
        """).get()
        guard case let .shell(s) = try #require(p.stage("a")).body else { Issue.record("not shell"); return }
        #expect(s.cmd == "train --lr 0.001 --n 3 --home ${HOME}")
        #expect(s.params["rate"] == .double(0.001))
    }

    @Test func overridesReplaceParamsAndVarsAndUnknownOnesAreErrors() throws {
        let yaml = "vars: {seed: 1}\nstages:\n  a:\n    kind: shell\n    cmd: echo ${seed} ${k}\n    params: {k: 1}\n"
        let p = try decode(yaml, overrides: ["seed=2", "a.k=3e-4"]).get()
        guard case let .shell(s) = try #require(p.stage("a")).body else { return }
        #expect(s.cmd == "echo 2 0.0003")
        guard case let .failure(d) = decode(yaml, overrides: ["a.kk=1", "sede=1"]) else { Issue.record("accepted"); return }
        #expect(d.description.contains("-S a.kk=1: stages.a.params.kk: unknown param 'kk' (did you mean 'k'?)"))
        #expect(d.description.contains("-S sede=1: vars.sede: unknown var 'sede'"))
    }

    /// A file named like STAGE.OUTPUT reads as that stage's output; the error says how to name the file.
    @Test func aFileNamedLikeAStageOutputGetsTheWayToReadIt() {
        let yaml = """
        stages:
          domain: {kind: shell, cmd: x, outs: [out.txt]}
          b: {kind: shell, cmd: y, inputs: {text: domain.txt}, outs: [b.txt]}
          c: {kind: shell, cmd: z, inputs: {text: ./domain.txt}, outs: [c.txt]}
        """
        guard case let .failure(d) = decode(yaml) else { Issue.record("accepted"); return }
        #expect(d.description.contains("stages.b.inputs.text: 'txt' is not an output of stage 'domain'"))
        #expect(d.description.contains("to read the workspace file 'domain.txt' instead, write './domain.txt'"))
        #expect(!d.description.contains("stages.c."))
    }

    @Test func cycleIsReportedWithItsPath() {
        guard case let .failure(d) = decode("""
        stages:
          a: {kind: shell, cmd: x, deps: [c.txt], outs: [a.txt]}
          b: {kind: shell, cmd: x, deps: [a.txt], outs: [b.txt]}
          c: {kind: shell, cmd: x, deps: [b.txt], outs: [c.txt]}
        """) else { Issue.record("accepted"); return }
        #expect(d.description.contains("p.yaml:2:3: stages.a: cycle: a -> b -> c -> a"), "\(d)")
    }

    @Test func upstreamComesFromDepsThatAreOtherStagesOuts() throws {
        let p = try decode("""
        stages:
          make: {kind: shell, cmd: x, outs: [data]}
          use: {kind: shell, cmd: x, deps: [data/train.txt, other.txt], outs: [u.txt]}
        """).get()
        #expect(p.stage("use")?.upstream == ["make"])
    }

    @Test func editDistanceSuggestsTyposOnly() {
        #expect(closestName(to: "sede", in: ["seed", "vars"]) == "seed")
        #expect(closestName(to: "cmdd", in: ["cmd", "deps"]) == "cmd")
        #expect(closestName(to: "banana", in: ["cmd", "deps"]) == nil)
    }
}
