import HoneBase

/// One stage as the decoder sees it before decoding: a stage of the file, or one instance of a
/// stage with `matrix:` or `foreach:`.
///
/// An instance is named `TEMPLATE@LABEL`: a matrix joins one label per name with `+`. Labels use
/// only `[A-Za-z0-9_-]` (and the joining `+`): never a dot or `=`, so `sft@1e-4+8.model` still splits at its first dot into stage and output and
/// `-S sft@1e-4+8.lr=3` at its first `=` and then its first dot.
struct StageEntry {
    let name: String
    let key: Node
    let body: Node
    /// The stage's name in the file when this is an instance.
    let template: String?
    let label: String?
    /// `${item}`, `${item.KEY}`, `${key}`: the instance's values, looked up before the vars.
    let item: [String: JSONValue]

    /// What the instance varies, as a shell stage's params: each matrix name, or foreach's
    /// `item` (and `key`).
    var swept: [String: JSONValue] {
        if let v = item["item"] { return ["item": v].merging(item["key"].map { ["key": $0] } ?? [:]) { $1 } }
        return Dictionary(uniqueKeysWithValues: item.map { (String($0.key.dropFirst("item.".count)), $0.value) })
    }
}

enum Matrix {
    static let maxInstances = 1000

    /// The characters a value may have to be its own label. Not `,` (it ends a value in a YAML
/// flow map, `{model: sft@a+b.model}`), `.` (STAGE.OUTPUT), `=` (-S) or `+` (the joiner).
    static func isLabel(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-".unicodeScalars.contains($0)) }
    }

    /// Each value's text when every value is a scalar whose text is a label and no two are the
    /// same; otherwise each value's position, from 0. A value's text is as written in the file.
    static func labels(_ texts: [String?]) -> [String] {
        let all = texts.compactMap { $0 }
        if all.count == texts.count, all.allSatisfy(isLabel), Set(all).count == all.count { return all }
        return texts.indices.map(String.init)
    }

    /// A scalar value's text: as the file writes it when it comes straight from the file,
    /// otherwise (from a var) its canonical JSON text, strings unquoted.
    static func text(_ value: JSONValue, node: Node?) -> String? {
        if let t = node?.text, !t.contains("${") { return t }
        switch value {
        case let .string(s): return s
        case .int, .double, .bool: return value.canonical
        default: return nil
        }
    }

    /// `item` and, for a map value, `item.FIELD` for each field.
    static func itemScope(_ value: JSONValue, prefix: String = "item") -> [String: JSONValue] {
        var scope = [prefix: value]
        for (k, v) in value.objectValue ?? [:] { scope["\(prefix).\(k)"] = v }
        return scope
    }
}

extension DecodeState {
    /// The stage itself, or its instances when it has `matrix:` or `foreach:`.
    mutating func expand(name: String, key: Node, body: Node, vars: [String: JSONValue]) -> [StageEntry] {
        let path = "stages.\(name)"
        let matrix = body["matrix"], foreach = body["foreach"]
        if matrix == nil && foreach == nil { return [StageEntry(name: name, key: key, body: body, template: nil, label: nil, item: [:])] }
        if let matrix, foreach != nil {
            fail(matrix, "\(path).matrix", "a stage takes 'matrix' or 'foreach', not both")
            return []
        }
        let scope = Interpolator(scopes: [vars])
        var instances: [(label: String, item: [String: JSONValue])] = []
        if let matrix {
            guard let axes = entries(matrix, "\(path).matrix", allowed: nil, what: "a map of name -> list of values") else { return [] }
            if axes.isEmpty { fail(matrix, "\(path).matrix", "expected at least one name -> list of values"); return [] }
            instances = [("", [:])]
            for (k, v) in axes {
                let axis = k.text ?? ""
                let axisPath = "\(path).matrix.\(axis)"
                if !isIdentifier(axis) { fail(k, axisPath, "a matrix name is letters, digits and '_' (it is used as ${item.\(axis)})"); return [] }
                guard let values = listValues(v, axisPath, scope) else { return [] }
                let labels = Matrix.labels(values.map { Matrix.text($0.value, node: $0.node) })
                instances = instances.flatMap { done in
                    zip(labels, values).map { label, value in
                        (done.label.isEmpty ? label : done.label + "+" + label, done.item.merging(["item.\(axis)": value.value]) { $1 })
                    }
                }
                if instances.count > Matrix.maxInstances {
                    fail(matrix, "\(path).matrix", "the matrix makes more than \(Matrix.maxInstances) instances; split the sweep")
                    return []
                }
            }
        } else if let foreach {
            let foreachPath = "\(path).foreach"
            if let pairs = foreach.entries {
                for (k, v) in pairs {
                    let label = k.text ?? ""
                    guard Matrix.isLabel(label) else {
                        fail(k, "\(foreachPath).\(label)", "a foreach key names its instance (\(name)@KEY): letters, digits, '_' and '-'")
                        return []
                    }
                    guard let value = interpolated(v.json, at: v, "\(foreachPath).\(label)", scope) else { return [] }
                    instances.append((label, Matrix.itemScope(value).merging(["key": .string(label)]) { $1 }))
                }
                if pairs.isEmpty { fail(foreach, foreachPath, "expected at least one key -> value") }
            } else {
                guard let values = listValues(foreach, foreachPath, scope) else { return [] }
                let labels = Matrix.labels(values.map { Matrix.text($0.value, node: $0.node) })
                instances = zip(labels, values).map { ($0, Matrix.itemScope($1.value)) }
            }
            if instances.count > Matrix.maxInstances {
                fail(foreach, foreachPath, "foreach makes more than \(Matrix.maxInstances) instances; split the sweep")
                return []
            }
        }
        return instances.map { StageEntry(name: "\(name)@\($0.label)", key: key, body: body, template: name, label: $0.label, item: $0.item) }
    }

    /// A non-empty list, given in the file or as a `${var}` holding one; each value with its
    /// node when it is written in the file.
    private mutating func listValues(_ node: Node, _ path: String, _ scope: Interpolator) -> [(value: JSONValue, node: Node?)]? {
        let values: [(value: JSONValue, node: Node?)]
        if let items = node.items {
            var out: [(JSONValue, Node?)] = []
            for item in items {
                guard let v = interpolated(item.json, at: item, path, scope) else { return nil }
                out.append((v, item))
            }
            values = out
        } else if let text = node.text, text.hasPrefix("${"), let items = varNodes[String(text.dropFirst(2).dropLast())]?.items,
                  case let .array(given)? = scope.lookup(String(text.dropFirst(2).dropLast())), given.count == items.count {
            values = zip(given, items).map { ($0, $1) }
        } else if node.text != nil {
            guard let v = interpolated(node.json, at: node, path, scope) else { return nil }
            guard case let .array(items) = v else {
                fail(node, path, "expected a list of values, found \(describe(node))\(node.text?.contains("${") == true ? " (the var holds no list)" : "")")
                return nil
            }
            values = items.map { ($0, nil) }
        } else {
            fail(node, path, "expected a list of values (or a ${var} holding one), found \(describe(node))")
            return nil
        }
        if values.isEmpty { fail(node, path, "expected at least one value"); return nil }
        return values
    }
}
