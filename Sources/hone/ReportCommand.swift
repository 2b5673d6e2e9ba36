import ArgumentParser
import Foundation
import HoneBase
import HonePipeline
import HoneStore

/// `hone report`: one self-contained HTML file (inline SVG and CSS, no scripts, no network)
/// about one or more experiments — the stage graph, every stage's metrics side by side, the
/// training curves overlaid, confusion matrices and sample generations.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an HTML report of experiments: the DAG, metrics, training curves, confusion matrices, samples.",
        discussion: "Without ids, the pipeline's last experiments (up to 4) are compared. The stage graph comes from the pipeline file.")

    @Argument(help: "Experiment ids or unique prefixes (hone exp list).") var ids: [String] = []
    @Option(name: .shortAndLong, help: "The HTML file to write.") var output = "report.html"
    @Option(name: .long, help: "Also write the training histories as TensorBoard event files under this folder (one run per experiment and stage).")
    var tensorboard: String?
    @Option(name: .long, help: "Also write each stage's metrics as JSON lines under this folder: EXPERIMENT/STAGE.jsonl, one line per training step or evaluation, then the stage's final metrics.")
    var jsonl: String?
    @OptionGroup var file: PipelineArgument

    /// The history keys drawn, when a stage has them.
    static let curves = ["loss", "val_loss", "lr", "val_accuracy", "score", "kl", "entropy", "value_loss"]

    func run() throws {
        var views = try experimentViews(ids, pipeline: file.pipeline)
        if ids.isEmpty { views = Array(views.suffix(4)) }
        guard !views.isEmpty else {
            printError("no experiments of \(file.pipeline) yet: `hone run \(file.pipeline)` first")
            throw ExitCode(1)
        }
        let ws = try Workspace(root: Workspace.findRoot(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)))
        let pipeline = try? loadPipeline(file.pipeline).pipeline
        let html = Self.render(views, pipeline: pipeline, objects: ws.objects)
        do { try Data(html.utf8).write(to: URL(fileURLWithPath: output)) } catch {
            printError("cannot write \(output): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        print("Wrote \(output) (\(views.count) experiment\(views.count == 1 ? "" : "s"), \(formatBytes(html.utf8.count))).")
        if let tensorboard {
            let runs = try Self.writeTensorBoard(views, stages: pipeline?.experimentStageNames, objects: ws.objects, to: URL(fileURLWithPath: tensorboard))
            print("Wrote \(runs) TensorBoard run\(runs == 1 ? "" : "s") under \(tensorboard) (tensorboard --logdir \(tensorboard)).")
        }
        if let jsonl {
            let files = try Self.writeJSONLines(views, stages: pipeline?.experimentStageNames, objects: ws.objects, to: URL(fileURLWithPath: jsonl))
            print("Wrote \(files) metrics file\(files == 1 ? "" : "s") under \(jsonl) (EXPERIMENT/STAGE.jsonl).")
        }
    }

    /// DIR/EXPERIMENT/STAGE.jsonl for every stage with metrics: its history's lines as the stage
    /// wrote them (each with `step`), then one line `{"final": true, …}` of the metrics its run
    /// record holds. Returns the files written.
    static func writeJSONLines(_ views: [ExperimentView], stages: [String]?, objects: ObjectStore, to dir: URL) throws -> Int {
        var files = 0
        for v in views {
            let folder = dir.appendingPathComponent(v.experiment.id)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for stage in stages ?? v.experiment.stages.keys.sorted() {
                var lines = jsonLines(file("history.jsonl", in: v.artifacts["\(stage).metrics"], objects)).map(\.canonical)
                var final: [String: JSONValue] = ["final": .bool(true)]
                for (key, value) in v.metrics where key.hasPrefix(stage + ".") { final[String(key.dropFirst(stage.count + 1))] = .double(value) }
                if final.count > 1 { lines.append(JSONValue.object(final).canonical) }
                guard !lines.isEmpty else { continue }
                try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent(stage + ".jsonl"))
                files += 1
            }
        }
        return files
    }

    /// Every numeric key of each training stage's history.jsonl, as scalars in
    /// DIR/EXPERIMENT/STAGE/events.out.tfevents.*; returns the runs written.
    static func writeTensorBoard(_ views: [ExperimentView], stages: [String]?, objects: ObjectStore, to dir: URL) throws -> Int {
        var runs = 0
        for v in views {
            let wall = v.experiment.createdDate?.timeIntervalSince1970 ?? 0
            for stage in stages ?? v.experiment.stages.keys.sorted() {
                let history = jsonLines(file("history.jsonl", in: v.artifacts["\(stage).metrics"], objects))
                guard !history.isEmpty else { continue }
                var events = TensorBoardEvents(wallTime: wall)
                for line in history {
                    guard let step = line["step"]?.intValue else { continue }
                    for (key, value) in (line.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) where key != "step" {
                        if let x = value.doubleValue { events.scalar(key, x, step: step, wallTime: wall) }
                    }
                }
                try events.write(to: dir.appendingPathComponent(v.experiment.id).appendingPathComponent(stage), name: "\(v.experiment.id).hone")
                runs += 1
            }
        }
        return runs
    }

    /// A file inside a folder artifact (or nil when it is not there).
    static func file(_ name: String, in artifact: Digest?, _ objects: ObjectStore) -> [UInt8]? {
        guard let artifact, let bytes = try? objects.bytes(of: artifact), let tree = try? Tree.parse(bytes, digest: artifact),
              let entry = tree.entries.first(where: { $0.path == name }) else { return nil }
        return try? objects.bytes(of: entry.digest)
    }

    static func jsonLines(_ bytes: [UInt8]?) -> [JSONValue] {
        guard let bytes else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue.parse(Data($0.utf8)) }
    }

    static func render(_ views: [ExperimentView], pipeline: Pipeline?, objects: ObjectStore) -> String {
        let e = ReportSVG.escape
        let ids = views.map(\.experiment.id)
        let stageNames = pipeline?.experimentStageNames ?? Set(views.flatMap(\.experiment.stages.keys)).sorted()
        var body = "<h1>Hone report</h1><p class=\"sub\">\(e(views[0].experiment.pipeline)) · \(views.count) experiment\(views.count == 1 ? "" : "s"): "
            + views.enumerated().map { i, v in "<b style=\"color:\(ReportSVG.palette[i % ReportSVG.palette.count])\">\(v.experiment.id)</b> (\(e(v.experiment.created)))" }.joined(separator: ", ") + "</p>"
        if let pipeline {
            body += "<h2>Stages</h2><div class=\"wide\">" + ReportSVG.dag(stages: pipeline.stages.map { ($0.name, $0.kindName, $0.upstream) }) + "</div>"
        }
        // Params that differ between the experiments.
        let params = Set(views.flatMap(\.params.keys)).sorted().filter { p in Set(views.map { $0.params[p] ?? "" }).count > 1 }
        if views.count > 1 {
            body += "<h2>Params that differ</h2>"
            body += params.isEmpty ? "<p>None: the experiments differ only in their inputs.</p>"
                : table(["param"] + ids, params.map { p in [p] + views.map { $0.params[p] ?? "–" } })
        }
        body += "<h2>Training curves</h2>"
        var charts = ""
        for stage in stageNames {
            let histories = views.map { jsonLines(file("history.jsonl", in: $0.artifacts["\(stage).metrics"], objects)) }
            guard histories.contains(where: { !$0.isEmpty }) else { continue }
            for key in curves {
                let series = zip(ids, histories).map { id, h in
                    (name: id, points: h.compactMap { line -> (Double, Double)? in
                        guard let s = line["step"]?.doubleValue, let v = line[key]?.doubleValue else { return nil }
                        return (s, v)
                    })
                }.filter { !$0.points.isEmpty }
                if !series.isEmpty { charts += ReportSVG.lineChart(title: "\(stage) · \(key)", series: series) }
            }
        }
        body += charts.isEmpty ? "<p>No training stage in these experiments.</p>" : "<div class=\"charts\">\(charts)</div>"
        body += "<h2>Metrics</h2>"
        for stage in stageNames {
            let names = Set(views.flatMap { $0.metrics.keys.filter { $0.hasPrefix(stage + ".") } }).sorted()
            guard !names.isEmpty else { continue }
            body += "<h3>\(e(stage))</h3>" + table(["metric"] + ids, names.map { n in
                [String(n.dropFirst(stage.count + 1))] + views.map { $0.metrics[n].map(Summary.format) ?? "–" }
            })
        }
        for stage in stageNames {
            for (i, v) in views.enumerated() {
                let report = file("metrics.json", in: v.artifacts["\(stage).report"], objects).flatMap { try? JSONValue.parse(Data($0)) }
                if let labels = report?["labels"]?.arrayValue?.compactMap(\.stringValue), let m = report?["confusion"]?.arrayValue {
                    body += "<h2>Confusion matrix · \(e(stage)) · \(ids[i])</h2><p class=\"sub\">rows: true label, columns: predicted</p>"
                    body += table([""] + labels, zip(labels, m).map { l, row in [l] + (row.arrayValue ?? []).map { $0.canonical } })
                }
                let samples = jsonLines(file("samples.jsonl", in: v.artifacts["\(stage).report"], objects)).prefix(6)
                if !samples.isEmpty {
                    body += "<h2>Sample generations · \(e(stage)) · \(ids[i])</h2>"
                    body += table(["prompt", "response", "reference", "score"], samples.map { s in
                        ["prompt", "response", "reference"].map { s[$0]?.stringValue ?? "" } + [s["score"].map { $0.canonical } ?? ""]
                    })
                }
            }
        }
        return """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Hone report</title><style>
        body{font:14px/1.45 system-ui,sans-serif;margin:24px 32px;color:#222;max-width:1200px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}h3{font-size:14px;margin:14px 0 4px}
        .sub{color:#666;margin:2px 0 10px}table{border-collapse:collapse;margin:4px 0 10px}
        td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;max-width:380px}th{background:#f5f5f5}
        .charts{display:flex;flex-wrap:wrap;gap:10px}.chart{border:1px solid #eee}.wide{overflow-x:auto}
        .title{font-size:12px;font-weight:600}.tick{font-size:10px;fill:#666}.legend{font-size:11px}
        .frame{fill:none;stroke:#ccc}.line{fill:none;stroke-width:1.6}
        .node{fill:#f0f4fa;stroke:#7a93b8}.node-name{font-size:12px;font-weight:600}.node-kind{font-size:10px;fill:#666}.edge{stroke:#888;fill:none}
        </style></head><body>\(body)</body></html>

        """
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let e = ReportSVG.escape
        return "<table><tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr>"
            + rows.map { "<tr>" + $0.map { "<td>\(e($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }
}

