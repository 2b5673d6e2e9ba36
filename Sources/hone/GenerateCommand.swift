import ArgumentParser
import Foundation
import HoneBase
import HoneData
import HoneFormats
import HoneModel
import HoneStages
import HoneTensor

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a model (a KV cache makes each new token one row of work).",
        discussion: """
        MODEL is a folder with config.json, model.safetensors and tokenizer.json (what pretrain and
        sft write; `hone export sft.model DIR`), STAGE.OUTPUT of the pipeline (e.g. sft.model), or
        a Llama GGUF file (e.g. models/SmolLM2-135M-Instruct.Q4_1.gguf from `make model`).
        With a chat template the prompt is sent as one user message and the answer stops at
        <|im_end|>. Temperature 0 is greedy; otherwise sampling is seeded (the same seed gives the
        same text).
        """)

    @Argument(help: "A model folder, or STAGE.OUTPUT.") var model: String
    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .long, help: "Most new tokens.") var maxTokens = 64
    @Option(name: .long, help: "0: greedy; above 0: sample from softmax(logits / temperature).") var temperature = 0.0
    @Option(name: .long, help: "Sample among the k likeliest tokens only (0: all).") var topK = 0
    @Option(name: .long, help: "Sample within the smallest set of tokens whose probability reaches p.") var topP = 1.0
    @Option(name: .long, help: "Seed for sampling.") var seed: UInt64 = 0
    @Option(name: .long, help: "chatml, none, or auto (chatml when the tokenizer has <|im_start|>).") var template = "auto"
    @Option(name: .long, help: "Also write the prompt's ids and logits to this safetensors file (for interop checks).") var logits: String?
    @Flag(name: .long, help: "Print one JSON object at the end instead of streaming text: prompt_ids, ids (the new tokens), text.") var json = false
    @OptionGroup var file: PipelineArgument

    func run() throws {
        let loaded: (config: ModelConfig, weights: Buffer)
        var blocks: BlockWeights?
        let tokenizer: Tokenizer
        var systemPrompt: String?
        do {
            if model.hasSuffix(".gguf") {
                let m = try GGUFModel.load(URL(fileURLWithPath: model))
                loaded = (m.config, m.weights)
                blocks = try GGUFModel.blockWeights(m.gguf, config: m.config)
                tokenizer = try Tokenizer(gguf: m.gguf)
                if let text = m.gguf.metadata["tokenizer.chat_template"]?.string, template == "auto" {
                    guard let known = KnownChatTemplate(text: text) else {
                        printError("\(model): its chat template is not one Hone knows; pass --template chatml or --template none")
                        throw ExitCode(2)
                    }
                    systemPrompt = known.defaultSystem
                }
            } else {
                let (folder, temporary) = try resolveModel()
                defer { if temporary { try? FileManager.default.removeItem(at: folder) } }
                loaded = try ModelFiles.load(folder)
                let tokURL = folder.appendingPathComponent("tokenizer.json")
                guard let data = FileManager.default.contents(atPath: tokURL.path) else {
                    printError("\(folder.path) has no tokenizer.json")
                    throw ExitCode(2)
                }
                tokenizer = try Tokenizer(json: try JSONValue.parse(data))
            }
        } catch let e as ExitCode { throw e } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        guard ["auto", "chatml", "none"].contains(template) else {
            printError("--template: expected chatml, none or auto, found '\(template)'")
            throw ExitCode(2)
        }
        let specials = Dictionary(tokenizer.specialTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
        let chat = template == "chatml" || (template == "auto" && specials[ChatTemplate.imStart] != nil)
        let system = systemPrompt.map { "\(ChatTemplate.imStart)system\n\($0)\(ChatTemplate.imEnd)\n" } ?? ""
        let text = chat ? system + "\(ChatTemplate.imStart)user\n\(prompt)\(ChatTemplate.imEnd)\n\(ChatTemplate.imStart)assistant\n" : prompt
        let ids = tokenizer.encode(text).map { Int32($0) }
        guard !ids.isEmpty else {
            printError("the prompt encodes to no tokens")
            throw ExitCode(2)
        }
        if let bad = ids.first(where: { Int($0) >= loaded.config.vocabSize }) {
            printError("the tokenizer gave id \(bad), outside the model's vocabulary of \(loaded.config.vocabSize): tokenizer.json does not belong to this model")
            throw ExitCode(2)
        }
        var stops = Set([ChatTemplate.imEnd, ChatTemplate.endOfText].compactMap { specials[$0] })
        if let eos = loaded.config.eosTokenId { stops.insert(eos) }

        let model = Model(config: loaded.config, weights: loaded.weights, threads: Parallel.defaultThreads, tuning: .frozen)
        let generator = Generator(model: model, blocks: blocks)
        var sampler = Sampler(temperature: temperature, topK: topK, topP: topP, seed: seed)
        let started = Date()
        var last: [Float]
        do {
            if let logits {
                let all = try generator.feed(ids, allLogits: true)
                try writeLogits(all, ids: ids, vocab: loaded.config.vocabSize, to: logits)
                last = Array(all.suffix(loaded.config.vocabSize))
            } else {
                last = try generator.feed(ids)
            }
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        // Printed as UTF-8 bytes: a new token can extend the last character (a combining mark),
        // which a count of Characters would miss.
        var out: [Int] = [], printed = 0, contextFull = false
        while out.count < maxTokens {
            let next = sampler.pick(last[...])
            if stops.contains(next) { break }
            out.append(next)
            let bytes = Array(tokenizer.decode(out).utf8)
            // Print only whole characters: a byte-level token may end inside one (decoded as U+FFFD).
            if !json && !(bytes.count >= 3 && bytes.suffix(3) == [0xEF, 0xBF, 0xBD]) {
                FileHandle.standardOutput.write(Data(bytes[printed...]))
                printed = bytes.count
            }
            guard generator.length < loaded.config.maxPositions else { contextFull = true; break }
            do { last = try generator.feed([Int32(next)]) } catch { contextFull = true; break }
        }
        let bytes = Array(tokenizer.decode(out).utf8)
        if json {
            let line: JSONValue = .object(["prompt_ids": .array(ids.map { .int(Int($0)) }), "ids": .array(out.map { .int($0) }),
                                           "text": .string(tokenizer.decode(out))])
            print(line.canonical)
        } else {
            FileHandle.standardOutput.write(Data(bytes[min(printed, bytes.count)...]) + Data("\n".utf8))
        }
        if contextFull {
            printError("stopped: the model takes \(loaded.config.maxPositions) positions (max_positions when it was trained), prompt included")
        }
        let seconds = Date().timeIntervalSince(started)
        printError(String(format: "%d prompt + %d new tokens in %.2fs (%.1f tok/s)", ids.count, out.count, seconds,
                          Double(ids.count + out.count) / max(seconds, 1e-9)))
    }

    /// A folder as it is, or STAGE.OUTPUT restored from the store into a temporary folder
    /// (`temporary`: removed when generation ends).
    func resolveModel() throws -> (URL, temporary: Bool) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue {
            return (URL(fileURLWithPath: model), false)
        }
        guard model.contains("."), !model.contains("/") else {
            printError("\(model): no such folder; give a model folder, a .gguf file or STAGE.OUTPUT (e.g. sft.model)")
            throw ExitCode(2)
        }
        let loaded = try loadPipeline(file.pipeline)
        let artifact = try outputArtifact(loaded, model).artifact
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("hone-generate-\(getpid())")
        try? FileManager.default.removeItem(at: dest)
        try loaded.workspace.objects.restoreArtifact(artifact, to: dest.path)
        return (dest, true)
    }

    func writeLogits(_ all: [Float], ids: [Int32], vocab: Int, to path: String) throws {
        let idsFloat = ids.map { Float($0) }
        try all.withUnsafeBufferPointer { l in
            try idsFloat.withUnsafeBufferPointer { i in
                try Safetensors.write([("ids", [ids.count], i), ("logits", [ids.count, vocab], l)], to: URL(fileURLWithPath: path))
            }
        }
    }
}
