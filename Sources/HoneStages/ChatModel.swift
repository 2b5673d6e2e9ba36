import Foundation
import HoneBase
import HoneData
import HoneFormats
import HoneModel
import HonePipeline
import HoneTensor

/// A model folder read for generation and scoring, with its tokenizer and the template its
/// training data was rendered with: ChatML when the vocabulary has <|im_start|>, else Alpaca.
/// Prompts are encoded segment by segment, exactly as `tokenize` encoded the training records,
/// so the model sees at inference the token ids it learned from.
struct ChatModel {
    let config: ModelConfig
    let weights: Buffer
    let tokenizer: Tokenizer
    /// The tokenizer.json bytes, copied beside a model this one becomes.
    let tokenizerJSON: Data
    let template: ChatTemplate
    /// The ids that end a response: the template's end token and <|endoftext|>.
    let stop: [Int32]
    /// The GGUF file the model was read from, if it was.
    private(set) var gguf: URL?

    init(_ folder: URL, input: String) throws {
        try self.init(try TrainStage.loadBase(folder, quant: nil), input: input)
        gguf = TrainStage.ggufFile(in: folder)
    }

    /// `base.weights` stays as it is: with quantized projections it holds the rest.
    init(_ base: TrainStage.Base, input: String) throws {
        guard let json = base.tokenizerJSON else {
            throw StageFailure("input '\(input)' has no tokenizer.json beside its model; give a model output of a training stage (it copies the tokenizer)")
        }
        tokenizerJSON = json
        tokenizer = try Tokenizer(json: try JSONValue.parse(json))
        guard tokenizer.bpe.tokens.count <= base.config.vocabSize else {
            throw StageFailure("input '\(input)': its tokenizer has \(tokenizer.bpe.tokens.count) tokens, more than the model's vocabulary of \(base.config.vocabSize)")
        }
        config = base.config; weights = base.weights
        let ids = Dictionary(tokenizer.specialTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
        template = ids[ChatTemplate.imStart] != nil ? .chatml : .alpaca
        stop = [ChatTemplate.imEnd, ChatTemplate.endOfText].compactMap { ids[$0].map(Int32.init) }
    }

    /// The prompt of an instruction (with its optional input): the template's text up to where
    /// the response starts.
    func prompt(instruction: String, input: String = "") throws -> [Int32] {
        let record = Record(fields: ["instruction": .string(instruction), "input": .string(input), "output": .string("")],
                            source: RecordSource(file: "", line: 0))
        var ids: [Int32] = []
        for segment in try template.render(record, format: .alpaca) {
            if segment.loss { break }
            ids += tokenizer.encode(segment.text).map(Int32.init)
        }
        return ids
    }

    /// A response's ids as training rendered it: its text and the template's end token.
    func response(_ text: String) -> [Int32] {
        tokenizer.encode(text + (template == .chatml ? ChatTemplate.imEnd : ChatTemplate.endOfText)).map(Int32.init)
    }

    /// The model, frozen: what answers and scores.
    func frozen() -> Model { Model(config: config, weights: weights, threads: Parallel.defaultThreads, tuning: .frozen) }

    /// What answers: the frozen model with a KV cache. A model read from a GGUF generates each
    /// token from the file's own blocks, as `hone generate` does: the fp32 weights, read whole
    /// for every token, made SmolLM2 generate 24 tokens/s against 110 (BENCHMARKS.md).
    func generator(_ context: StageContext) throws -> Generator {
        guard let gguf else { return Generator(model: frozen()) }
        context.log.write("\(context.stageName): each new token from \(gguf.lastPathComponent)'s own blocks, as hone generate does (prompts in fp32)")
        return Generator(model: frozen(), blocks: try GGUFModel.blockWeights(GGUF(url: gguf), config: config))
    }

    /// A generated response's text, without the stop token that ended it.
    func text(_ response: [Int32]) -> String {
        let kept = response.last.map { stop.contains($0) } == true ? response.dropLast() : response[...]
        return tokenizer.decode(kept.map(Int.init))
    }
}
