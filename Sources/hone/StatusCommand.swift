import ArgumentParser
import Foundation
import HonePipeline

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say which stages are stale and exactly why (which param, dep or input changed).",
        discussion: "Read-only: takes no lock, changes nothing. Files are re-hashed only when their size, mtime, ctime or inode changed.")

    @Argument(help: "[PIPELINE] [STAGE...]") var args: [String] = []
    @Option(name: [.customShort("S"), .customLong("set")], help: "Override a param or var, as for `run`.") var overrides: [String] = []
    @Flag(name: .long, help: "One JSON object per stage.") var json = false

    func run() throws {
        let (file, stages) = splitPipelineAndStages(args)
        let loaded = try loadPipeline(file, overrides: overrides)
        try loaded.checkTargets(stages)
        var options = RunOptions()
        options.targets = stages
        options.environment = numericEnvironment
        let runner = try Runner(workspace: loaded.workspace, pipeline: loaded.pipeline, options: options,
                                observer: ConsoleObserver(json: true))
        if printPlan(runner.plan(), json: json) { throw ExitCode(1) }
    }
}

struct Dag: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the stage graph as text, Mermaid or DOT.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, mermaid, dot }

    @Argument(help: "The pipeline file.") var pipeline: String = defaultPipeline
    @Option(help: "text, mermaid or dot.") var format: Format = .text

    func run() throws {
        let p = try loadPipeline(pipeline).pipeline
        switch format {
        case .text:
            let width = p.stages.map(\.name.count).max() ?? 0
            let kindWidth = p.stages.map(\.kindName.count).max() ?? 0
            for s in p.stages {
                let name = s.name.padding(toLength: width, withPad: " ", startingAt: 0)
                let kind = s.kindName.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
                let ups = s.upstream.isEmpty ? "" : "  <- " + s.upstream.joined(separator: ", ")
                print("\(name)  \(kind)\(ups)")
            }
        case .mermaid:
            print("flowchart TD")
            for s in p.stages {
                print("  \(mermaidID(s.name))[\"\(s.name)<br/><small>\(s.kindName)</small>\"]")
            }
            for s in p.stages { for u in s.upstream { print("  \(mermaidID(u)) --> \(mermaidID(s.name))") } }
        case .dot:
            print("digraph hone {\n  rankdir=LR;\n  node [shape=box];")
            for s in p.stages { print("  \"\(s.name)\" [label=\"\(s.name)\\n\(s.kindName)\"];") }
            for s in p.stages { for u in s.upstream { print("  \"\(u)\" -> \"\(s.name)\";") } }
            print("}")
        }
    }

    func mermaidID(_ name: String) -> String { "s_" + name.replacingOccurrences(of: "-", with: "_") }
}
