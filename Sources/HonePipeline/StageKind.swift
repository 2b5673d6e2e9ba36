import Foundation

/// What every stage kind declares and what it receives when it runs (DESIGN, "Stage contract").
///
/// A kind is a pure function of its inputs and params: same fingerprint, same output bytes. It
/// reads only `StageContext.inputs`, writes only `StageContext.outputs` (empty folders it fills),
/// keeps resumable state in `StageContext.scratch`, and never reads the clock or the process
/// environment for anything that lands in an output.
///
/// The `shell` kind is the runner's own (it works on workspace files, as DVC users expect) and
/// does not go through this protocol; every other kind does.
public protocol StageKind: Sendable {
    /// The `kind:` value in a pipeline file, e.g. `split`.
    var name: String { get }
    /// Bumped whenever the output for the same inputs and params changes. Part of the fingerprint.
    var version: String { get }
    /// One line for `hone kinds` and error messages.
    var summary: String { get }
    var params: [ParamSpec] { get }
    var inputs: [InputSpec] { get }
    var outputs: [OutputSpec] { get }
    /// Numeric kinds add the BLAS kernel family to their fingerprint: it changes their bytes.
    var isNumeric: Bool { get }
    /// Checks across params that a per-param type cannot express (e.g. ratios summing to 1).
    /// Each issue names the param it is about, so the error can point at its line and column.
    func check(_ params: Params) -> [ParamIssue]
    func run(_ context: StageContext) throws -> StageResult
}

extension StageKind {
    public var isNumeric: Bool { false }
    public func check(_ params: Params) -> [ParamIssue] { [] }
}

public struct InputSpec: Sendable {
    public let name: String
    public let help: String
    public let optional: Bool
    public init(_ name: String, help: String, optional: Bool = false) {
        self.name = name; self.help = help; self.optional = optional
    }
}

public struct OutputSpec: Sendable {
    public let name: String
    public let help: String
    public init(_ name: String, help: String) { self.name = name; self.help = help }
}

/// A problem with one param found by `StageKind.check`.
public struct ParamIssue: Sendable, Equatable {
    public let param: String
    public let message: String
    public init(param: String, message: String) { self.param = param; self.message = message }
}

/// What a kind hands back besides its output folders.
public struct StageResult: Sendable {
    /// Deterministic numbers (loss, counts): they go into the run record and the lockfile.
    public var metrics: [String: Double]
    public init(metrics: [String: Double] = [:]) { self.metrics = metrics }
}

/// Everything a running stage may touch.
public struct StageContext: Sendable {
    public let stageName: String
    public let params: Params
    /// Read-only folders, one per declared input that the pipeline bound.
    public let inputs: [String: URL]
    /// Empty folders, one per declared output; the stage fills them.
    public let outputs: [String: URL]
    /// Survives a crash, keyed by fingerprint: checkpoints live here. Removed after success.
    public let scratch: URL
    /// The pipeline's `seed:`.
    public let pipelineSeed: UInt64
    public let progress: ProgressReporter
    public let log: LogSink
    /// The workspace root: where a command the stage runs (a checker) starts, as shell stages do.
    public let workspace: URL

    /// Whose randomness the stage draws: its name, or for an instance of a swept stage the
    /// stage's name in the file, so every instance sees the same data order and initial weights.
    public let randomnessName: String

    public init(stageName: String, params: Params, inputs: [String: URL], outputs: [String: URL],
                scratch: URL, pipelineSeed: UInt64, progress: ProgressReporter, log: LogSink,
                workspace: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath), randomnessName: String? = nil) {
        self.stageName = stageName; self.randomnessName = randomnessName ?? stageName; self.params = params; self.inputs = inputs
        self.outputs = outputs; self.scratch = scratch; self.pipelineSeed = pipelineSeed
        self.progress = progress; self.log = log; self.workspace = workspace
    }

    /// The 64-bit key for one stream of randomness: (pipeline seed, stage name, purpose).
    /// Renaming a stage changes its randomness, as it changes its fingerprint's meaning.
    public func seed(for purpose: String) -> UInt64 {
        RandomKey.derive(seed: pipelineSeed, stage: randomnessName, purpose: purpose)
    }
}

/// Where a stage reports how far it is. Thread-safe; called from the stage's own threads.
public protocol ProgressReporter: Sendable {
    /// `done` of `total` units (`unit` e.g. "step", "record"), with an optional short message.
    func update(done: Int, total: Int?, unit: String, message: String?)
}

/// A stage's own log lines: kept with its run record (`hone logs STAGE`).
public protocol LogSink: Sendable {
    func write(_ line: String)
}
