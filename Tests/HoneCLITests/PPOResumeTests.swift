import Foundation
import Testing

/// `ppo` killed with SIGKILL while it samples rollouts and again while it updates on them
/// resumes from its last checkpoint and ends with the same bytes as a run never killed —
/// what TRL and LLaMA-Factory cannot do (huggingface/trl#2657, hiyouga/LlamaFactory#7538).
@Suite(.serialized) struct PPOResumeTests {
    static let pipeline = """
    seed: 3
    stages:
      tok: {kind: tokenize, inputs: {train: records.jsonl}, params: {vocab_size: 300}}
      sft:
        kind: sft
        inputs: {data: tok.data, tokenizer: tok.tokenizer}
        params: {hidden_size: 128, layers: 2, heads: 4, seq_len: 24, max_positions: 64, batch_size: 4, steps: 4}
      rm:
        kind: reward
        inputs: {base: sft.model, train: ./pairs.jsonl}
        params: {seq_len: 24, batch_size: 4, steps: 2}
      ppo:
        kind: ppo
        inputs: {policy: sft.model, reward: rm.model, prompts: records.jsonl}
        params: {steps: 6, rollout_batch: 24, minibatch: 4, ppo_epochs: 2, max_new_tokens: 24, lr: 0.001, save_steps: 2}
    """

    static let records = (0..<30).map { i in "{\"instruction\": \"Which is larger, \(i) or \(i + 3)?\", \"output\": \"\(i + 3)\"}" }
        .joined(separator: "\n") + "\n"
    static let pairs = (0..<8).map { i in "{\"prompt\": \"Which is larger, \(i) or \(i + 3)?\", \"chosen\": \"\(i + 3)\", \"rejected\": \"\(i)\"}" }
        .joined(separator: "\n") + "\n"

    func sandbox() throws -> Sandbox {
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        try box.write("records.jsonl", Self.records)
        try box.write("pairs.jsonl", Self.pairs)
        return box
    }

    func outputs(_ box: Sandbox) -> String {
        let lock = box.read("p.lock") ?? ""
        guard let start = lock.range(of: "\"ppo\"") else { return "" }
        return String(lock[start.lowerBound...])
    }

    /// The running ppo stage's log (the work folder that has a scratch folder).
    func log(_ box: Sandbox) -> String {
        let work = URL(fileURLWithPath: box.path(".hone/work"))
        for dir in (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? [] {
            let url = work.appendingPathComponent(dir).appendingPathComponent("log")
            if let text = try? String(contentsOf: url, encoding: .utf8), text.contains("rollouts") { return text }
        }
        return ""
    }

    /// Starts `hone run` and kills it with SIGKILL once the stage log shows `marker`.
    func runAndKill(_ box: Sandbox, when marker: String) throws -> Bool {
        try box.runAndKill(["run", "p.yaml"], seconds: 120) { log(box).contains(marker) }
    }

    @Test func killedMidRolloutAndMidUpdateTheResumedRunEndsWithTheSameBytes() throws {
        let reference = try sandbox()
        let r = try reference.hone("run", "p.yaml")
        try #require(r.status == 0, "\(r.all)")
        let expected = outputs(reference)
        #expect(expected.contains("\"model\""))

        let box = try sandbox()
        try #require(try box.hone("run", "p.yaml", "rm").status == 0)
        #expect(try runAndKill(box, when: "step 4: sampling"), "not killed while sampling")
        #expect(try runAndKill(box, when: "step 5: updating"), "not killed while updating")
        let last = try box.hone("run", "p.yaml")
        #expect(last.status == 0, "\(last.all)")
        let stageLog = try box.hone("logs", "ppo", "-p", "p.yaml").all
        #expect(stageLog.contains("resumed from checkpoint-00000004"), "\(stageLog)")
        #expect(outputs(box) == expected)
    }
}
