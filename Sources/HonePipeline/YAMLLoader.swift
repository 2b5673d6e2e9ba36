import CYAML
import Foundation

/// Reads YAML or JSON (one loader for both: libyaml's `yaml_parser_load`) into a `Node` tree.
///
/// What it refuses, each with a `file:line:column`: syntax errors, tabs used as indentation, NUL
/// bytes and non-UTF-8 text, empty files, several documents in one file, duplicate keys (libyaml
/// accepts them), and aliases whose expansion would pass `nodeBudget` nodes (an alias bomb is a
/// few hundred bytes that expand to billions of nodes: the work is bounded, never done).
public enum YAMLLoader {
    public static let nodeBudget = 100_000
    static let maxDepth = 200

    public static func load(_ bytes: [UInt8], file: String) -> Result<Node, Diagnostics> {
        if let problem = checkText(bytes, file: file) { return .failure(Diagnostics([problem])) }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return .failure(Diagnostics([Diagnostic(.init(file: file, line: 1, column: 1), "", "cannot start the YAML parser")]))
        }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buf -> Result<Node, Diagnostics> in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            var document = yaml_document_t()
            guard yaml_parser_load(&parser, &document) == 1 else {
                return .failure(Diagnostics([syntaxError(parser, bytes: bytes, file: file)]))
            }
            defer { yaml_document_delete(&document) }
            guard let root = yaml_document_get_root_node(&document) else {
                return .failure(Diagnostics([Diagnostic(.init(file: file, line: 1, column: 1), "",
                    "empty file: expected a map with 'stages'")]))
            }
            var second = yaml_document_t()
            if yaml_parser_load(&parser, &second) == 1 {
                defer { yaml_document_delete(&second) }
                if let extra = yaml_document_get_root_node(&second) {
                    let mark = extra.pointee.start_mark
                    return .failure(Diagnostics([Diagnostic(.init(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1), "",
                        "a second YAML document: a pipeline file holds one")]))
                }
            }
            var builder = TreeBuilder(document: &document, file: file)
            let node = builder.build(root, depth: 0)
            if !builder.problems.isEmpty { return .failure(Diagnostics(builder.problems)) }
            return .success(node)
        }
    }

    /// NUL bytes and invalid UTF-8, found before libyaml sees them so the position is exact.
    static func checkText(_ bytes: [UInt8], file: String) -> Diagnostic? {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return Diagnostic(.init(file: file, line: 1, column: 1), "", "empty file: expected a map with 'stages'")
        }
        var line = 1, column = 1, i = 0
        while i < bytes.count {
            let b = bytes[i]
            var length = 1
            if b == 0 {
                return Diagnostic(.init(file: file, line: line, column: column), "",
                    "a NUL byte: this is a binary file, not a YAML or JSON pipeline")
            } else if b >= 0x80 {
                length = b >= 0xF0 && b < 0xF5 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0
                let valid = length > 0 && i + length <= bytes.count
                    && bytes[(i + 1)..<(i + length)].allSatisfy { $0 & 0xC0 == 0x80 }
                    && String(validating: bytes[i..<(i + length)], as: UTF8.self) != nil
                if !valid {
                    return Diagnostic(.init(file: file, line: line, column: column), "",
                        String(format: "not valid UTF-8 (byte 0x%02X): save the file as UTF-8", b))
                }
            }
            if b == 0x0A { line += 1; column = 1 } else { column += 1 }
            i += length
        }
        return nil
    }

    static func syntaxError(_ parser: yaml_parser_t, bytes: [UInt8], file: String) -> Diagnostic {
        let mark = parser.problem_mark
        let line = Int(mark.line) + 1, column = Int(mark.column) + 1
        var problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        if let context = parser.context.map({ String(cString: $0) }) { problem = "\(context): \(problem)" }
        if lineHasTabIndent(bytes, line: line) {
            return Diagnostic(.init(file: file, line: line, column: column), "",
                "syntax error: a tab in the indentation; YAML indents with spaces only")
        }
        return Diagnostic(.init(file: file, line: line, column: column), "", "syntax error: \(problem)")
    }

    /// Whether the given 1-based line, or the one before it, starts with a tab.
    static func lineHasTabIndent(_ bytes: [UInt8], line: Int) -> Bool {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        return [line - 1, line - 2].contains { i in
            i >= 0 && i < lines.count && lines[i].prefix { $0 == 0x20 || $0 == 0x09 }.contains(0x09)
        }
    }
}

/// Turns libyaml's node graph (aliases are shared node indexes) into a `Node` tree, counting every
/// node it makes so a shared subtree cannot expand without bound.
private struct TreeBuilder {
    let document: UnsafeMutablePointer<yaml_document_t>
    let file: String
    var made = 0
    var problems: [Diagnostic] = []
    var exhausted = false

    init(document: UnsafeMutablePointer<yaml_document_t>, file: String) {
        self.document = document; self.file = file
    }

    func location(_ node: UnsafeMutablePointer<yaml_node_t>) -> SourceLocation {
        let mark = node.pointee.start_mark
        return SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    mutating func build(_ node: UnsafeMutablePointer<yaml_node_t>, depth: Int) -> Node {
        let here = location(node)
        made += 1
        if made > YAMLLoader.nodeBudget || depth > YAMLLoader.maxDepth {
            if !exhausted {
                exhausted = true
                problems.append(Diagnostic(here, "", depth > YAMLLoader.maxDepth
                    ? "nested more than \(YAMLLoader.maxDepth) levels deep"
                    : "too many nodes: anchors and aliases expand past \(YAMLLoader.nodeBudget) nodes (an alias bomb?)"))
            }
            return Node(.scalar("", quoted: false), at: here)
        }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let s = node.pointee.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
            return Node(.scalar(text, quoted: s.style != YAML_PLAIN_SCALAR_STYLE), at: here)
        case YAML_SEQUENCE_NODE:
            var items: [Node] = []
            var item = node.pointee.data.sequence.items.start
            while let p = item, p != node.pointee.data.sequence.items.top, !exhausted {
                if let child = yaml_document_get_node(document, p.pointee) { items.append(build(child, depth: depth + 1)) }
                item = p + 1
            }
            return Node(.sequence(items), at: here)
        case YAML_MAPPING_NODE:
            var explicit: [(key: Node, value: Node)] = []
            var merged: [(key: Node, value: Node)] = []
            var pair = node.pointee.data.mapping.pairs.start
            while let p = pair, p != node.pointee.data.mapping.pairs.top, !exhausted {
                pair = p + 1
                guard let k = yaml_document_get_node(document, p.pointee.key),
                      let v = yaml_document_get_node(document, p.pointee.value) else { continue }
                let key = build(k, depth: depth + 1)
                let value = build(v, depth: depth + 1)
                if case let .scalar(text, quoted) = key.value, text == "<<", !quoted {
                    merged.append(contentsOf: mergeSources(value))
                    continue
                }
                guard key.text != nil else {
                    problems.append(Diagnostic(key.location, "", "a key must be a scalar, not \(key.kindName)"))
                    continue
                }
                if let first = explicit.first(where: { $0.key.text == key.text }) {
                    problems.append(Diagnostic(key.location, "",
                        "duplicate key '\(key.text ?? "")' (first at line \(first.key.location.line))"))
                    continue
                }
                explicit.append((key, value))
            }
            // subtle: explicit keys win over merged ones, and earlier merge sources over later
            // ones, as YAML's merge-key spec says.
            var entries = explicit
            for entry in merged where !entries.contains(where: { $0.key.text == entry.key.text }) {
                entries.append(entry)
            }
            return Node(.mapping(entries), at: here)
        default:
            return Node(.scalar("", quoted: false), at: here)
        }
    }

    /// The entries a `<<` value brings in: one map, or a list of maps.
    mutating func mergeSources(_ value: Node) -> [(key: Node, value: Node)] {
        switch value.value {
        case let .mapping(entries): return entries
        case let .sequence(items):
            var out: [(key: Node, value: Node)] = []
            for item in items {
                if let entries = item.entries { out.append(contentsOf: entries) }
                else { problems.append(Diagnostic(item.location, "", "a merge key ('<<') takes a map or a list of maps")) }
            }
            return out
        case .scalar:
            problems.append(Diagnostic(value.location, "", "a merge key ('<<') takes a map or a list of maps"))
            return []
        }
    }
}
