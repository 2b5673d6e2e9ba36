import HoneBase

/// How a record becomes training text: segments of text, each in the loss or not. SFT trains
/// on the response only, so the prompt's segments are out of the loss.
public enum ChatTemplate: String, Sendable, CaseIterable {
    /// The record's text as it is, then the end-of-text token; all of it in the loss (pretraining).
    case none
    /// `<|im_start|>role\n…<|im_end|>\n` per message; the assistant's content and its
    /// `<|im_end|>` are in the loss.
    case chatml
    /// Stanford Alpaca's prompt ("Below is an instruction…", `### Instruction:`, optional
    /// `### Input:`, `### Response:`); the response and the end-of-text token are in the loss.
    case alpaca

    public static let imStart = "<|im_start|>", imEnd = "<|im_end|>", endOfText = "<|endoftext|>"

    /// The special tokens the template needs in the vocabulary.
    public var specialTokens: [String] {
        self == .chatml ? [ChatTemplate.endOfText, ChatTemplate.imStart, ChatTemplate.imEnd] : [ChatTemplate.endOfText]
    }

    public struct Segment: Sendable, Equatable {
        public let text: String
        public let loss: Bool
    }

    public enum Failure: Error, CustomStringConvertible {
        case unsupported(RecordFormat, ChatTemplate)
        public var description: String {
            switch self {
            case let .unsupported(f, t): return "the \(t.rawValue) template cannot render \(f.rawValue) records"
            }
        }
    }

    static let alpacaPreamble = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"

    public func render(_ record: Record, format: RecordFormat) throws -> [Segment] {
        switch (self, format) {
        case (.none, .text), (.none, .textLabel):
            return [Segment(text: (record["text"] ?? "") + ChatTemplate.endOfText, loss: true)]
        case (.alpaca, .alpaca):
            var prompt = ChatTemplate.alpacaPreamble + "### Instruction:\n" + (record["instruction"] ?? "") + "\n\n"
            if let input = record["input"], !input.isEmpty { prompt += "### Input:\n" + input + "\n\n" }
            prompt += "### Response:\n"
            return [Segment(text: prompt, loss: false), Segment(text: (record["output"] ?? "") + ChatTemplate.endOfText, loss: true)]
        case (.chatml, .alpaca):
            var user = record["instruction"] ?? ""
            if let input = record["input"], !input.isEmpty { user += "\n\n" + input }
            return ChatTemplate.chatml([("user", user), ("assistant", record["output"] ?? "")])
        case (.chatml, .chat):
            let messages = (record.fields["messages"]?.arrayValue ?? []).map {
                ($0["role"]?.stringValue ?? "", $0["content"]?.stringValue ?? "")
            }
            return ChatTemplate.chatml(messages)
        default:
            throw Failure.unsupported(format, self)
        }
    }

    static func chatml(_ messages: [(role: String, content: String)]) -> [Segment] {
        var out: [Segment] = []
        for m in messages {
            out.append(Segment(text: imStart + m.role + "\n", loss: false))
            let assistant = m.role == "assistant"
            out.append(Segment(text: m.content + imEnd, loss: assistant))
            out.append(Segment(text: "\n", loss: false))
        }
        return out
    }
}
