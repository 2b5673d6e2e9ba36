import Foundation
import Testing

/// A scratch workspace in a temporary folder, and the `hone` binary run inside it.
final class Sandbox {
    let root: URL
    /// Set for every process the sandbox starts, over the test's own environment.
    var environment: [String: String] = [:]
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var hone: String {
        if let bin = ProcessInfo.processInfo.environment["HONE_BIN"], !bin.isEmpty { return bin }
        for config in ["release", "debug"] {
            let p = repo.appendingPathComponent(".build/\(config)/hone").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return "hone"
    }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("hone-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", root.path]).waitUntilExit()
        try? FileManager.default.removeItem(at: root)
    }

    func path(_ rel: String) -> String { root.appendingPathComponent(rel).path }

    func write(_ rel: String, _ text: String) throws {
        let url = root.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ rel: String) -> String? {
        FileManager.default.contents(atPath: path(rel)).map { String(decoding: $0, as: UTF8.self) }
    }

    func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: path(rel)) }

    struct Result {
        let status: Int32
        let out: String
        let err: String
        var all: String { out + err }
    }

    /// Runs hone to completion.
    @discardableResult
    func hone(_ args: String...) throws -> Result { try hone(args) }

    func hone(_ args: [String]) throws -> Result { try run(Sandbox.hone, args) }

    /// Runs any program in the sandbox, as `hone` runs hone.
    func run(_ executable: String, _ args: [String]) throws -> Result {
        let p = start(args)
        p.process.executableURL = URL(fileURLWithPath: executable)
        let outFile = p.out, errFile = p.err
        try p.process.run()
        p.process.waitUntilExit()
        return Result(status: p.process.terminationStatus,
                      out: String(decoding: (try? Data(contentsOf: outFile)) ?? Data(), as: UTF8.self),
                      err: String(decoding: (try? Data(contentsOf: errFile)) ?? Data(), as: UTF8.self))
    }

    /// A hone process set up but not started; output goes to files (no pipe to fill up).
    func start(_ args: [String]) -> (process: Process, out: URL, err: URL) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Sandbox.hone)
        p.arguments = args
        p.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env["CI"] = "true"
        p.environment = env.merging(environment) { $1 }
        let id = UUID().uuidString
        let out = root.appendingPathComponent(".out-\(id)"), err = root.appendingPathComponent(".err-\(id)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try? FileHandle(forWritingTo: out)
        p.standardError = try? FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        return (p, out, err)
    }

    /// Starts `hone ARGS` and kills it with SIGKILL as soon as `due()` says so (polled every
    /// 200 µs, for at most `seconds`); true when it was killed then, by the signal.
    func runAndKill(_ args: [String], seconds: Double = 60, when due: () -> Bool) throws -> Bool {
        let p = start(args)
        try p.process.run()
        let started = Date()
        var killed = false
        while p.process.isRunning && Date().timeIntervalSince(started) < seconds {
            if due() {
                kill(p.process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(200)
        }
        p.process.waitUntilExit()
        return killed && p.process.terminationReason == .uncaughtSignal
    }

    func sh(_ command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = root
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "sh -c \(command)")
    }

    /// Waits until `rel` exists (a stage writing a marker), up to `seconds`.
    func waitFor(_ rel: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if exists(rel) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Files under .hone/objects.
    func objectFiles() -> [String] {
        let base = path(".hone/objects")
        guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.count == 65 }.map { "\(base)/\($0)" }.sorted()
    }
}

/// A linear chain of shell stages like ../shared/bench/dvc_overhead.sh: s1 reads in.txt and its
/// param seed, each later stage appends a line to its predecessor's output.
func chainPipeline(_ n: Int, seed: Int = 1) -> String {
    var y = "stages:\n"
    var prev = "in.txt"
    for i in 1...n {
        y += "  s\(i):\n    kind: shell\n"
        if i == 1 {
            y += "    cmd: (cat \(prev); echo seed ${seed}) > o\(i).txt\n    params: {seed: \(seed)}\n"
        } else {
            y += "    cmd: (cat \(prev); echo \(i)) > o\(i).txt\n"
        }
        y += "    deps: [\(prev)]\n    outs: [o\(i).txt]\n"
        prev = "o\(i).txt"
    }
    return y
}

/// The stages a run printed as "ran" or "restored".
func acted(_ r: Sandbox.Result, _ word: String) -> [String] {
    r.out.split(separator: "\n").compactMap { line in
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[1].hasPrefix(" \(word) in ") else { return nil }
        return String(parts[0])
    }
}

/// What several CLI tests start from: `gen` writes instruction records with gen.sh (from
/// `writeRecordGenerator`), `split` splits them, `tok` trains a tokenizer on them.
extension Sandbox {
    static let recordStages = """
      gen:
        kind: shell
        cmd: sh gen.sh > data.jsonl
        deps: [gen.sh]
        outs: [data.jsonl]
      split: {kind: split, inputs: {data: data.jsonl}}
      tok: {kind: tokenize, inputs: {train: split.train, val: split.val}, params: {vocab_size: 270}}
    """

    func writeRecordGenerator(records: Int) throws {
        try write("gen.sh", #"for i in $(seq 1 \#(records)); do printf '{"instruction": "say %d", "output": "%d"}\n' $i $i; done"# + "\n")
    }
}
