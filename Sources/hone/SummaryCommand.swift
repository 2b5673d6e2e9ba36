import ArgumentParser
import Foundation
import HonePipeline
import HoneStore

/// A short table of a pipeline's last run, from its lockfile: each stage, what it produced,
/// its key metric. What `make run` prints at the end.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a table of the last run: each stage, its outputs and its key metric.")

    @OptionGroup var file: PipelineArgument

    /// The metric that says most about a stage, first found wins: an evaluation's pass rate or
    /// accuracy before a trainer's val loss before a data stage's counts.
    static let keyMetrics = ["pass_rate", "accuracy", "val_accuracy", "score_last", "val_loss", "val_perplexity", "train_pairs",
                             "train_tokens", "kept", "train", "records", "vocab_size"]

    func run() throws {
        let loaded = try loadPipeline(file.pipeline)
        let path = Lockfile.path(for: loaded.pipeline.file)
        guard let lock = try Lockfile.read(path) else {
            printError("\(path) does not exist yet: run `hone run \(loaded.pipeline.file)` first")
            throw ExitCode(1)
        }
        var rows: [[String]] = [["stage", "kind", "produced", "key metric"]]
        for stage in loaded.pipeline.stages {
            guard let entry = lock.stages[stage.name] else { rows.append([stage.name, stage.kindName, "(not run)", ""]); continue }
            let produced = entry.outputs.sorted { $0.key < $1.key }.filter { $0.value.size > 0 }
                .map { "\(($0.key as NSString).lastPathComponent) \(formatBytes($0.value.size))" }.joined(separator: ", ")
            let key = Self.keyMetric(among: Set(entry.metrics.keys))
            let metric = key.map { "\($0) \(Self.format(entry.metrics[$0] ?? 0))" } ?? ""
            rows.append([stage.name, stage.kindName, produced, metric])
        }
        printTable(rows)
    }

    /// The key metric among a stage's metric names, else its first by name.
    static func keyMetric(among names: Set<String>) -> String? {
        keyMetrics.first { names.contains($0) } ?? names.sorted().first
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.4g", v)
    }
}

/// Rows of cells in aligned columns, two spaces apart; the first row is the header.
func printTable(_ rows: [[String]]) {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
    for row in rows {
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}
