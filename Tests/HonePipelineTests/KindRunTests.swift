import Foundation
import HonePipeline
import HoneStore
import Testing

/// A tiny kind for exercising the generic stage path: upper-cases its input (a file, or every
/// file of a folder) into `out/result.txt`, adding `suffix`.
struct UpperKind: StageKind {
    let name = "upper"
    let version = "1"
    let summary = "upper-case text (test kind)"
    let params = [ParamSpec("suffix", .string(), default: .string(""), help: "appended")]
    let inputs = [InputSpec("text", help: "a file or folder of text")]
    let outputs = [OutputSpec("out", help: "result.txt")]

    func run(_ context: StageContext) throws -> StageResult {
        guard let input = context.inputs["text"], let out = context.outputs["out"] else { throw CocoaError(.fileNoSuchFile) }
        // Inputs are handed over read-only (mode bits; root ignores them, so this is a guard
        // against accidents, not a sandbox).
        if !isFolder(input) {
            let mode = (try FileManager.default.attributesOfItem(atPath: input.path)[.posixPermissions] as? Int) ?? 0o777
            #expect(mode & 0o222 == 0)
        }
        var text = ""
        if isFolder(input) {
            for name in try FileManager.default.contentsOfDirectory(atPath: input.path).sorted() {
                text += try String(contentsOf: input.appendingPathComponent(name), encoding: .utf8)
            }
        } else {
            text = try String(contentsOf: input, encoding: .utf8)
        }
        let suffix = context.params.string("suffix") ?? ""
        try Data((text.uppercased() + suffix).utf8).write(to: out.appendingPathComponent("result.txt"))
        context.log.write("upper-cased \(text.count) characters")
        return StageResult(metrics: ["chars": Double(text.count)])
    }

    func isFolder(_ url: URL) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &d) && d.boolValue
    }
}

final class SilentObserver: RunObserver, @unchecked Sendable {
    var started: [String] = []
    let lock = NSLock()
    func stageStarted(_ stage: String, action: StageAction, reasons: [String]) {
        lock.lock(); started.append("\(stage):\(action.rawValue)"); lock.unlock()
    }
    func stageProgress(_ stage: String, done: Int, total: Int?, unit: String, message: String?) {}
    func stageFinished(_ stage: String, outcome: StageOutcome, seconds: Double) {}
    func note(_ text: String) {}
}

@Suite struct KindRunTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("hone-kind-\(UUID().uuidString)")
    let yaml = """
    stages:
      make: {kind: shell, cmd: echo hello > h.txt, outs: [h.txt]}
      up: {kind: upper, inputs: {text: make.h.txt}, params: {suffix: "!"}}
      up2: {kind: upper, inputs: {text: up.out}}
    """

    func run(overrides: [String] = []) throws -> (Workspace, SilentObserver, RunSummary) {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("p.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: file))
        let pipeline = try PipelineDecoder(kinds: [UpperKind()], workspace: root)
            .decode(bytes: Array(yaml.utf8), file: file, overrides: overrides.compactMap(Override.init)).get()
        let ws = try Workspace(root: root)
        let observer = SilentObserver()
        let summary = try Runner(workspace: ws, pipeline: pipeline, options: RunOptions(), observer: observer).run()
        return (ws, observer, summary)
    }

    @Test func kindReadsUpstreamOutputsAndItsOutputsAreStoredAndViewable() throws {
        let (ws, _, summary) = try run()
        #expect(!summary.failed, "\(summary.outcomes)")
        let view = ws.outputView(stage: "up2", output: "out") + "/result.txt"
        #expect(FileManager.default.contents(atPath: view) == Data("HELLO\n!".utf8))
        let lock = try #require(try Lockfile.read(root.appendingPathComponent("p.lock").path))
        #expect(lock.stages["up"]?.metrics == ["chars": 6])
        let (_, observer, again) = try run()
        #expect(observer.started.isEmpty)
        #expect(again.outcomes.allSatisfy { if case .upToDate = $0.outcome { return true }; return false })
    }

    @Test func corruptInputIsQuarantinedItsProducerRerunAndTheStageRetried() throws {
        let (ws, _, _) = try run()
        let lock = try #require(try Lockfile.read(root.appendingPathComponent("p.lock").path))
        let tree = try ws.objects.tree(try #require(lock.stages["up"]?.outputs["out"]).digest)
        let blob = try #require(tree.entries.first).digest
        var bytes = try #require(FileManager.default.contents(atPath: ws.objects.path(of: blob)))
        bytes[bytes.count - 12] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: ws.objects.path(of: blob)))

        let (_, observer, summary) = try run(overrides: ["up2.suffix=?"])
        #expect(!summary.failed, "\(summary.outcomes)")
        #expect(observer.started.contains("up:run"), "\(observer.started)")
        #expect(observer.started.filter { $0 == "up2:run" }.count == 2, "\(observer.started)")
        let view = ws.outputView(stage: "up2", output: "out") + "/result.txt"
        #expect(FileManager.default.contents(atPath: view) == Data("HELLO\n!?".utf8))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(".hone/quarantine/\(blob.hex)").path))
    }

    @Test func unknownOutputAndUnknownParamAreErrorsWithSuggestions() {
        let bad = """
        stages:
          make: {kind: shell, cmd: x, outs: [h.txt]}
          up: {kind: upper, inputs: {text: make.h.tx}, params: {sufix: "!"}}
        """
        guard case let .failure(d) = PipelineDecoder(kinds: [UpperKind()], workspace: root)
            .decode(bytes: Array(bad.utf8), file: "p.yaml") else { Issue.record("accepted"); return }
        #expect(d.description.contains("p.yaml:3:57: stages.up.params.sufix: unknown param 'sufix' for kind 'upper' (did you mean 'suffix'?)"), "\(d)")
    }
}

/// Golden fingerprints: an accidental change to what goes into a fingerprint (or to how it is
/// encoded) fails here, loudly, instead of silently invalidating every user's run-cache.
@Suite struct GoldenFingerprintTests {
    @Test func shellStageFingerprintIsPinned() throws {
        let p = try decode("""
        vars: {seed: 1}
        stages:
          a: {kind: shell, cmd: "echo ${seed} > o.txt", deps: [in.txt], outs: [o.txt], params: [seed]}
        """).get()
        guard case let .shell(s) = try #require(p.stage("a")).body else { return }
        let dep = Artifact.file(Digest.of("start\n"), size: 6, executable: false)
        let basis = Fingerprint.basis(shell: s, deps: ["in.txt": dep])
        #expect(basis.canonical == #"{"cmd":"echo 1 > o.txt","deps":{"in.txt":"46210dddc66714c3d8d226711510cf8421774214016c508c72a833a05370f6b5"},"kind":"shell","metrics":[],"outs":["o.txt"],"params":{"seed":1},"version":"1"}"#)
        #expect(Fingerprint.of(basis).hex == "700d2f8c4aee72161a204ba6085f8d7487b271c057c8d53025af496e369d67b2")
    }

    @Test func kindFingerprintIncludesVersionParamsInputsAndForNumericKindsTheBLASCore() throws {
        let p = try decode("""
        stages:
          make: {kind: shell, cmd: x, outs: [h.txt]}
          up: {kind: upper, inputs: {text: make.h.txt}}
        """, kinds: [UpperKind()]).get()
        guard case let .kind(k) = try #require(p.stage("up")).body else { return }
        let input = Artifact.file(Digest.of("hello\n"), size: 6, executable: false)
        let basis = Fingerprint.basis(kind: k, stage: "up", seed: 7, inputs: ["text": input], environment: ["blas_core": "Zen"])
        #expect(basis.canonical == #"{"inputs":{"text":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"},"kind":"upper","params":{"suffix":""},"seed":7,"stage":"up","version":"1"}"#)
        #expect(Fingerprint.of(basis).hex == "f5047426916f3b864f1bede25e28246affb5b46475d280242f3b6843b12c90f2")
    }

    @Test func numericKindsAddTheBLASCoreAndOthersDoNot() throws {
        struct Numeric: StageKind {
            let name = "numeric", version = "1", summary = "test"
            let params: [ParamSpec] = [], inputs: [InputSpec] = [], outputs = [OutputSpec("out", help: "x")]
            var isNumeric: Bool { true }
            func run(_ context: StageContext) throws -> StageResult { StageResult() }
        }
        let p = try decode("stages:\n  n: {kind: numeric}\n", kinds: [Numeric()]).get()
        guard case let .kind(k) = try #require(p.stage("n")).body else { return }
        let zen = Fingerprint.basis(kind: k, stage: "n", seed: 0, inputs: [:], environment: ["blas_core": "Zen"])
        let haswell = Fingerprint.basis(kind: k, stage: "n", seed: 0, inputs: [:], environment: ["blas_core": "Haswell"])
        #expect(Fingerprint.of(zen) != Fingerprint.of(haswell))
        #expect(Fingerprint.changes(from: zen, to: haswell) == ["BLAS kernel family changed"])
    }

    /// The shell kind's golden output: a tiny pipeline run end to end gives pinned digests.
    @Test func shellKindGoldenOutput() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hone-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("start\n".utf8).write(to: root.appendingPathComponent("in.txt"))
        let yaml = "vars: {seed: 1}\nstages:\n  a: {kind: shell, cmd: \"(cat in.txt; echo ${seed}) > o.txt\", deps: [in.txt], outs: [o.txt], params: [seed]}\n"
        let file = root.appendingPathComponent("p.yaml").path
        let pipeline = try PipelineDecoder(kinds: [], workspace: root).decode(bytes: Array(yaml.utf8), file: file).get()
        let summary = try Runner(workspace: try Workspace(root: root), pipeline: pipeline, options: RunOptions(),
                                 observer: SilentObserver()).run()
        #expect(!summary.failed)
        let entry = try #require(try Lockfile.read(root.appendingPathComponent("p.lock").path)?.stages["a"])
        #expect(entry.fingerprint.hex == "8d97a90790f55f09fd252cd98cacfb0ed0362c9a20681199e6fc932423dd5179")
        #expect(entry.outputs["o.txt"]?.digest.hex == "43b85aabbbbc8bbd57f50fa64019ae2b4edf87d2ddcf22f5e1fa9a9ac1f96d69")
    }
}
