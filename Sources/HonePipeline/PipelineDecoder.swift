import Foundation
import HoneBase
import HoneStore

/// Pipeline file -> validated `Pipeline`. Collects every problem in one pass and reports them
/// all at once; nothing runs unless the list is empty.
public struct PipelineDecoder {
    public let kinds: [String: any StageKind]
    public let workspace: URL

    public init(kinds: [any StageKind], workspace: URL) {
        var byName: [String: any StageKind] = [:]
        for kind in kinds { byName[kind.name] = kind }
        self.kinds = byName
        self.workspace = workspace
    }

    static let topKeys = ["version", "seed", "vars", "stages", "remote", "executor", "resources"]
    static let shellKeys = ["kind", "desc", "cmd", "deps", "outs", "params", "metrics", "inputs", "matrix", "foreach", "resources"]
    static let kindKeys = ["kind", "desc", "inputs", "params", "matrix", "foreach", "resources"]

    /// Reads and decodes a file; `name` is how messages refer to it.
    public func load(file url: URL, name: String, overrides: [Override] = []) -> Result<Pipeline, Diagnostics> {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            return .failure(Diagnostics([Diagnostic(.init(file: name, line: 0, column: 0), "",
                "cannot read the pipeline file (does it exist?)")]))
        }
        return decode(bytes: [UInt8](data), file: name, overrides: overrides)
    }

    public func decode(bytes: [UInt8], file: String, overrides: [Override] = []) -> Result<Pipeline, Diagnostics> {
        switch YAMLLoader.load(bytes, file: file) {
        case let .failure(d): return .failure(d)
        case let .success(root):
            var state = DecodeState(decoder: self, file: file)
            let pipeline = state.decode(root, overrides: overrides)
            if let pipeline, state.problems.isEmpty { return .success(pipeline) }
            // Instances share their lines in the file: say a problem there once.
            var seen = Set<String>()
            return .failure(Diagnostics(state.problems.filter { seen.insert("\($0.location) \($0.message)").inserted }))
        }
    }
}

/// The mutable part of one decode: the problems found so far.
struct DecodeState {
    let decoder: PipelineDecoder
    let file: String
    var problems: [Diagnostic] = []

    init(decoder: PipelineDecoder, file: String) { self.decoder = decoder; self.file = file }

    mutating func fail(_ node: Node, _ path: String, _ message: String) {
        problems.append(Diagnostic(node.location, path, message))
    }

    /// The map's entries, after reporting keys that are not in `allowed`.
    mutating func entries(_ node: Node, _ path: String, allowed: [String]?, what: String = "a map") -> [(key: Node, value: Node)]? {
        guard let entries = node.entries else {
            fail(node, path, "expected \(what), found \(node.kindName)")
            return nil
        }
        if let allowed {
            for (key, _) in entries where !allowed.contains(key.text ?? "") {
                let name = key.text ?? ""
                fail(key, join(path, name), "unknown key '\(name)'" + suggestion(for: name, in: allowed)
                    + " (allowed: \(allowed.joined(separator: ", ")))")
            }
        }
        return entries
    }

    mutating func decode(_ root: Node, overrides: [Override]) -> Pipeline? {
        guard let top = entries(root, "", allowed: PipelineDecoder.topKeys, what: "a map with 'stages'") else { return nil }
        _ = top
        if let v = root["version"], v.json != .int(1) {
            fail(v, "version", "unsupported version \(v.text ?? v.kindName): this hone reads version 1")
        }
        var seed: UInt64 = 0
        if let s = root["seed"] {
            if let i = s.json.intValue, i >= 0, s.text != nil { seed = UInt64(i) }
            else { fail(s, "seed", "expected an integer >= 0 (the pipeline seed), found \(describe(s))") }
        }

        var vars: [String: JSONValue] = [:]
        if let v = root["vars"], let varEntries = entries(v, "vars", allowed: nil) {
            for (k, value) in varEntries {
                let name = k.text ?? ""
                if !isIdentifier(name) {
                    fail(k, "vars.\(name)", "a var name is letters, digits and '_', not starting with a digit")
                }
                vars[name] = value.json
                varNodes[name] = value
            }
        }
        for o in overrides where o.stage == nil {
            if vars[o.key] == nil {
                problems.append(Diagnostic(.override(o.text), "vars.\(o.key)",
                    "unknown var '\(o.key)'" + suggestion(for: o.key, in: vars.keys)
                    + " (use -S STAGE.PARAM=VALUE for a stage's param)"))
            } else {
                vars[o.key] = o.node.json
                varNodes[o.key] = o.node
            }
        }

        guard let stagesNode = root["stages"] else {
            fail(root, "stages", "missing required key 'stages' (a map of stage name -> stage)")
            return nil
        }
        guard let stageEntries = entries(stagesNode, "stages", allowed: nil) else { return nil }
        if stageEntries.isEmpty { fail(stagesNode, "stages", "expected at least one stage") }

        var expanded: [StageEntry] = []
        for (key, body) in stageEntries {
            let name = key.text ?? ""
            if !isStageName(name) {
                fail(key, "stages.\(name)", "invalid stage name '\(name)': letters, digits, '_' and '-', "
                    + "not starting with a digit or '-' (no dots: STAGE.OUTPUT splits at the first dot)")
                continue
            }
            expanded += expand(name: name, key: key, body: body, vars: vars)
        }
        for e in expanded { if let t = e.template { instancesOf[t, default: []].append(e.name) } }
        pendingStageNames = Set(expanded.map(\.name))

        let stageNames = stageEntries.compactMap(\.key.text)
        let knownNames = expanded.map(\.name) + instancesOf.keys.sorted()
        for o in overrides {
            guard let stage = o.stage else { continue }
            if !knownNames.contains(stage) {
                problems.append(Diagnostic(.override(o.text), stage,
                    "unknown stage '\(stage)'" + suggestion(for: stage, in: stageNames + expanded.map(\.name))))
            }
        }

        var defaults = Resources()
        if let r = root["resources"], let d = decodeResources(r, "resources", Interpolator(scopes: [vars])) { defaults = d }
        var executor: ExecutorKind?
        if let x = root["executor"] {
            if let name = x.text, let kind = ExecutorKind(rawValue: name) { executor = kind } else {
                fail(x, "executor", "expected one of \(ExecutorKind.allCases.map(\.rawValue).joined(separator: ", ")), found \(describe(x))")
            }
        }

        let remote = root["remote"].flatMap { decodeRemote($0) }

        var stages: [Stage] = []
        for e in expanded {
            // -S on the stage in the file sets every instance; -S on an instance, that one (last wins).
            let mine = overrides.filter { $0.stage != nil && $0.stage == e.template } + overrides.filter { $0.stage == e.name }
            if var stage = decodeStage(name: e.name, key: e.key, body: e.body, vars: vars, item: e.item, swept: e.template == nil ? nil : e.swept, overrides: mine) {
                stage.template = e.template
                stage.label = e.label
                if let r = e.body["resources"] {
                    guard let own = decodeResources(r, "stages.\(e.name).resources", Interpolator(scopes: [e.item, vars])) else { continue }
                    stage.resources = own.over(defaults)
                } else {
                    stage.resources = defaults
                }
                stages.append(stage)
            }
        }
        guard problems.isEmpty else { return nil }
        var pipeline = Pipeline(file: file, seed: seed, vars: vars, stages: stages)
        pipeline.remote = remote
        pipeline.executor = executor
        link(&pipeline, stageNodes: Dictionary(uniqueKeysWithValues: expanded.map { ($0.name, (key: $0.key, value: $0.body)) }))
        return pipeline
    }

    mutating func decodeRemote(_ node: Node) -> RemoteRef? {
        func url(_ n: Node) -> String? {
            guard case let .string(u) = n.json, u.hasPrefix("s3://"), u.count > 5 else {
                fail(n, "remote", "expected an S3 URL, s3://BUCKET/PREFIX, found \(describe(n))"); return nil
            }
            return u
        }
        if node.text != nil { return url(node).map { RemoteRef(url: $0, endpoint: nil, region: nil) } }
        guard entries(node, "remote", allowed: ["url", "endpoint", "region"], what: "s3://BUCKET/PREFIX or a map with url, endpoint, region") != nil else { return nil }
        guard let u = node["url"] else { fail(node, "remote.url", "missing required key 'url' (s3://BUCKET/PREFIX)"); return nil }
        var strings: [String: String] = [:]
        for key in ["endpoint", "region"] {
            guard let n = node[key] else { continue }
            if case let .string(v) = n.json, !v.isEmpty { strings[key] = v } else { fail(n, "remote.\(key)", "expected a string, found \(describe(n))") }
        }
        if let e = strings["endpoint"], !(e.hasPrefix("http://") || e.hasPrefix("https://")), let n = node["endpoint"] {
            fail(n, "remote.endpoint", "expected http(s)://HOST[:PORT], found '\(e)'")
        }
        return url(u).map { RemoteRef(url: $0, endpoint: strings["endpoint"], region: strings["region"]) }
    }

    mutating func decodeStage(name: String, key: Node, body: Node, vars: [String: JSONValue], item: [String: JSONValue], swept: [String: JSONValue]?, overrides: [Override]) -> Stage? {
        let path = "stages.\(name)"
        guard body.entries != nil else {
            fail(body, path, "expected a map with 'kind', found \(describe(body))")
            return nil
        }
        guard let kindNode = body["kind"] else {
            fail(key, path, "missing required key 'kind' (one of: \(allKindNames.joined(separator: ", ")))")
            return nil
        }
        guard let kindName = kindNode.text, case let .string(kindText) = kindNode.json else {
            fail(kindNode, "\(path).kind", "expected a string naming a kind, found \(describe(kindNode))")
            return nil
        }
        var desc: String?
        if let d = body["desc"] {
            if case let .string(s) = d.json { desc = s } else { fail(d, "\(path).desc", "expected a string, found \(describe(d))") }
        }
        _ = kindName
        if kindText == "shell" {
            guard let shell = decodeShell(path: path, key: key, body: body, vars: vars, item: item, swept: swept, overrides: overrides) else { return nil }
            return Stage(name: name, location: key.location, desc: desc, body: .shell(shell))
        }
        guard let kind = decoder.kinds[kindText] else {
            fail(kindNode, "\(path).kind", "unknown kind '\(kindText)'" + suggestion(for: kindText, in: allKindNames)
                + " (known kinds: \(allKindNames.joined(separator: ", ")))")
            return nil
        }
        guard let stage = decodeKind(kind, path: path, key: key, body: body, vars: vars, item: item, overrides: overrides) else { return nil }
        return Stage(name: name, location: key.location, desc: desc, body: .kind(stage))
    }

    var allKindNames: [String] { ["shell"] + decoder.kinds.keys.sorted() }

    // MARK: shell

    mutating func decodeShell(path: String, key: Node, body: Node, vars: [String: JSONValue], item: [String: JSONValue], swept sweptParams: [String: JSONValue]?, overrides: [Override]) -> ShellStage? {
        _ = entries(body, path, allowed: PipelineDecoder.shellKeys)
        let before = problems.count
        let varScope = Interpolator(scopes: [item, vars])

        var params: [String: JSONValue] = [:]
        var ownParams = false
        if let p = body["params"] {
            switch p.value {
            case let .sequence(items):
                for item in items {
                    guard case let .string(name) = item.json else {
                        fail(item, "\(path).params", "expected a var name, found \(describe(item))"); continue
                    }
                    if let v = vars[name] { params[name] = v } else {
                        fail(item, "\(path).params", "unknown param '\(name)': a name in a shell stage's params list "
                            + "must be a var" + suggestion(for: name, in: vars.keys))
                    }
                }
            case let .mapping(entries):
                ownParams = true
                for (k, v) in entries {
                    let name = k.text ?? ""
                    let valuePath = "\(path).params.\(name)"
                    if !isIdentifier(name) { fail(k, valuePath, "a param name is letters, digits and '_'") }
                    if v.entries != nil || (v.items?.contains { $0.text == nil } ?? false) {
                        fail(v, valuePath, "expected a scalar or a list of scalars, found \(describe(v))"); continue
                    }
                    if let value = interpolated(v.json, at: v, valuePath, varScope) { params[name] = value }
                }
            case .scalar:
                fail(p, "\(path).params", "expected a list of var names or a map of params, found \(describe(p))")
            }
        }
        if let entry = sweptParams { for (k, v) in entry where params[k] == nil { params[k] = v } }
        for o in overrides {
            if ownParams, params[o.key] != nil {
                params[o.key] = o.node.json
            } else {
                let hint = ownParams ? suggestion(for: o.key, in: params.keys)
                    : " (this stage takes its params from vars: use -S \(o.key)=VALUE)"
                problems.append(Diagnostic(.override(o.text), "\(path).params.\(o.key)", "unknown param '\(o.key)'" + hint))
            }
        }

        var cmd = ""
        if let c = body["cmd"] {
            if case let .string(raw) = c.json {
                if raw.trimmingCharacters(in: .whitespaces).isEmpty { fail(c, "\(path).cmd", "expected a command, found an empty string") }
                let scope = Interpolator(scopes: [params, item, vars])
                if case let .string(s)? = interpolated(.string(raw), at: c, "\(path).cmd", scope) { cmd = s }
            } else {
                fail(c, "\(path).cmd", "expected a string (the command), found \(describe(c))")
            }
        } else {
            fail(key, "\(path).cmd", "missing required key 'cmd' (the shell command to run)")
        }
        let deps = pathList(body["deps"], "\(path).deps", varScope)
        let outs = pathList(body["outs"], "\(path).outs", varScope)
        let metrics = pathList(body["metrics"], "\(path).metrics", varScope)
        let inputs = decodeInputs(body["inputs"], path: path, declared: nil, kindName: "shell", scope: varScope)
        guard problems.count == before else { return nil }
        return ShellStage(cmd: cmd, deps: deps, outs: outs, params: params, metrics: metrics, inputs: inputs)
    }

    mutating func pathList(_ node: Node?, _ path: String, _ scope: Interpolator) -> [WorkspacePath] {
        guard let node else { return [] }
        guard let items = node.items else {
            fail(node, path, "expected a list of paths, found \(describe(node))")
            return []
        }
        var out: [WorkspacePath] = []
        for item in items {
            guard case let .string(raw) = item.json else {
                fail(item, path, "expected a string (a path), found \(describe(item))"); continue
            }
            guard case let .string(s)? = interpolated(.string(raw), at: item, path, scope) else { continue }
            if let p = workspacePath(s, at: item, path) {
                if out.contains(p) { fail(item, path, "'\(p)' is listed twice") } else { out.append(p) }
            }
        }
        return out
    }

    // MARK: other kinds

    mutating func decodeKind(_ kind: any StageKind, path: String, key: Node, body: Node, vars: [String: JSONValue], item: [String: JSONValue], overrides: [Override]) -> KindStage? {
        _ = entries(body, path, allowed: PipelineDecoder.kindKeys)
        let before = problems.count
        let scope = Interpolator(scopes: [item, vars])

        let inputs = decodeInputs(body["inputs"], path: path, declared: kind.inputs.map(\.name), kindName: kind.name, scope: scope)
        for spec in kind.inputs where !spec.optional && inputs[spec.name] == nil && problems.count == before {
            fail(key, "\(path).inputs.\(spec.name)", "missing required input '\(spec.name)' (\(spec.help))")
        }

        var raw: [String: Node] = [:]
        var keyNodes: [String: Node] = [:]
        if let p = body["params"], let paramEntries = entries(p, "\(path).params", allowed: nil) {
            for (k, v) in paramEntries { raw[k.text ?? ""] = v; keyNodes[k.text ?? ""] = k }
        }
        for o in overrides { raw[o.key] = o.node; keyNodes[o.key] = o.node }
        var values: [String: JSONValue] = [:]
        var paramNodes: [String: Node] = [:]
        let specs = Dictionary(uniqueKeysWithValues: kind.params.map { ($0.name, $0) })
        for (name, node) in raw.sorted(by: { $0.key < $1.key }) {
            let paramPath = "\(path).params.\(name)"
            guard let spec = specs[name] else {
                fail(keyNodes[name] ?? node, paramPath, "unknown param '\(name)' for kind '\(kind.name)'"
                    + suggestion(for: name, in: specs.keys) + " (see `hone kinds \(kind.name)`)")
                continue
            }
            guard let value = interpolated(node.json, at: node, paramPath, scope) else { continue }
            switch spec.type.coerce(value) {
            case let .success(v): values[name] = v; paramNodes[name] = node
            case let .failure(e): fail(node, paramPath, "\(e), found \(describe(node))")
            }
        }
        for spec in kind.params where values[spec.name] == nil && raw[spec.name] == nil {
            if let d = spec.defaultValue { values[spec.name] = d }
            else { fail(key, "\(path).params.\(spec.name)", "missing required param '\(spec.name)' (\(spec.help))") }
        }
        guard problems.count == before else { return nil }
        let params = Params(values)
        for issue in kind.check(params) {
            fail(paramNodes[issue.param] ?? body, "\(path).params.\(issue.param)", issue.message)
        }
        guard problems.count == before else { return nil }
        return KindStage(kind: kind, inputs: inputs, params: params)
    }

    /// `inputs:` — input name -> `STAGE.OUTPUT` or a workspace path. `declared` nil accepts
    /// any name (a shell stage names its own inputs).
    mutating func decodeInputs(_ node: Node?, path: String, declared: [String]?, kindName: String, scope: Interpolator) -> [String: InputRef] {
        var inputs: [String: InputRef] = [:]
        guard let node, let inputEntries = entries(node, "\(path).inputs", allowed: nil) else { return inputs }
        for (k, v) in inputEntries {
            let name = k.text ?? ""
            let inputPath = "\(path).inputs.\(name)"
            if let declared, !declared.contains(name) {
                fail(k, inputPath, "unknown input '\(name)' for kind '\(kindName)'" + suggestion(for: name, in: declared)
                    + " (inputs: \(declared.joined(separator: ", ")))")
                continue
            }
            if declared == nil, !isIdentifier(name) {
                fail(k, inputPath, "an input name is letters, digits and '_' (it becomes $HONE_INPUT_\(name))")
                continue
            }
            guard case .string = v.json, case let .string(s)? = interpolated(v.json, at: v, inputPath, scope) else {
                if v.json.stringValue == nil {
                    fail(v, inputPath, "expected a string (STAGE.OUTPUT or a workspace path), found \(describe(v))")
                }
                continue
            }
            if let dot = s.firstIndex(of: "."), pendingStageNames.contains(String(s[..<dot])) {
                inputs[name] = .output(stage: String(s[..<dot]), name: String(s[s.index(after: dot)...]))
            } else if let dot = s.firstIndex(of: "."), let instances = instancesOf[String(s[..<dot].prefix { $0 != "@" })] {
                let stage = String(s[..<dot]), output = String(s[s.index(after: dot)...])
                let list = "(instances: \(instances.prefix(6).joined(separator: ", "))\(instances.count > 6 ? ", …" : ""))"
                if stage.contains("@") {
                    fail(v, inputPath, "no instance '\(stage)'" + suggestion(for: stage, in: instances) + " \(list)")
                } else {
                    fail(v, inputPath, "stage '\(stage)' is swept into \(instances.count) instances: name one, as '\(instances[0]).\(output)' \(list)")
                }
            } else if let p = workspacePath(s, at: v, inputPath) {
                inputs[name] = .path(p)
            }
        }
        return inputs
    }

    /// Names of all stages in the file, instances included, known before any stage is decoded
    /// (for `STAGE.OUTPUT`).
    var pendingStageNames: Set<String> = []
    /// A `matrix:` or `foreach:` stage's name in the file -> its instances' names.
    var instancesOf: [String: [String]] = [:]
    /// Where each var's value is written (a swept list's labels are its values as written).
    var varNodes: [String: Node] = [:]

    // MARK: helpers

    mutating func interpolated(_ value: JSONValue, at node: Node, _ path: String, _ scope: Interpolator) -> JSONValue? {
        switch scope.interpolate(value) {
        case let .success(v): return v
        case let .failure(f): fail(node, path, Interpolator.describe(f)); return nil
        }
    }

    mutating func workspacePath(_ raw: String, at node: Node, _ path: String) -> WorkspacePath? {
        switch PathRules.normalize(raw, workspace: decoder.workspace) {
        case let .success(p): return p
        case let .failure(reason): fail(node, path, reason.description); return nil
        }
    }

    func describe(_ node: Node) -> String {
        switch node.value {
        case .scalar(let s, let quoted):
            let json = node.json
            let what: String
            switch json {
            case .null: what = "nothing"
            case .bool: what = "a boolean"
            case .int: what = "an integer"
            case .double: what = "a number"
            default: what = quoted ? "a string" : "a string"
            }
            return s.isEmpty ? what : "\(what) '\(s.count > 40 ? String(s.prefix(40)) + "…" : s)'"
        case .sequence: return "a list"
        case .mapping: return "a map"
        }
    }
}

func isIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII) else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

func isStageName(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
