/// A `-S key=value` from the command line: `stage.param=value` sets one param of one stage,
/// `name=value` sets a var. The value is read as a YAML scalar (`3e-4` is a number), or a
/// flow list (`[a, b]`) when in brackets.
public struct Override: Sendable, Hashable {
    public let stage: String?
    public let key: String
    public let value: String
    public let text: String

    /// Splits at the first `=`, then the key at its first `.`: stage names hold no dots, so
    /// `sft.lr=3e-4` is unambiguous and a value may hold dots, commas and `=`.
    public init?(_ text: String) {
        guard let eq = text.firstIndex(of: "=") else { return nil }
        let key = String(text[..<eq])
        guard !key.isEmpty else { return nil }
        value = String(text[text.index(after: eq)...])
        self.text = text
        if let dot = key.firstIndex(of: ".") {
            stage = String(key[..<dot])
            self.key = String(key[key.index(after: dot)...])
            guard !self.key.isEmpty, !(stage ?? "").isEmpty else { return nil }
        } else {
            stage = nil
            self.key = key
        }
    }

    var node: Node {
        // A flow list, `[a, b]`, is a list (a matrix's values in a var, say).
        if value.hasPrefix("["), value.hasSuffix("]"), case let .success(root) = YAMLLoader.load(Array(value.utf8), file: "-S \(text)"),
           root.items != nil {
            return root
        }
        let quoted = value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2
        let text = quoted ? String(value.dropFirst().dropLast()) : value
        return Node(.scalar(text, quoted: quoted), at: .override(self.text))
    }
}
