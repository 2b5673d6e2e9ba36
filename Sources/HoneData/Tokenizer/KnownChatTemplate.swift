/// Chat templates recognised by their exact Jinja text (a model file's `tokenizer.chat_template`),
/// so Hone renders them without a Jinja engine. An unknown text is refused by the caller.
public enum KnownChatTemplate: Sendable {
    /// ChatML with SmolLM2's default system message (../shared/REFERENCE.md §5).
    case smolLM2

    static let smolLM2Text = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    public init?(text: String) {
        switch text {
        case Self.smolLM2Text: self = .smolLM2
        default: return nil
        }
    }

    /// The system message the template inserts when the conversation has none.
    public var defaultSystem: String? {
        switch self {
        case .smolLM2: return "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
        }
    }
}
