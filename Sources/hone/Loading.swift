import ArgumentParser
import Foundation
import HonePipeline
import HoneStages
import HoneTensor

let defaultPipeline = "pipelines/demo.yaml"

/// A pipeline file named first, then stage names: `hone run pipelines/x.yaml train eval`.
func splitPipelineAndStages(_ args: [String]) -> (pipeline: String, stages: [String]) {
    if let first = args.first, [".yaml", ".yml", ".json"].contains(where: first.hasSuffix) || first.contains("/") {
        return (first, Array(args.dropFirst()))
    }
    return (defaultPipeline, args)
}

struct Loaded {
    let workspace: Workspace
    let pipeline: Pipeline
}

/// Opens the workspace and decodes the pipeline; on any problem prints every diagnostic and
/// exits with status 2.
/// `writes`: the command changes the store (run, repro's fresh run); others leave `.hone/` alone.
func loadPipeline(_ file: String, overrides: [String] = [], writes: Bool = false) throws -> Loaded {
    var parsed: [Override] = []
    for text in overrides {
        guard let o = Override(text) else {
            printError("-S \(text): expected KEY=VALUE (STAGE.PARAM=VALUE for a stage's param, NAME=VALUE for a var)")
            throw ExitCode(2)
        }
        parsed.append(o)
    }
    let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let root = Workspace.findRoot(from: cwd)
    let decoder = PipelineDecoder(kinds: BuiltinKinds.all, workspace: root)
    let url = URL(fileURLWithPath: file, relativeTo: cwd)
    switch decoder.load(file: url, name: file, overrides: parsed) {
    case let .failure(diagnostics):
        FileHandle.standardError.write(Data((diagnostics.description + "\n").utf8))
        let n = diagnostics.items.count
        printError("\(n) error\(n == 1 ? "" : "s") in \(file); nothing was run")
        throw ExitCode(2)
    case let .success(pipeline):
        do {
            return Loaded(workspace: try Workspace(root: root, create: writes), pipeline: pipeline)
        } catch {
            printError("cannot open the store in \(root.path)/.hone: \(error)")
            throw ExitCode(2)
        }
    }
}

/// What changes a numeric kind's output bytes on this machine.
var numericEnvironment: [String: String] { ["blas_core": BLASInfo.coreName] }

struct PipelineArgument: ParsableArguments {
    @Option(name: .shortAndLong, help: "The pipeline file (default: \(defaultPipeline)).")
    var pipeline: String = defaultPipeline
}

extension Loaded {
    /// The stage named on the command line, or exit 2 with the closest name.
    func stage(_ name: String) throws -> Stage {
        if let s = pipeline.stage(name) { return s }
        let instances = pipeline.stages(named: name).map(\.name)
        if !instances.isEmpty {
            printError("'\(name)' is swept into \(instances.count) instances; name one: \(instances.joined(separator: ", "))")
            throw ExitCode(2)
        }
        let hint = closestName(to: name, in: pipeline.stages.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
        printError("no stage '\(name)' in \(pipeline.file)\(hint)")
        throw ExitCode(2)
    }

    /// Exits 2 unless every name is a stage, or a swept stage's name (meaning its instances).
    func checkTargets(_ names: [String]) throws {
        for name in names where pipeline.stages(named: name).isEmpty { _ = try stage(name) }
    }
}
