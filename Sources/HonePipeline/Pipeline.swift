import HoneBase
import HoneStore

/// A validated pipeline: every name resolved, every param typed, every path inside the workspace.
/// Built only by `PipelineDecoder`; whatever holds one may trust it.
public struct Pipeline: Sendable {
    /// The file as named on the command line (used in messages and to name the lockfile).
    public let file: String
    public let seed: UInt64
    public let vars: [String: JSONValue]
    /// In file order, which is also the tie-break order when several stages are ready at once.
    public internal(set) var stages: [Stage]
    /// `remote:`: the S3-compatible store results are pushed to and pulled from.
    public internal(set) var remote: RemoteRef? = nil
    /// `executor:`: where stages run unless the command line says (`hone run --executor`).
    public internal(set) var executor: ExecutorKind? = nil

    public func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// The stages a name given on the command line means: the stage, or every instance of a
    /// `matrix:` or `foreach:` stage.
    public func stages(named name: String) -> [Stage] {
        if let s = stage(name) { return [s] }
        return stages.filter { $0.template == name }
    }
}

public struct Stage: Sendable {
    public let name: String
    /// Where the stage's name stands in the file.
    public let location: SourceLocation
    public let desc: String?
    public let body: Body
    /// Stages whose outputs this one reads, in file order.
    public internal(set) var upstream: [String] = []
    /// For an instance of a `matrix:` or `foreach:` stage: the stage's name in the file, and the
    /// instance's label (the name is `template@label`).
    public internal(set) var template: String?
    public internal(set) var label: String?

    /// Whose randomness a kind draws (and so what its fingerprint names): the stage's name in
    /// the file, the same for every instance — a sweep compares its values, not its seeds.
    public var randomnessName: String { template ?? name }
    /// What the stage asks of a scheduler (the pipeline's `resources:` under its own).
    public internal(set) var resources = Resources()

    public enum Body: Sendable {
        case shell(ShellStage)
        case kind(KindStage)
    }

    public var kindName: String {
        switch body {
        case .shell: return "shell"
        case let .kind(k): return k.kind.name
        }
    }

    /// The names of the stage's outputs: a kind's declared outputs, or a shell stage's out paths.
    public var outputNames: [String] {
        switch body {
        case let .shell(s): return s.allOuts.map(\.path)
        case let .kind(k): return k.kind.outputs.map(\.name)
        }
    }
}

/// The runner's own kind: a command over workspace files, as `dvc repro` runs them.
public struct ShellStage: Sendable {
    public let cmd: String
    public let deps: [WorkspacePath]
    public let outs: [WorkspacePath]
    /// What the stage depends on besides its files: its own params, or the vars it names.
    public let params: [String: JSONValue]
    public let metrics: [WorkspacePath]
    /// Other stages' outputs (or workspace paths) handed to the command read-only, each as a
    /// folder whose path is in `$HONE_INPUT_<name>`.
    public let inputs: [String: InputRef]

    /// Outs and metrics files: everything the command writes and the store keeps.
    public var allOuts: [WorkspacePath] { outs + metrics.filter { m in !outs.contains(m) } }
}

public struct KindStage: Sendable {
    public let kind: any StageKind
    public let inputs: [String: InputRef]
    public let params: Params
}

public enum InputRef: Sendable, Hashable {
    /// `split.train`: another stage's named output.
    case output(stage: String, name: String)
    /// A file or folder in the workspace.
    case path(WorkspacePath)
}

/// A path relative to the workspace root, normalised (no `.`, no `..`, no trailing slash).
public struct WorkspacePath: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let path: String
    public init(normalized path: String) { self.path = path }
    public var description: String { path }
    public static func < (a: Self, b: Self) -> Bool { a.path < b.path }

    /// Whether `self` is `other` or a folder that contains it.
    public func contains(_ other: WorkspacePath) -> Bool {
        other.path == path || other.path.hasPrefix(path + "/")
    }
    public func overlaps(_ other: WorkspacePath) -> Bool { contains(other) || other.contains(self) }
}

/// `remote: s3://BUCKET/PREFIX`, or a map with `url`, `endpoint` (default AWS) and `region`.
public struct RemoteRef: Sendable, Equatable {
    public let url: String
    public let endpoint: String?
    public let region: String?
}
