import Foundation
import HoneBase
import HonePipeline

/// Ground truth for generated text: a score in [0, 1] per (prompt, response, reference).
///
/// - exact: the response is the reference.
/// - normalized: equal after lower-casing, trimming, collapsing whitespace and dropping a final
///   full stop.
/// - contains: the normalised response contains the normalised reference.
/// - regex: the reference, as a regular expression, matches somewhere in the response.
/// - numeric: the first number in the response equals the reference's within `tolerance`.
/// - command: a shell command run once from the workspace root, reading one JSON object per
///   line on stdin ({"prompt", "response", "reference"}) and writing one score in [0, 1] per
///   line on stdout. A command that fails, or answers with the wrong count or a bad number, is
///   a stage error, never a zero score.
struct Checker {
    enum Kind: String, CaseIterable { case exact, normalized, contains, regex, numeric, command }

    struct Item {
        let prompt: String, response: String, reference: String
    }

    let kind: Kind
    var command: String?
    var tolerance = 1e-6
    var workspace: URL
    /// Extra environment for the command ($HONE_INPUT_checker).
    var environment: [String: String] = [:]

    static let params = [
        ParamSpec("checker", .string(choices: Kind.allCases.map(\.rawValue)), default: .string("normalized"),
                  help: "how a response is scored against the reference: exact, normalized, contains, regex, numeric, or command (checker_cmd)"),
        ParamSpec("checker_cmd", .string(), default: .string(""),
                  help: "checker: command — a shell command reading JSON lines {prompt, response, reference} on stdin and writing one score in [0, 1] per line; the optional `checker` input is in the folder $HONE_INPUT_checker"),
        ParamSpec("tolerance", .number(min: 0), default: .double(1e-6), help: "checker: numeric — the largest difference that still passes"),
    ]

    static func check(_ p: Params) -> [ParamIssue] {
        let cmd = p.string("checker_cmd") ?? ""
        if p.string("checker") == "command" && cmd.isEmpty {
            return [ParamIssue(param: "checker_cmd", message: "checker: command needs checker_cmd, the command to run")]
        }
        if p.string("checker") != "command" && !cmd.isEmpty {
            return [ParamIssue(param: "checker_cmd", message: "checker_cmd is only run with checker: command")]
        }
        return []
    }

    init(_ context: StageContext) {
        let p = context.params
        kind = Kind(rawValue: p.string("checker") ?? "normalized") ?? .normalized
        command = p.string("checker_cmd")
        tolerance = p.double("tolerance") ?? 1e-6
        workspace = context.workspace
        if let file = context.inputs["checker"] { environment["HONE_INPUT_checker"] = file.path }
    }

    init(kind: Kind, command: String? = nil, workspace: URL) {
        self.kind = kind; self.command = command; self.workspace = workspace
    }

    func scores(_ items: [Item]) throws -> [Double] {
        guard kind == .command else { return try items.map(score) }
        return try run(items)
    }

    static func normalize(_ s: String) -> String {
        var t = s.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        while t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// The first number in the text (an optional minus sign, digits, an optional fraction).
    static func firstNumber(_ s: String) -> Double? {
        guard let r = s.range(of: #"-?[0-9]+(\.[0-9]+)?"#, options: .regularExpression) else { return nil }
        return Double(s[r])
    }

    func score(_ item: Item) throws -> Double {
        switch kind {
        case .exact: return item.response == item.reference ? 1 : 0
        case .normalized: return Self.normalize(item.response) == Self.normalize(item.reference) ? 1 : 0
        case .contains: return Self.normalize(item.response).contains(Self.normalize(item.reference)) ? 1 : 0
        case .regex:
            do {
                let re = try NSRegularExpression(pattern: item.reference)
                let range = NSRange(item.response.startIndex..., in: item.response)
                return re.firstMatch(in: item.response, range: range) != nil ? 1 : 0
            } catch {
                throw StageFailure("checker regex: the reference '\(item.reference)' is not a regular expression")
            }
        case .numeric:
            guard let want = Self.firstNumber(item.reference) else {
                throw StageFailure("checker numeric: the reference '\(item.reference)' holds no number")
            }
            return Self.firstNumber(item.response).map { abs($0 - want) <= tolerance ? 1 : 0 } ?? 0
        case .command: return 0
        }
    }

    private func run(_ items: [Item]) throws -> [Double] {
        guard let command, !command.isEmpty else { throw StageFailure("checker: command needs checker_cmd") }
        let input = items.map { JSONValue.object(["prompt": .string($0.prompt), "response": .string($0.response), "reference": .string($0.reference)]).canonical + "\n" }.joined()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = workspace
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stdin = Pipe(), stdout = Pipe()
        // stderr goes to a file: read after the exit, it cannot block the checker meanwhile.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("hone-checker-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        process.standardInput = stdin; process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: errorFile)
        // A checker that exits without reading its input must fail the stage, not kill hone.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        ChildProcesses.shared.add(process.processIdentifier)
        defer { ChildProcesses.shared.remove(process.processIdentifier) }
        // Write on another thread: a checker may answer line by line and fill its stdout pipe.
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? Data(contentsOf: errorFile)) ?? Data()
        let tail = String(decoding: errors.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw StageFailure("the checker command `\(command)` \(how)" + (tail.isEmpty ? "" : ":\n\(tail)"))
        }
        // Lines end in \n or \r\n (Swift reads "\r\n" as one character).
        let lines = String(decoding: out, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let answers = lines.last == "" ? Array(lines.dropLast()) : lines
        guard answers.count == items.count else {
            throw StageFailure("the checker command `\(command)` answered \(answers.count) lines for \(items.count) responses; it must print one score per input line")
        }
        return try answers.enumerated().map { i, line in
            guard let v = Double(line), v >= 0, v <= 1 else {
                throw StageFailure("the checker command `\(command)`: line \(i + 1) of its output is '\(line.prefix(80))', expected a score between 0 and 1")
            }
            return v
        }
    }
}
