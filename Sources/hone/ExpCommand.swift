import ArgumentParser
import Foundation
import HoneBase
import HonePipeline
import HoneStore

/// `hone exp`: the experiments of this workspace — every successful whole-pipeline run — with
/// their params, metrics and artifacts read back from the run records.
struct Exp: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, compare and diff experiments (every successful run of a whole pipeline).",
        subcommands: [ExpList.self, ExpShow.self, ExpDiff.self])
}

/// An experiment with everything its run records say, flattened to "stage.name" keys.
struct ExperimentView {
    let experiment: Experiment
    var params: [String: String] = [:]
    var metrics: [String: Double] = [:]
    var artifacts: [String: Digest] = [:]
    /// Stages whose run record is gone (`hone gc` removed it).
    var missing: [String] = []

    init(_ e: Experiment, runs: RunRecords) {
        experiment = e
        for (stage, fp) in e.stages {
            guard let record = runs.get(fp) else { missing.append(stage); continue }
            for (k, v) in record.basis["params"]?.objectValue ?? [:] { params["\(stage).\(k)"] = v.stringValue ?? v.canonical }
            for (k, v) in record.metrics { metrics["\(stage).\(k)"] = v }
            for (k, a) in record.outputs { artifacts["\(stage).\(k)"] = a.digest }
        }
    }
}

/// The experiments named by `ids`; without ids, every experiment (of `pipeline` when given).
func experimentViews(_ ids: [String], pipeline: String? = nil) throws -> [ExperimentView] {
    let ws = try Workspace(root: Workspace.findRoot(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)))
    let store = Experiments(workspace: ws)
    do {
        let name = pipeline.map { store.pipelineName($0) }
        let chosen = ids.isEmpty ? store.all().filter { name == nil || $0.pipeline == name } : try ids.map { try store.find($0) }
        return chosen.map { ExperimentView($0, runs: ws.runs) }
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

struct ExpList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the experiments, oldest first.")

    func run() throws {
        let views = try experimentViews([])
        guard !views.isEmpty else { print("No experiments yet: each successful `hone run` of a whole pipeline records one."); return }
        var rows = [["id", "created", "pipeline", "stages"]]
        for v in views {
            rows.append([v.experiment.id, v.experiment.created, v.experiment.pipeline, "\(v.experiment.stages.count)"
                         + (v.missing.isEmpty ? "" : " (\(v.missing.count) records gone)")])
        }
        printTable(rows)
    }
}

struct ExpShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "A table: experiments as rows, params and metrics as columns.",
        discussion: "Without --metric, each stage that differs between the experiments shown gives its key metric (what `hone summary` shows).")

    @Argument(help: "Experiment ids (or unique prefixes); default: every experiment of the pipeline.") var ids: [String] = []
    @OptionGroup var file: PipelineArgument
    @Flag(name: .long, help: "Only the params whose values differ between the experiments shown.") var onlyChanged = false
    @Option(name: .long, help: "A metric column, STAGE.METRIC (repeatable).") var metric: [String] = []
    @Option(name: .long, help: "Sort the rows by this column (a STAGE.PARAM or STAGE.METRIC).") var sort: String?
    @Flag(name: .long, help: "Sort descending.") var descending = false

    func run() throws {
        let views = try experimentViews(ids, pipeline: file.pipeline)
        guard !views.isEmpty else { print("No experiments of \(file.pipeline) yet."); return }
        let allParams = Set(views.flatMap(\.params.keys)).sorted()
        let params = onlyChanged ? allParams.filter { p in Set(views.map { $0.params[p] ?? "" }).count > 1 } : allParams
        var metrics = metric
        if metrics.isEmpty {
            let stages = Set(views.flatMap(\.experiment.stages.keys)).sorted()
            let changed = views.count == 1 ? stages : stages.filter { s in Set(views.map { $0.experiment.stages[s]?.hex ?? "" }).count > 1 }
            for s in changed {
                let names = Set(views.flatMap { $0.metrics.keys.filter { $0.hasPrefix(s + ".") }.map { String($0.dropFirst(s.count + 1)) } })
                if let key = Summary.keyMetric(among: names) { metrics.append("\(s).\(key)") }
            }
        }
        var ordered = views
        if let sort {
            guard allParams.contains(sort) || views.contains(where: { $0.metrics[sort] != nil }) else {
                printError("--sort: no column '\(sort)' (a STAGE.PARAM or STAGE.METRIC)")
                throw ExitCode(2)
            }
            func key(_ v: ExperimentView) -> (Double?, String) { (v.metrics[sort] ?? v.params[sort].flatMap(Double.init), v.params[sort] ?? "") }
            ordered.sort { a, b in
                let (x, y) = descending ? (key(b), key(a)) : (key(a), key(b))
                if let p = x.0, let q = y.0 { return p < q }
                return x.1 < y.1
            }
        }
        var rows = [["experiment"] + params + metrics]
        for v in ordered {
            rows.append([v.experiment.id] + params.map { v.params[$0] ?? "-" } + metrics.map { v.metrics[$0].map(Summary.format) ?? "-" })
        }
        printTable(rows)
    }
}

struct ExpDiff: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "What differs between two experiments: params, metrics, artifacts.")

    @Argument(help: "The first experiment.") var a: String
    @Argument(help: "The second experiment.") var b: String

    func run() throws {
        let views = try experimentViews([a, b])
        let (x, y) = (views[0], views[1])
        print("\(x.experiment.id) -> \(y.experiment.id)")
        func section<V: Equatable>(_ title: String, _ l: [String: V], _ r: [String: V], _ show: (V) -> String) {
            let keys = Set(l.keys).union(r.keys).sorted().filter { l[$0] != r[$0] }
            guard !keys.isEmpty else { print("\(title): the same"); return }
            print("\(title):")
            for k in keys { print("  \(k): \(l[k].map(show) ?? "(none)") -> \(r[k].map(show) ?? "(none)")") }
        }
        section("params", x.params, y.params) { $0 }
        section("metrics", x.metrics, y.metrics) { "\($0)" }
        section("artifacts", x.artifacts, y.artifacts) { $0.short }
    }
}
