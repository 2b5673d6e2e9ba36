import Foundation
import HoneBase
import HoneData
import HoneModel
import HonePipeline
import HoneStages
import HoneStore
import HoneTensor
import Testing

let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The schema and the registry describe the same kinds, inputs and params: a kind added to one
/// and not the other fails here.
@Suite struct SchemaAgreementTests {
    @Test func schemaListsExactlyTheBuiltinKindsWithTheirInputsAndParams() throws {
        let data = try Data(contentsOf: repo.appendingPathComponent("schemas/pipeline.schema.json"))
        let schema = try JSONValue.parse(data)
        let defs = try #require(schema["$defs"]?.objectValue)
        let kinds = defs["stage"]?["properties"]?["kind"]?["enum"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(Set(kinds) == Set(["shell"] + BuiltinKinds.all.map(\.name)))
        for kind in BuiltinKinds.all {
            let def = try #require(defs["\(kind.name)_stage"], "no $defs.\(kind.name)_stage")
            let params = def["properties"]?["params"]?["properties"]?.objectValue?.keys.sorted() ?? []
            #expect(params == kind.params.map(\.name).sorted(), "\(kind.name) params")
            let inputs = def["properties"]?["inputs"]?["properties"]?.objectValue?.keys.sorted() ?? []
            #expect(inputs == kind.inputs.map(\.name).sorted(), "\(kind.name) inputs")
        }
    }
}

final class QuietObserver: RunObserver, @unchecked Sendable {
    func stageStarted(_ stage: String, action: StageAction, reasons: [String]) {}
    func stageProgress(_ stage: String, done: Int, total: Int?, unit: String, message: String?) {}
    func stageFinished(_ stage: String, outcome: StageOutcome, seconds: Double) {}
    func note(_ text: String) {}
}

/// Runs a pipeline in a fresh temporary workspace holding `files` (and copies of `copies`);
/// returns its lockfile. The workspace is removed afterwards.
func runPipeline(_ yaml: String, files: [String: String], copies: [String: URL] = [:],
                 inspect: ((URL) throws -> Void)? = nil) throws -> Lockfile {
    let (summary, lock) = try runPipelineAllowingFailures(yaml, files: files, copies: copies, inspect: inspect)
    #expect(!summary.failed, "\(summary.outcomes)")
    return try #require(lock)
}

/// `runPipeline` for pipelines expected to fail (with --keep-going: one failure stops nothing
/// else): the run's outcomes, and its lockfile if any. `inspect` sees the workspace before it
/// is removed.
func runPipelineAllowingFailures(_ yaml: String, files: [String: String], copies: [String: URL] = [:],
                                 inspect: ((URL) throws -> Void)? = nil) throws -> (RunSummary, Lockfile?) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("hone-golden-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    for (name, text) in files { try Data(text.utf8).write(to: root.appendingPathComponent(name)) }
    for (name, source) in copies { try FileManager.default.copyItem(at: source, to: root.appendingPathComponent(name)) }
    let file = root.appendingPathComponent("p.yaml").path
    let pipeline = try PipelineDecoder(kinds: BuiltinKinds.all, workspace: root).decode(bytes: Array(yaml.utf8), file: file).get()
    var options = RunOptions()
    options.keepGoing = true
    let summary = try Runner(workspace: try Workspace(root: root), pipeline: pipeline, options: options, observer: QuietObserver()).run()
    try inspect?(root)
    return (summary, try Lockfile.read(root.appendingPathComponent("p.lock").path))
}

/// Golden tests, one per kind: tiny input -> pinned output digests. A change that alters a
/// kind's output without bumping its `version` fails here.
@Suite struct GoldenKindTests {
    static let raw = """
    {"instruction": "What is 2 + 2?", "input": "", "output": "4"}
    {"instruction": "what is 2+2", "input": "", "output": "4"}
    {"instruction": "What is 3 + 5?", "input": "", "output": "8"}
    {"instruction": "Name  a colour", "input": "", "output": "blue"}
    {"instruction": "What is 3 + 5 ?", "input": "", "output": ""}
    not json
    {"instruction": "What is 10 - 7?", "input": "", "output": "3"}
    {"instruction": "What is 6 + 1?", "input": "", "output": "7"}
    {"instruction": "What is 5 + 0?", "input": "", "output": "5"}
    {"instruction": "What is 5 - 0?", "input": "", "output": "5"}
    """

    @Test func cleanAndSplitGiveThePinnedBytes() throws {
        let lock = try runPipeline("""
        seed: 3
        stages:
          clean: {kind: clean, inputs: {data: raw.jsonl}}
          split: {kind: split, inputs: {data: clean.data}, params: {ratios: [0.6, 0.2, 0.2]}}
        """, files: ["raw.jsonl": Self.raw])
        let clean = try #require(lock.stages["clean"])
        #expect(clean.metrics["kept"] == 7 && clean.metrics["malformed"] == 1 && clean.metrics["exact_duplicates"] == 1)
        #expect(clean.outputs["data"]?.digest.hex == "3be76cb8a25aa736ae5afae1706850c32c3dfdfc36d5f13e92222c76f9e681dd")
        #expect(clean.outputs["rejects"]?.digest.hex == "a1ba0e3ef54860c3cc288876c2e5479c6fb6fc1a0ffb2501292acc630cf6713d")
        let split = try #require(lock.stages["split"])
        #expect([split.metrics["train"], split.metrics["val"], split.metrics["test"]] == [4, 2, 1])
        #expect(split.outputs["train"]?.digest.hex == "b230f832dcdf167e6991b39b87065498b15f57305b1e76e98ed7af157307a5a6")
        #expect(split.outputs["val"]?.digest.hex == "3bda16c3e3b7847bac394263de15cf55ae3ca4f42a54279da7a624852f1737ee")
        #expect(split.outputs["test"]?.digest.hex == "bbc091ebbc3bc843a6eb56125f107c903df430d0a0a4f77e368d4c05fe697c93")
    }

    @Test func augmentGivesThePinnedBytesAndPointsAtItsSources() throws {
        let lock = try runPipeline("""
        seed: 3
        stages:
          augment:
            kind: augment
            inputs: {data: train.jsonl, synonyms: syn.txt}
            params: {multiplier: 3, synonym: 0.5}
        """, files: ["train.jsonl": Self.raw.split(separator: "\n").prefix(4).joined(separator: "\n") + "\n",
                     "syn.txt": "what: which\nname: give\n"])
        let augment = try #require(lock.stages["augment"])
        #expect(augment.metrics["originals"] == 4 && augment.metrics["augmented"] == 8 && augment.metrics["records"] == 12)
        #expect(augment.outputs["data"]?.digest.hex == "903e1be448b84e0f0d6acf60c8c1455f4991e483b9f666f2a313e38085eca38d")
    }

    @Test func tokenizeGivesThePinnedBytesAndMasksOnlyTheResponses() throws {
        let lock = try runPipeline("""
        stages:
          tokenize:
            kind: tokenize
            inputs: {train: train.jsonl, val: val.jsonl}
            params: {vocab_size: 300}
        """, files: ["train.jsonl": Self.raw.split(separator: "\n").filter { $0.contains("output\": \"") && !$0.contains("\"\"}") }.joined(separator: "\n") + "\n",
                     "val.jsonl": "{\"instruction\": \"What is 1 + 1?\", \"output\": \"2\"}\n"])
        let t = try #require(lock.stages["tokenize"])
        #expect(t.metrics["train_documents"] == 8 && t.metrics["val_documents"] == 1, "\(t.metrics)")
        #expect((t.metrics["train_loss_tokens"] ?? 0) < (t.metrics["train_tokens"] ?? 0) / 3)
        #expect(t.outputs["tokenizer"]?.digest.hex == "88c9033cc2f690c0a35fe93dbf0af1134937e61aaa3031500e3941bf66a415d2")
        #expect(t.outputs["data"]?.digest.hex == "9954b21a6087776ee5cf78c5f7f923808445c23f9bcc44569fe9d0f42bc70ba5")
    }
}

/// A dirty file through the clean kind: every bad line is in `rejects` with its reason.
@Suite struct DirtyInputTests {
    @Test func everyRejectedLineIsNamedWithItsReason() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hone-dirty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var raw: [UInt8] = [0xEF, 0xBB, 0xBF]
        raw += Array((
            "{\"instruction\": \"a\", \"output\": \"1\"}\r\n" +     // 1 kept (BOM, CRLF)
            "{\"instruction\": \"a\", \"output\": \"1\"}\r\n" +     // 2 exact duplicate of 1
            "{\"instruction\": \"b\", \"output\": \"\"}\n" +        // 3 empty output
            "{\"instruction\": \"c\", \"output\": 3}\n" +           // 4 wrong type
            "{\"instruction\": \"d\", \n" +                          // 5 invalid JSON
            "{\"instruction\": \"e\", \"output\": \"5\"}\n").utf8)  // 6 kept
        try Data(raw).write(to: root.appendingPathComponent("raw.jsonl"))
        let file = root.appendingPathComponent("p.yaml").path
        let yaml = "stages:\n  clean: {kind: clean, inputs: {data: raw.jsonl}, params: {max_reject_fraction: 0.9}}\n"
        let pipeline = try PipelineDecoder(kinds: BuiltinKinds.all, workspace: root).decode(bytes: Array(yaml.utf8), file: file).get()
        let ws = try Workspace(root: root)
        #expect(try !Runner(workspace: ws, pipeline: pipeline, options: RunOptions(), observer: QuietObserver()).run().failed)
        let rejects = try String(contentsOfFile: ws.outputView(stage: "clean", output: "rejects") + "/rejects.jsonl", encoding: .utf8)
        let lines = rejects.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == #"{"duplicate_of":"raw.jsonl:1","file":"raw.jsonl","line":2,"reason":"exact duplicate"}"#)
        #expect(lines[1] == #"{"file":"raw.jsonl","line":3,"reason":"empty 'output'"}"#)
        #expect(lines[2] == #"{"file":"raw.jsonl","line":4,"reason":"'output' must be a string"}"#)
        #expect(lines[3].hasPrefix(#"{"file":"raw.jsonl","line":5,"reason":"invalid JSON"#))
        let kept = try String(contentsOfFile: ws.outputView(stage: "clean", output: "data") + "/data.jsonl", encoding: .utf8)
        #expect(kept == "{\"instruction\":\"a\",\"output\":\"1\"}\n{\"instruction\":\"e\",\"output\":\"5\"}\n")
    }
}

/// Golden tests of the training kinds: a tiny model on a tiny corpus, pinned output digests.
/// sgemm's bits depend on OpenBLAS's kernel family, not on the CPU, so the pins hold for the
/// family they were taken on, Zen's; on another the test says so and checks determinism only,
/// and `make test` runs these suites again with OPENBLAS_CORETYPE=Zen (test-golden-zen).
@Suite struct GoldenTrainingKindTests {
    static let pinnedCore = "Zen"

    @Test func pretrainAndSFTGiveThePinnedBytes() throws {
        let records = (0..<24).map { i in "{\"instruction\": \"What is \(i) + \(i % 5)?\", \"output\": \"\(i + i % 5)\"}" }.joined(separator: "\n") + "\n"
        let yaml = """
        seed: 5
        stages:
          tokenize: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl}, params: {vocab_size: 280}}
          pretrain:
            kind: pretrain
            inputs: {data: tokenize.data, tokenizer: tokenize.tokenizer}
            params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 16, max_positions: 32, batch_size: 2, steps: 4, eval_every: 2}
          sft:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {seq_len: 32, batch_size: 2, steps: 3, dropout: 0.1, optimizer: sgd, schedule: linear}
        """
        let files = ["train.jsonl": records, "val.jsonl": String(records.split(separator: "\n").prefix(4).joined(separator: "\n")) + "\n"]
        let lock = try runPipeline(yaml, files: files)
        let again = try runPipeline(yaml, files: files)
        let pre = try #require(lock.stages["pretrain"]), sft = try #require(lock.stages["sft"])
        #expect(pre.metrics["steps"] == 4 && sft.metrics["steps"] == 3)
        #expect(pre.metrics["val_loss"] != nil && sft.metrics["val_loss"] != nil)
        #expect(again.stages["sft"]?.outputs["model"]?.digest == sft.outputs["model"]?.digest)
        guard BLASInfo.coreName == Self.pinnedCore else {
            print("golden training digests are pinned for OpenBLAS core \(Self.pinnedCore); this is \(BLASInfo.coreName): checked determinism only")
            return
        }
        #expect(pre.outputs["model"]?.digest.hex == "7c7ef5fc3de9fe129a376f0044e2a5d616f706f0a6cd081c2236395ce6f419b7", "pretrain model")
        #expect(pre.outputs["metrics"]?.digest.hex == "977ad2d2a7b4f9ba646f1fa3839109cc86a06e8133825ee67607d21a5afbfe3e", "pretrain metrics")
        #expect(sft.outputs["model"]?.digest.hex == "a5b09dcc6acd00fe6046d566f39a956a3eb51e978dffdfa81edfd83018eedc7d", "sft model")
        #expect(sft.outputs["metrics"]?.digest.hex == "5aad4eaf338f9d0af993c69f99e93772a28c0e96d823def122ebf207634c1c20", "sft metrics")
    }

    @Test func aKeptCheckpointLoadsAsABaseLikeTheModelItHolds() throws {
        let records = (0..<16).map { i in "{\"instruction\": \"Say \(i)\", \"output\": \"\(i)\"}" }.joined(separator: "\n") + "\n"
        let lock = try runPipeline("""
        stages:
          tokenize: {kind: tokenize, inputs: {train: train.jsonl}, params: {vocab_size: 270}}
          pretrain:
            kind: pretrain
            inputs: {data: tokenize.data, tokenizer: tokenize.tokenizer}
            params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 16, batch_size: 2, steps: 3, save_steps: 1, keep_checkpoints: true}
          from_model: {kind: sft, inputs: {data: tokenize.data, base: pretrain.model}, params: {seq_len: 16, batch_size: 2, steps: 2, shuffle: false}}
          from_checkpoint:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.checkpoints, tokenizer: tokenize.tokenizer}
            params: {seq_len: 16, batch_size: 2, steps: 2, shuffle: false}
        """, files: ["train.jsonl": records])
        // Without shuffling (the data order is keyed by stage name) the two start and end alike.
        let checkpoints = try #require(lock.stages["pretrain"]?.outputs["checkpoints"])
        #expect(checkpoints.size > 0)
        let a = lock.stages["from_model"]?.outputs["model"]?.digest, b = lock.stages["from_checkpoint"]?.outputs["model"]?.digest
        #expect(a != nil && a == b)
    }
}

/// Golden tests of the PEFT methods: LoRA, QLoRA, freezing, bottleneck adapters, prompt and prefix tuning on a tiny pretrained model,
/// pinned digests, and the adapter in PEFT's layout.
@Suite struct GoldenTuningTests {
    @Test func everyTuningMethodGivesThePinnedBytes() throws {
        let records = (0..<24).map { i in "{\"instruction\": \"What is \(i) + \(i % 5)?\", \"output\": \"\(i + i % 5)\"}" }.joined(separator: "\n") + "\n"
        let yaml = """
        seed: 7
        stages:
          tokenize: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl}, params: {vocab_size: 280}}
          pretrain:
            kind: pretrain
            inputs: {data: tokenize.data, tokenizer: tokenize.tokenizer}
            params: {hidden_size: 32, layers: 2, heads: 2, seq_len: 32, batch_size: 2, steps: 3}
          lora:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: lora, lora_rank: 4, lora_dropout: 0.1, seq_len: 32, batch_size: 2, steps: 3, lr: 0.01}
          qlora:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: qlora, quant: q4_1, lora_targets: [q_proj, v_proj], seq_len: 32, batch_size: 2, steps: 3, lr: 0.01}
          freeze:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: freeze, train_layers: 1, train_tensors: [model.norm.weight], seq_len: 32, batch_size: 2, steps: 3}
          adapter:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: adapter, adapter_size: 8, seq_len: 32, batch_size: 2, steps: 3, lr: 0.01}
          prompt:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: prompt, virtual_tokens: 4, seq_len: 28, batch_size: 2, steps: 3, lr: 0.1}
          prefix:
            kind: sft
            inputs: {data: tokenize.data, base: pretrain.model}
            params: {method: prefix, virtual_tokens: 4, seq_len: 28, batch_size: 2, steps: 3, lr: 0.01}
        """
        let files = ["train.jsonl": records, "val.jsonl": String(records.split(separator: "\n").prefix(4).joined(separator: "\n")) + "\n"]
        let lock = try runPipeline(yaml, files: files)
        let lora = try #require(lock.stages["lora"]), qlora = try #require(lock.stages["qlora"]), freeze = try #require(lock.stages["freeze"])
        // r·(in + out) per adapted projection, 2 layers: q, k, v, o are 32 → 32 (2 heads of 16,
        // no GQA), gate, up and down 32 ↔ 256; qlora takes the default rank 8 on q and v.
        #expect(lora.metrics["trainable_parameters"] == Double(2 * 4 * (4 * 64 + 3 * 288)))
        #expect(qlora.metrics["trainable_parameters"] == Double(2 * 8 * (2 * 64)))
        // 2md + m + d a layer, with m 8 and d 32.
        let adapter = try #require(lock.stages["adapter"])
        #expect(adapter.metrics["trainable_parameters"] == Double(2 * (2 * 8 * 32 + 8 + 32)))
        #expect(lora.outputs["adapter"].map { $0.size > 0 } == true && freeze.outputs["adapter"]?.size == 0)
        for stage in [lora, qlora, freeze] { #expect(stage.metrics["parameters"] == lock.stages["pretrain"]?.metrics["parameters"]) }
        #expect(adapter.metrics["parameters"] == (lock.stages["pretrain"]?.metrics["parameters"] ?? 0) + 2 * (2 * 8 * 32 + 8 + 32))
        let prompt = try #require(lock.stages["prompt"])
        #expect(prompt.metrics["trainable_parameters"] == 4 * 32 && (prompt.outputs["adapter"]?.size ?? 0) > 0)
        // A key and a value of width 32 for each of 4 virtual tokens in each of 2 layers.
        let prefix = try #require(lock.stages["prefix"])
        #expect(prefix.metrics["trainable_parameters"] == 4 * 2 * 2 * 32 && (prefix.outputs["adapter"]?.size ?? 0) > 0)
        let again = try runPipeline(yaml, files: files)
        for name in ["lora", "qlora", "freeze", "adapter", "prompt", "prefix"] {
            #expect(again.stages[name]?.outputs["model"]?.digest == lock.stages[name]?.outputs["model"]?.digest, "\(name) is not deterministic")
        }
        guard BLASInfo.coreName == GoldenTrainingKindTests.pinnedCore else {
            print("golden tuning digests are pinned for OpenBLAS core \(GoldenTrainingKindTests.pinnedCore); this is \(BLASInfo.coreName): checked determinism only")
            return
        }
        #expect(lora.outputs["model"]?.digest.hex == "74e52e66da5e3ce2df9c7a1f0de813bf056d602a050025a134605e8086f7ea46", "lora model")
        #expect(lora.outputs["adapter"]?.digest.hex == "4b0b23fea8abf42d4e8bd798937a7bd9f9094dcc83de98e0964dfe138fcb0f5d", "lora adapter")
        #expect(qlora.outputs["model"]?.digest.hex == "835a2deb5cc6da76e4e08287a7ad210f629706f63be7f355a5a6a3d3ea92d060", "qlora model")
        #expect(qlora.outputs["adapter"]?.digest.hex == "87a831297c6af03d7f9aa35003d4ee7624cefb12e99120b289abaf6b783bbc9e", "qlora adapter")
        #expect(freeze.outputs["model"]?.digest.hex == "35aed8b10197eb4a8537602b80abed511505382e9c9af14f7c0a3cfe73390cdc", "freeze model")
        #expect(adapter.outputs["model"]?.digest.hex == "3061c3a67d5836e24ad85bad16f4fec68f39a19a6f3c08bdd2a2866866e09e39", "adapter model")
        #expect(prompt.outputs["model"]?.digest.hex == "5df496e935b4a984220190dfb5311bd641df18012abf965bfd13e090b4061d4a", "prompt model")
        #expect(prompt.outputs["adapter"]?.digest.hex == "a99756b734eb49d5f991a2a286032ac4fb515f7968f4f6e04a159c043eaf1d9e", "prompt adapter")
        #expect(prefix.outputs["model"]?.digest.hex == "f53ecd87757756c6c57ccfb5c69f6a007e5cbc848aac5d96d456ae09c1fbcc3e", "prefix model")
    }
}

/// Continued pretraining on a domain with replay of a general corpus, and `evaluate` putting
/// perplexity before and after side by side on both corpora: pinned numbers and digests.
@Suite struct GoldenEvaluateTests {
    @Test func evaluateAndReplayGiveThePinnedNumbers() throws {
        let domain = (0..<60).map { i in "the motor \(i % 7) turns the gear \(i % 5) while the belt \(i % 3) runs" }.joined(separator: "\n") + "\n"
        let general = (0..<60).map { i in "a cat \(i % 4) sat on the mat near door \(i % 6) today" }.joined(separator: "\n") + "\n"
        func yaml(_ fraction: Double) -> String { """
        seed: 2
        stages:
          tok_domain: {kind: tokenize, inputs: {train: domain.txt, val: domain_val.txt}, params: {vocab_size: 300}}
          tok_general: {kind: tokenize, inputs: {train: general.txt, val: general_val.txt, tokenizer: tok_domain.tokenizer}}
          base:
            kind: pretrain
            inputs: {data: tok_general.data, tokenizer: tok_domain.tokenizer}
            params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 16, batch_size: 4, steps: 6}
          cpt:
            kind: pretrain
            inputs: {data: tok_domain.data, base: base.model, replay: tok_general.data}
            params: {seq_len: 16, batch_size: 4, steps: 6, replay_fraction: \(fraction), eval_before: true}
          before_general: {kind: evaluate, inputs: {model: base.model, data: tok_general.data}, params: {seq_len: 16}}
          after_general: {kind: evaluate, inputs: {model: cpt.model, data: tok_general.data}, params: {seq_len: 16}}
          after_domain: {kind: evaluate, inputs: {model: cpt.model, data: tok_domain.data}, params: {seq_len: 16, splits: [val, train]}}
        """ }
        let files = ["domain.txt": domain, "domain_val.txt": String(domain.split(separator: "\n").suffix(8).joined(separator: "\n")) + "\n",
                     "general.txt": general, "general_val.txt": String(general.split(separator: "\n").suffix(8).joined(separator: "\n")) + "\n"]
        let lock = try runPipeline(yaml(0.5), files: files)
        let lighter = try runPipeline(yaml(0.2), files: files)
        let replayed = try #require(lock.stages["cpt"]?.metrics["replay_tokens"])
        // Half the mixed tokens come from the general corpus: about as many as the domain has.
        let domainTokens = try #require(lock.stages["tok_domain"]?.metrics["train_tokens"])
        #expect(replayed >= domainTokens && replayed < domainTokens + 20, "replayed \(replayed) of \(domainTokens)")
        #expect((lighter.stages["cpt"]?.metrics["replay_tokens"] ?? 0) < replayed)
        // evaluate on the domain model's val shard agrees with the training stage's own last val loss.
        let after = try #require(lock.stages["after_domain"])
        #expect(after.metrics["val_loss"] == lock.stages["cpt"]?.metrics["val_loss"])
        #expect(after.metrics["train_perplexity"] != nil && after.metrics["val_tokens"] ?? 0 > 0)
        let before = try #require(lock.stages["before_general"]?.metrics["val_perplexity"])
        let forgotten = try #require(lock.stages["after_general"]?.metrics["val_perplexity"])
        #expect(before.isFinite && forgotten.isFinite)
        guard BLASInfo.coreName == GoldenTrainingKindTests.pinnedCore else {
            print("golden evaluate numbers are pinned for OpenBLAS core \(GoldenTrainingKindTests.pinnedCore); this is \(BLASInfo.coreName)")
            return
        }
        #expect(lock.stages["before_general"]?.metrics["val_loss"] == 5.583046, "before_general val_loss")
        #expect(lock.stages["after_general"]?.metrics["val_loss"] == 5.482824, "after_general val_loss")
        #expect(after.outputs["report"]?.digest.hex == "522a9c070bef4bc539fa817084d025f5b07e23511c41f1f24e8fd3efc889f8f5", "after_domain report")
        #expect(lock.stages["cpt"]?.outputs["model"]?.digest.hex == "5a47d94d354905d392fd7bc5abfb445219da368622014c9d9c5c8b47d2e67c41", "cpt model")
    }
}

/// Fine-tuning the real reference model (from `make model`): tokenize with the GGUF's own
/// tokenizer, then a few SFT steps from the GGUF as base. Skips, saying so, without the model.
@Suite struct RealBaseModelTests {
    static let smol = repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")

    @Test func sftFromSmolLM2LowersTheValLoss() throws {
        guard FileManager.default.fileExists(atPath: Self.smol.path) else {
            print("skipped: \(Self.smol.path) is missing (make model fetches it)")
            return
        }
        let records = (0..<24).map { i in "{\"instruction\": \"What is \(i) + \(i % 4 + 1)?\", \"output\": \"\(i + i % 4 + 1)\"}" }
        let lock = try runPipeline("""
        stages:
          tokenize: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl, tokenizer: smol.gguf}}
          sft:
            kind: sft
            inputs: {data: tokenize.data, base: smol.gguf}
            params: {seq_len: 48, batch_size: 2, steps: 3, eval_every: 3, lr: 5.0e-5, save_steps: 0, shuffle: false}
        """, files: ["train.jsonl": records.joined(separator: "\n") + "\n", "val.jsonl": records.prefix(6).joined(separator: "\n") + "\n"],
             copies: ["smol.gguf": Self.smol])
        let sft = try #require(lock.stages["sft"])
        #expect(sft.metrics["parameters"] == 134_515_008)
        let first = try #require(sft.metrics["val_loss_first"]), last = try #require(sft.metrics["val_loss"])
        #expect(last <= first, "val loss \(first) -> \(last)")
    }

    /// Evaluating the GGUF itself: each new token comes from the file's own blocks, as `hone
    /// generate` makes it (the fp32 weights, read whole per token, were 4–5 times slower), and
    /// the answers are the ones the blocks generator gives to the same prompt ids.
    @Test func evaluateOnTheGGUFGeneratesFromItsBlocks() throws {
        guard FileManager.default.fileExists(atPath: Self.smol.path) else {
            print("skipped: \(Self.smol.path) is missing (make model fetches it)")
            return
        }
        let questions = ["What is the capital of France?", "What is 12 times 3?"]
        let records = questions.map { "{\"instruction\": \"\($0)\", \"output\": \"x\"}" }
        var log = "", responses: [String] = []
        _ = try runPipeline("""
        stages:
          ev:
            kind: evaluate
            inputs: {model: smol.gguf, data: data.jsonl}
            params: {task: generate, max_new_tokens: 12}
        """, files: ["data.jsonl": records.joined(separator: "\n") + "\n"], copies: ["smol.gguf": Self.smol]) { root in
            let ws = try Workspace(root: root)
            let record = try #require(ws.runs.all().first { $0.stage == "ev" })
            log = String(decoding: try ws.objects.bytes(of: try #require(record.log)), as: UTF8.self)
            let samples = try String(contentsOf: root.appendingPathComponent(".hone/outputs/ev/report/samples.jsonl"), encoding: .utf8)
            responses = samples.split(separator: "\n").compactMap { try? JSONValue.parse(String($0))["response"]?.stringValue }
        }
        #expect(log.contains("each new token from smol.gguf's own blocks"), "log: \(log)")
        let m = try GGUFModel.load(Self.smol)
        let tokenizer = try Tokenizer(gguf: m.gguf)
        let generator = Generator(model: Model(config: m.config, weights: m.weights, tuning: .frozen),
                                  blocks: try GGUFModel.blockWeights(m.gguf, config: m.config))
        let end = Int32(try #require(tokenizer.specialTokens.first { $0.content == ChatTemplate.imEnd }).id)
        let expected = try questions.map { q in
            var greedy = Sampler(temperature: 0, topK: 0, topP: 1, seed: 0)
            let ids = tokenizer.encode("\(ChatTemplate.imStart)user\n\(q)\(ChatTemplate.imEnd)\n\(ChatTemplate.imStart)assistant\n").map(Int32.init)
            let answer = try generator.respond(to: ids, sampler: &greedy, maxNewTokens: 12, stop: [end])
            return tokenizer.decode((answer.last == end ? answer.dropLast() : answer[...]).map(Int.init))
        }
        #expect(responses == expected)
    }

    /// QLoRA on the real model: the file's Q4_1 blocks stay the frozen base, rank-8 adapters on
    /// all seven projections train (PEFT counts 2,442,240 for SmolLM2), and the val loss falls.
    @Test func qloraSFTFromSmolLM2LowersTheValLoss() throws {
        guard FileManager.default.fileExists(atPath: Self.smol.path) else {
            print("skipped: \(Self.smol.path) is missing (make model fetches it)")
            return
        }
        let records = (0..<24).map { i in "{\"instruction\": \"Reverse the word '\(["cat", "tree", "lamp", "stone"][i % 4])\(i)'.\", \"output\": \"\(String((["cat", "tree", "lamp", "stone"][i % 4] + String(i)).reversed()))\"}" }
        let lock = try runPipeline("""
        stages:
          tokenize: {kind: tokenize, inputs: {train: train.jsonl, val: val.jsonl, tokenizer: smol.gguf}}
          sft:
            kind: sft
            inputs: {data: tokenize.data, base: smol.gguf}
            params: {method: qlora, seq_len: 48, batch_size: 4, steps: 4, eval_before: true, lr: 1.0e-3, save_steps: 0, shuffle: false}
        """, files: ["train.jsonl": records.joined(separator: "\n") + "\n", "val.jsonl": records.prefix(8).joined(separator: "\n") + "\n"],
             copies: ["smol.gguf": Self.smol])
        let sft = try #require(lock.stages["sft"])
        #expect(sft.metrics["parameters"] == 134_515_008 && sft.metrics["trainable_parameters"] == 2_442_240)
        let first = try #require(sft.metrics["val_loss_first"]), last = try #require(sft.metrics["val_loss"])
        #expect(last < first, "val loss \(first) -> \(last)")
        #expect((sft.outputs["adapter"]?.size ?? 0) > 2_442_240 * 4)
    }
}
