import Foundation
import HoneBase
import HonePipeline
import HoneStages
import HoneTensor
import HoneTrain
import Testing

/// The RLHF kinds end to end on a tiny model: preferences → reward → ppo → evaluate, with
/// pinned output digests; evaluate's classification report and the shell checker protocol.
@Suite struct RLHFKindTests {
    /// Arithmetic records; outputs are the true sums.
    static let records = (0..<40).map { i in
        "{\"instruction\": \"What is \(i % 9) + \(i % 5)?\", \"input\": \"\", \"output\": \"\(i % 9 + i % 5)\"}"
    }.joined(separator: "\n") + "\n"

    /// A tokenizer and a tiny SFT model from scratch, shared by the pipelines below.
    static let base = """
      tok: {kind: tokenize, inputs: {train: records.jsonl}, params: {vocab_size: 300}}
      sft:
        kind: sft
        inputs: {data: tok.data, tokenizer: tok.tokenizer}
        params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 24, max_positions: 40, batch_size: 4, steps: 30, lr: 0.01}

    """

    @Test func preferencesRewardPPOAndEvaluateGiveThePinnedBytes() throws {
        // The regex checker passes answers that start with a digit: a barely trained model
        // gets some right and some wrong, so every prompt can make a pair.
        let yaml = """
        seed: 4
        stages:
        \(Self.base)
          prefs:
            kind: preferences
            inputs: {model: sft.model, train: ./refs.jsonl}
            params: {samples: 4, pairs_per_prompt: 2, max_new_tokens: 4, checker: regex}
          rm:
            kind: reward
            inputs: {base: sft.model, train: prefs.train}
            params: {seq_len: 24, batch_size: 4, steps: 6, eval_every: 0}
          ppo:
            kind: ppo
            inputs: {policy: sft.model, reward: rm.model, prompts: records.jsonl}
            params: {steps: 3, rollout_batch: 4, minibatch: 2, ppo_epochs: 2, max_new_tokens: 4, lr: 0.001, save_steps: 1}
          rm_lora:
            kind: reward
            inputs: {base: sft.model, train: prefs.train}
            params: {seq_len: 24, batch_size: 4, steps: 4, eval_every: 0, method: lora, lora_rank: 2}
          ppo_lora:
            kind: ppo
            inputs: {policy: sft.model, reward: rm_lora.model, prompts: records.jsonl}
            params: {steps: 2, rollout_batch: 4, minibatch: 2, max_new_tokens: 4, lr: 0.01, method: lora, lora_rank: 2}
          judged:
            kind: evaluate
            inputs: {model: ppo.model, data: records.jsonl, reward_model: rm.model}
            params: {task: generate, checker: numeric, max_new_tokens: 4, max_examples: 10}
        """
        let refs = (0..<12).map { i in "{\"instruction\": \"What is \(i % 9) + \(i % 5)?\", \"input\": \"\", \"output\": \"^[0-9]\"}" }
            .joined(separator: "\n") + "\n"
        let lock = try runPipeline(yaml, files: ["records.jsonl": Self.records, "refs.jsonl": refs])
        let prefs = try #require(lock.stages["prefs"])
        #expect((prefs.metrics["train_pairs"] ?? 0) > 0 && (prefs.metrics["train_pass_rate"] ?? 0) > 0)
        let ppo = try #require(lock.stages["ppo"])
        #expect(ppo.metrics["steps"] == 3 && ppo.metrics["kl_coef"] != nil && ppo.metrics["entropy"] ?? 0 > 0)
        // LoRA: the reward model's head and adapters train; the policy writes its adapter in PEFT's layout.
        let loraPolicy = try #require(lock.stages["ppo_lora"])
        #expect((loraPolicy.outputs["adapter"]?.size ?? 0) > 0 && (loraPolicy.outputs["model"]?.size ?? 0) > 0)
        #expect(lock.stages["rm_lora"]?.outputs["model"]?.digest != lock.stages["sft"]?.outputs["model"]?.digest)
        let judged = try #require(lock.stages["judged"])
        #expect(judged.metrics["examples"] == 10 && judged.metrics["reward_mean"] != nil && judged.metrics["pass_rate"] != nil)
        guard BLASInfo.coreName == GoldenTrainingKindTests.pinnedCore else {
            print("golden RLHF digests are pinned for OpenBLAS core \(GoldenTrainingKindTests.pinnedCore); this is \(BLASInfo.coreName)")
            return
        }
        #expect(prefs.outputs["train"]?.digest.hex == "543d6ebd80bbd933cb9b9664a824b20b6e272117d5542fa6d29475e6a7bb6211", "prefs train")
        #expect(lock.stages["rm"]?.outputs["model"]?.digest.hex == "00a829ca2cb81504fc5b30824993e2b4186da107404802ddbcb372392a91010d", "rm model")
        #expect(ppo.outputs["model"]?.digest.hex == "7a5ce0a195774c40936f0b02aa92cdc74c02469ea3712364a2b4148a98034adc", "ppo model")
        #expect(judged.outputs["report"]?.digest.hex == "580da1ebb05e4518afd45bac5240bab660db6dec5e4af8dbd2bdba876f16ebff", "judged report")
    }

    @Test func classifyReportsAccuracyPRF1AndTheConfusionMatrix() throws {
        let labelled = (0..<30).map { i in "{\"text\": \"number \(i % 6)\", \"label\": \"\(i % 3 == 0 ? "three" : "other")\"}" }
            .joined(separator: "\n") + "\n"
        let lock = try runPipeline("""
        seed: 1
        stages:
        \(Self.base)
          cls:
            kind: evaluate
            inputs: {model: sft.model, data: ./labelled.jsonl}
            params: {task: classify}
        """, files: ["records.jsonl": Self.records, "labelled.jsonl": labelled], inspect: { root in
            let report = try JSONValue.parse(try Data(contentsOf: root.appendingPathComponent(".hone/outputs/cls/report/metrics.json")))
            #expect(report["labels"]?.arrayValue?.compactMap(\.stringValue) == ["other", "three"])
            let m = try #require(report["confusion"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.intValue) ?? [] })
            #expect(m.count == 2 && m.allSatisfy { $0.count == 2 })
            // The metrics are those of the reported matrix (checked against hand values in ClassificationTests).
            var truth: [Int] = [], predicted: [Int] = []
            for t in 0..<2 { for p in 0..<2 { for _ in 0..<m[t][p] { truth.append(t); predicted.append(p) } } }
            let c = Classification(labels: ["other", "three"], truth: truth, predicted: predicted)
            #expect(m[1].reduce(0, +) == 10 && m[0].reduce(0, +) == 20)
            #expect(report["metrics"]?["accuracy"]?.doubleValue == (c.accuracy * 1e6).rounded() / 1e6)
            #expect(report["metrics"]?["f1_macro"]?.doubleValue == (c.macro(c.f1) * 1e6).rounded() / 1e6)
            #expect(report["metrics"]?["recall_weighted"]?.doubleValue == (c.weighted(c.recall) * 1e6).rounded() / 1e6)
        })
        let cls = try #require(lock.stages["cls"])
        #expect(cls.metrics["examples"] == 30)
        for key in ["accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted", "recall_weighted", "f1_weighted"] {
            #expect(cls.metrics[key].map { $0 >= 0 && $0 <= 1 } == true, "\(key)")
        }
    }

    /// The protocol: JSON lines in ({prompt, response, reference}), one score per line out.
    @Test func shellCheckersPassFailAndCrashClearly() throws {
        /// `cmd` is YAML single-quoted: its own single quotes are doubled.
        func stage(_ name: String, _ cmd: String) -> String {
            """
              \(name):
                kind: evaluate
                inputs: {model: sft.model, data: records.jsonl, checker: ./check.sh}
                params:
                  task: generate
                  checker: command
                  checker_cmd: '\(cmd.replacingOccurrences(of: "'", with: "''"))'
                  max_new_tokens: 3
                  max_examples: 5

            """
        }
        // The passing checker checks it was given the three fields before saying 1.
        let check = "awk '/\"prompt\":/ && /\"response\":/ && /\"reference\":/ { print 1; next } { print 0 }'\n"
        let stages = stage("passing", "sh \"$HONE_INPUT_checker/check.sh\"") + stage("failing", "awk '{ print 0 }'")
            + stage("crashing", "echo checker broke >&2; exit 3") + stage("miscounting", "echo 1")
        let (summary, lock) = try runPipelineAllowingFailures("""
        seed: 1
        stages:
        \(Self.base)\(stages)
        """, files: ["records.jsonl": Self.records, "check.sh": check])
        let outcomes = Dictionary(summary.outcomes.map { ($0.stage, $0.outcome) }, uniquingKeysWith: { a, _ in a })
        #expect(lock?.stages["passing"]?.metrics["pass_rate"] == 1, "\(String(describing: outcomes["passing"]))")
        #expect(lock?.stages["failing"]?.metrics["pass_rate"] == 0)
        guard case let .failed(crash)? = outcomes["crashing"] else { Issue.record("the crashing checker did not fail its stage: \(String(describing: outcomes["crashing"]))"); return }
        #expect(crash.contains("exited with status 3") && crash.contains("checker broke"), "\(crash)")
        guard case let .failed(short)? = outcomes["miscounting"] else { Issue.record("a checker answering too few lines did not fail"); return }
        #expect(short.contains("answered 1 lines for 5 responses"), "\(short)")
    }
}
