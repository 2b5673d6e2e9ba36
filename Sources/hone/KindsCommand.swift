import ArgumentParser
import HonePipeline
import HoneStages

struct Kinds: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the stage kinds, or one kind's inputs, outputs and params.")

    @Argument(help: "A kind to describe.") var kind: String?

    func run() throws {
        let all = BuiltinKinds.all
        guard let kind else {
            let rows = [("shell", "a command over workspace files (cmd, deps, outs, params, metrics, inputs)")]
                + all.map { ($0.name, $0.summary) }
            let width = rows.map(\.0.count).max() ?? 0
            for (name, summary) in rows { print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + summary) }
            return
        }
        if kind == "shell" {
            print("shell (version \(Fingerprint.shellVersion)): cmd, deps, outs, params, metrics, desc; see docs/pipeline.md")
            return
        }
        guard let k = all.first(where: { $0.name == kind }) else {
            let hint = closestName(to: kind, in: ["shell"] + all.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
            printError("no kind '\(kind)'\(hint)")
            throw ExitCode(2)
        }
        print("\(k.name) (version \(k.version)): \(k.summary)")
        print("inputs:");  for i in k.inputs { print("  \(i.name)\(i.optional ? " (optional)" : ""): \(i.help)") }
        print("outputs:"); for o in k.outputs { print("  \(o.name): \(o.help)") }
        print("params:")
        for p in k.params {
            let d = p.defaultValue.map { " = \($0.canonical)" } ?? " (required)"
            print("  \(p.name): \(p.type)\(d). \(p.help)")
        }
    }
}
