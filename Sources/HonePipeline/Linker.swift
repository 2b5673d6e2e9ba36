/// The second half of decoding: resolve what reads what, refuse overlapping outputs, find cycles.
extension DecodeState {
    mutating func link(_ pipeline: inout Pipeline, stageNodes: [String: (key: Node, value: Node)]) {
        let stages = pipeline.stages
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })

        // Who writes which workspace path.
        var owners: [(path: WorkspacePath, stage: String)] = []
        for stage in stages {
            guard case let .shell(shell) = stage.body else { continue }
            for out in shell.allOuts {
                if let other = owners.first(where: { $0.path.overlaps(out) && $0.stage != stage.name }) {
                    let node = stageNodes[stage.name].flatMap { outNode($0.value, out.path) } ?? stageNodes[stage.name]?.key
                    if let node {
                        fail(node, "stages.\(stage.name).outs", "'\(out)' is claimed by stages '\(other.stage)' ('\(other.path)') and '\(stage.name)': "
                            + "an output has one producer")
                    }
                }
                owners.append((out, stage.name))
            }
        }

        func producers(of path: WorkspacePath) -> [String] {
            var out: [String] = []
            for o in owners where o.path.overlaps(path) && !out.contains(o.stage) { out.append(o.stage) }
            return out
        }

        var upstream: [String: [String]] = [:]
        for stage in stages {
            var ups: [String] = []
            let nodes = stageNodes[stage.name]
            let inputs: [String: InputRef]
            switch stage.body {
            case let .shell(shell): inputs = shell.inputs
            case let .kind(k): inputs = k.inputs
            }
            for (name, ref) in inputs.sorted(by: { $0.key < $1.key }) {
                let node = nodes?.value["inputs"]?[name] ?? nodes?.key
                switch ref {
                case let .output(producer, output):
                    guard let p = byName[producer] else { continue }
                    if !p.outputNames.contains(output), let node {
                        fail(node, "stages.\(stage.name).inputs.\(name)", "'\(output)' is not an output of stage '\(producer)'"
                            + suggestion(for: output, in: p.outputNames) + " (outputs: \(p.outputNames.joined(separator: ", ")))"
                            + "; to read the workspace file '\(producer).\(output)' instead, write './\(producer).\(output)'")
                    }
                    if producer == stage.name, let node {
                        fail(node, "stages.\(stage.name).inputs.\(name)", "a stage cannot read its own output")
                    } else if !ups.contains(producer) { ups.append(producer) }
                case let .path(path):
                    for producer in producers(of: path) where !ups.contains(producer) && producer != stage.name { ups.append(producer) }
                }
            }
            if case let .shell(shell) = stage.body {
                for dep in shell.deps {
                    for producer in producers(of: dep) {
                        if producer == stage.name {
                            if let n = nodes.flatMap({ outNode($0.value, dep.path, key: "deps") }) ?? nodes?.key {
                                fail(n, "stages.\(stage.name).deps", "'\(dep)' is one of this stage's own outs: a stage that depends on its own output can never be up to date")
                            }
                        } else if !ups.contains(producer) { ups.append(producer) }
                    }
                }
            }
            upstream[stage.name] = ups
        }
        for i in pipeline.stages.indices {
            pipeline.stages[i].upstream = upstream[pipeline.stages[i].name] ?? []
        }
        if let cycle = findCycle(pipeline.stages), let first = cycle.first, let node = stageNodes[first]?.key {
            fail(node, "stages.\(first)", "cycle: " + (cycle + [first]).joined(separator: " -> ")
                + " (each reads what the next one writes; a pipeline must be a DAG)")
        }
    }

    /// The list item under `key` whose text names `path`, for pointing an error at it.
    func outNode(_ body: Node, _ path: String, key: String = "outs") -> Node? {
        for k in [key, "metrics"] {
            if let item = body[k]?.items?.first(where: { item in
                item.text.map { (try? PathRules.normalize($0, workspace: decoder.workspace).get())?.path == path } ?? false
            }) { return item }
        }
        return nil
    }

    /// A cycle as stage names in dependency order, starting at the cycle's first stage in file order.
    func findCycle(_ stages: [Stage]) -> [String]? {
        let ups = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.upstream) })
        let order = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.name, $0) })
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ name: String) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1, let start = stack.firstIndex(of: name) {
                // stack holds consumers before producers; reverse into producer -> consumer order.
                var cycle = Array(stack[start...].reversed())
                if let minIndex = cycle.indices.min(by: { (order[cycle[$0]] ?? 0) < (order[cycle[$1]] ?? 0) }) {
                    cycle = Array(cycle[minIndex...] + cycle[..<minIndex])
                }
                return cycle
            }
            state[name] = 1
            stack.append(name)
            for up in ups[name] ?? [] { if let c = visit(up) { return c } }
            stack.removeLast()
            state[name] = 2
            return nil
        }
        for stage in stages { if let c = visit(stage.name) { return c } }
        return nil
    }
}
