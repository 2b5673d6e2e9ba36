import Foundation

/// Runs Tests/oracles/hf_tokenizers.py with the venv's Python (HONE_PYTHON, or .venv/bin/python).
/// Tests that need it are skipped, with the reason shown, when `tokenizers` is not installed.
enum HFOracle {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python: String = {
        if let p = ProcessInfo.processInfo.environment["HONE_PYTHON"], FileManager.default.isExecutableFile(atPath: p) { return p }
        return repo.appendingPathComponent(".venv/bin/python").path
    }()

    static let available: Bool = (try? run(["-c", "import tokenizers"], script: false)) != nil
    static let skipReason: Comment = "HF tokenizers not installed in \(python): run `make deps`"

    /// Runs the oracle script (or python itself) and returns stdout; throws on a non-zero exit.
    @discardableResult
    static func run(_ args: [String], script: Bool = true) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = (script ? [repo.appendingPathComponent("Tests/oracles/hf_tokenizers.py").path] : []) + args
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("oracle-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return try Data(contentsOf: out)
    }

    static func tempJSON(_ value: Any) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oracle-in-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: value).write(to: URL(fileURLWithPath: path))
        return path
    }
}

import Testing


/// A varied corpus for tokenizer oracles: English, CJK, emoji with modifiers, combining marks,
/// control characters, long whitespace runs, contractions, numbers, and characters next to
/// where invalid UTF-8 would be (U+FFFD, noncharacters, the BOM).
let variedTexts: [String] = [
    "Hello  world's\n", "don't stop!!  ", "x  \n\n  y", " 12 345 abc", "日本語のテキスト、です。", "emoji 😀👍🏽 ok",
    "e\u{301} combining", "tab\there", "\u{a0}nbsp\u{2003}em", "''s ' s", "a\r\nb", "    ", "",
    "We're they'll I've you'd HE'S", "\u{0}\u{1}\u{7f}\u{85}ctrl", String(repeating: " ", count: 40) + "end",
    "\u{fffd}\u{feff}bom\u{fffe}", "한국어 텍스트", "Ünïcödé naïve café", "$100.00 + 5% = ?", "٣٤٥ arabic digits ٣",
    "mixed123abc456", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math", "line1\nline2\n\n\nline5", "🏳️‍🌈 zwj", "snake_case-and-kebab",
]
