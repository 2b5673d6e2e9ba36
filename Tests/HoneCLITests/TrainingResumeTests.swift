import Foundation
import Testing

/// A training stage killed with SIGKILL at several points — right after a checkpoint, in the
/// middle of a step, while a checkpoint is being written — resumes and ends with the same bytes
/// as a run never killed; and a run on 1 thread gives the same bytes as on 2.
@Suite(.serialized) struct TrainingResumeTests {
    static let pipeline = """
    seed: 1
    stages:
      tokenize: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl}, params: {vocab_size: 300}}
      pretrain:
        kind: pretrain
        inputs: {data: tokenize.data, tokenizer: tokenize.tokenizer}
        params: {hidden_size: 256, layers: 2, heads: 4, kv_heads: 2, seq_len: 32, batch_size: 4, steps: 30,
                 save_steps: 3, save_total_limit: 2, eval_every: 10, dropout: 0.1, warmup_steps: 5}
    """

    static func corpus(_ lines: Int, from: Int) -> String {
        let words = ["river", "stone", "light", "moves", "under", "the", "quiet", "hill", "and", "rain", "falls", "slowly"]
        return (from..<(from + lines)).map { i in
            let text = (0..<(6 + i % 5)).map { words[(i * 7 + $0 * 5) % words.count] }.joined(separator: " ")
            return "{\"text\": \"\(text) \(i % 13)\"}"
        }.joined(separator: "\n") + "\n"
    }

    func sandbox() throws -> Sandbox {
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        try box.write("train.jsonl", Self.corpus(200, from: 0))
        try box.write("val.jsonl", Self.corpus(30, from: 500))
        return box
    }

    /// The pretrain outputs' digests in the lockfile.
    func outputs(_ box: Sandbox) -> String {
        let lock = box.read("p.lock") ?? ""
        guard let start = lock.range(of: "\"pretrain\"") else { return "" }
        return String(lock[start.lowerBound...])
    }

    func scratch(_ box: Sandbox) -> URL? {
        let work = URL(fileURLWithPath: box.path(".hone/work"))
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
        return dirs.map { work.appendingPathComponent($0).appendingPathComponent("scratch") }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    enum KillPoint { case afterCheckpoint(Int), duringCheckpointWrite, after(seconds: Double) }

    /// Starts `hone run`, kills it with SIGKILL when `point` is reached; true if it was killed there.
    func runAndKill(_ box: Sandbox, at point: KillPoint) throws -> Bool {
        let started = Date()
        return try box.runAndKill(["run", "p.yaml"]) {
            let files = scratch(box).flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0.path) } ?? []
            switch point {
            case let .afterCheckpoint(step): return files.contains(String(format: "checkpoint-%08d.hck", step))
            case .duringCheckpointWrite: return files.contains { $0.hasSuffix(".tmp") }
            case let .after(seconds): return Date().timeIntervalSince(started) > seconds
            }
        }
    }

    @Test func killedAtSeveralPointsTheResumedRunEndsWithTheSameBytes() throws {
        let reference = try sandbox()
        let r = try reference.hone("run", "p.yaml")
        try #require(r.status == 0, "\(r.all)")
        let expected = outputs(reference)
        #expect(expected.contains("\"model\""))

        let box = try sandbox()
        try #require(try box.hone("run", "p.yaml", "tokenize").status == 0)
        #expect(try runAndKill(box, at: .afterCheckpoint(6)))
        #expect(try runAndKill(box, at: .after(seconds: 0.3)))
        var caughtWrite = false
        for _ in 0..<5 where !caughtWrite { caughtWrite = try runAndKill(box, at: .duringCheckpointWrite) }
        #expect(caughtWrite, "never caught a checkpoint being written")
        let last = try box.hone("run", "p.yaml")
        #expect(last.status == 0, "\(last.all)")
        let log = try box.hone("logs", "pretrain", "-p", "p.yaml").all
        #expect(log.contains("resumed from checkpoint-"), "\(log)")
        #expect(outputs(box) == expected)
    }

    @Test func oneThreadGivesTheSameBytesAsTwo() throws {
        let two = try sandbox(), one = try sandbox()
        #expect(try two.hone("run", "p.yaml").status == 0)
        let p = one.start(["run", "p.yaml"])
        var env = p.process.environment ?? [:]
        env["HONE_THREADS"] = "1"
        p.process.environment = env
        try p.process.run()
        p.process.waitUntilExit()
        #expect(p.process.terminationStatus == 0)
        #expect(outputs(one) == outputs(two))
    }
}
