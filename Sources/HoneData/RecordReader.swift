import Foundation
import HoneBase

/// Reads records from a file or a folder of files (sorted by path), streaming: JSONL (`.jsonl`,
/// `.json`), CSV with a header row (`.csv`, text/label), and plain text (`.txt`, one record per
/// non-empty line). Every line that is not a usable record comes back as a `Reject` naming the
/// file, the line and the reason.
public final class RecordReader {
    public let root: URL
    public private(set) var format: RecordFormat?

    public enum Failure: Error, CustomStringConvertible {
        case noFiles(String)
        case unreadable(String, String)
        public var description: String {
            switch self {
            case let .noFiles(p): return "no .jsonl, .json, .csv or .txt files in \(p)"
            case let .unreadable(p, why): return "cannot read \(p): \(why)"
            }
        }
    }

    /// `format`: nil detects it from the first record.
    public init(root: URL, format: RecordFormat?) {
        self.root = root; self.format = format
    }

    /// Every file of the input, whatever its extension (for side inputs such as a synonym list).
    public func allFiles() throws -> [(path: String, name: String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir) else { throw Failure.noFiles(root.path) }
        if !isDir.boolValue { return [(root.path, root.lastPathComponent)] }
        let names = (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []).sorted()
        return names.filter { n in
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: root.appendingPathComponent(n).path, isDirectory: &d) && !d.boolValue
        }.map { (root.appendingPathComponent($0).path, $0) }
    }

    public func files() throws -> [(path: String, name: String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir) else { throw Failure.noFiles(root.path) }
        if !isDir.boolValue { return [(root.path, root.lastPathComponent)] }
        guard let e = FileManager.default.enumerator(atPath: root.path) else { throw Failure.noFiles(root.path) }
        let names = e.compactMap { $0 as? String }.filter { n in [".jsonl", ".json", ".csv", ".txt"].contains { n.hasSuffix($0) } }.sorted()
        if names.isEmpty { throw Failure.noFiles(root.path) }
        return names.map { (root.appendingPathComponent($0).path, $0) }
    }

    /// The format of the first good record (reading no further), or nil when there is none.
    public func detectFormat() throws -> RecordFormat? {
        struct Found: Error {}
        do {
            try forEach { if case .success = $0 { throw Found() } }
        } catch is Found {}
        return format
    }

    /// Calls `body` with each record or reject, in file order.
    public func forEach(_ body: (Result<Record, Reject>) throws -> Void) throws {
        for (path, name) in try files() {
            if name.hasSuffix(".csv") {
                try readCSV(path, name: name, body)
            } else if name.hasSuffix(".txt") {
                for line in LineReader(path: path) {
                    let src = RecordSource(file: name, line: line.number)
                    guard let text = line.text else { try body(.failure(Reject(source: src, reason: "not valid UTF-8"))); continue }
                    if text.allSatisfy(\.isWhitespace) { continue }
                    try body(accept(["text": .string(text)], src))
                }
            } else {
                for line in LineReader(path: path) {
                    let src = RecordSource(file: name, line: line.number)
                    if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                    guard line.text != nil else { try body(.failure(Reject(source: src, reason: "not valid UTF-8"))); continue }
                    let object: [String: JSONValue]
                    do {
                        guard let o = try JSONValue.parse(Data(line.bytes)).objectValue else {
                            try body(.failure(Reject(source: src, reason: "not a JSON object"))); continue
                        }
                        object = o
                    } catch {
                        try body(.failure(Reject(source: src, reason: "invalid JSON (\(error))"))); continue
                    }
                    try body(accept(object, src))
                }
            }
        }
    }

    /// Checks a record against the format (detected from the first good record when not given).
    func accept(_ object: [String: JSONValue], _ src: RecordSource) -> Result<Record, Reject> {
        if format == nil {
            guard let detected = RecordFormat.detect(object) else {
                return .failure(Reject(source: src, reason: "no known record format in its keys (\(object.keys.sorted().joined(separator: ", ")))"))
            }
            format = detected
        }
        guard let format else { return .failure(Reject(source: src, reason: "no format")) }
        if let problem = RecordReader.problem(object, format) { return .failure(Reject(source: src, reason: problem)) }
        return .success(Record(fields: object, source: src))
    }

    /// What is wrong with a record of `format`, or nil.
    static func problem(_ o: [String: JSONValue], _ format: RecordFormat) -> String? {
        if format == .chat {
            guard let messages = o["messages"]?.arrayValue else { return "'messages' must be a list" }
            if messages.isEmpty { return "'messages' is empty" }
            for (i, m) in messages.enumerated() {
                guard m["role"]?.stringValue != nil, m["content"]?.stringValue != nil else {
                    return "messages[\(i)] must have string 'role' and 'content'"
                }
            }
            return nil
        }
        for field in format.requiredFields {
            guard let v = o[field] else { return "missing field '\(field)' (\(format.rawValue) records need \(format.requiredFields.joined(separator: ", ")))" }
            if field == "label", v.intValue != nil || v.stringValue != nil { continue }
            guard v.stringValue != nil else { return "'\(field)' must be a string" }
        }
        for field in format.textFields where o[field] != nil && o[field]?.stringValue == nil {
            return "'\(field)' must be a string"
        }
        return nil
    }

    /// RFC 4180 CSV: a header row naming `text` and `label`; quoted fields may hold commas,
    /// doubled quotes and line breaks.
    func readCSV(_ path: String, name: String, _ body: (Result<Record, Reject>) throws -> Void) throws {
        var header: [String]?
        var pending = "", pendingLine = 0
        for line in LineReader(path: path) {
            guard let text = line.text else {
                try body(.failure(Reject(source: RecordSource(file: name, line: line.number), reason: "not valid UTF-8"))); continue
            }
            if pending.isEmpty { pendingLine = line.number; pending = text } else { pending += "\n" + text }
            // A quoted field may hold line breaks; a stray quote inside a cell opens nothing, and
            // a field still open after 1 MB is given up on rather than swallowing the file.
            if RecordReader.endsInsideQuotes(pending) {
                if pending.utf8.count < 1 << 20 { continue }
                try body(.failure(Reject(source: RecordSource(file: name, line: pendingLine),
                                         reason: "a quoted CSV field runs on for over 1 MB (lines \(pendingLine)-\(line.number))")))
                pending = ""
                continue
            }
            let row = pending
            pending = ""
            let src = RecordSource(file: name, line: pendingLine)
            guard let cells = RecordReader.csvCells(row) else { try body(.failure(Reject(source: src, reason: "malformed CSV row"))); continue }
            guard let columns = header else {
                header = cells.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                continue
            }
            if cells.count == 1 && cells[0].isEmpty { continue }
            guard cells.count == columns.count else {
                try body(.failure(Reject(source: src, reason: "\(cells.count) columns, the header has \(columns.count)"))); continue
            }
            var o: [String: JSONValue] = [:]
            for (k, v) in zip(columns, cells) { o[k] = .string(v) }
            if format == nil { format = .textLabel }
            try body(accept(o, src))
        }
        if !pending.isEmpty {
            try body(.failure(Reject(source: RecordSource(file: name, line: pendingLine), reason: "unterminated quoted CSV field")))
        }
    }

    /// Whether `row` ends inside a quoted field. Only a quote at the start of a cell opens one.
    static func endsInsideQuotes(_ row: String) -> Bool {
        var quoted = false, cellStart = true
        var i = row.startIndex
        while i < row.endIndex {
            let c = row[i]
            if quoted {
                if c == "\"" {
                    let n = row.index(after: i)
                    if n < row.endIndex, row[n] == "\"" { i = n } else { quoted = false }
                }
            } else if c == "\"" && cellStart {
                quoted = true
            }
            cellStart = !quoted && c == ","
            i = row.index(after: i)
        }
        return quoted
    }

    static func csvCells(_ row: String) -> [String]? {
        var cells: [String] = [], cell = "", quoted = false, i = row.startIndex
        while i < row.endIndex {
            let c = row[i]
            if quoted {
                if c == "\"" {
                    let n = row.index(after: i)
                    if n < row.endIndex, row[n] == "\"" { cell.append("\""); i = n } else { quoted = false }
                } else { cell.append(c) }
            } else if c == "\"" {
                guard cell.isEmpty else { return nil }
                quoted = true
            } else if c == "," {
                cells.append(cell); cell = ""
            } else { cell.append(c) }
            i = row.index(after: i)
        }
        cells.append(cell)
        return cells
    }
}
