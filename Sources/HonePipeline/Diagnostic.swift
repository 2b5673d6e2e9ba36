/// Where a value came from: a place in a pipeline file, or a `-S` override on the command line.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    /// 1-based; 0 for a value that did not come from a file.
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }

    public static func override(_ text: String) -> SourceLocation {
        SourceLocation(file: "-S \(text)", line: 0, column: 0)
    }

    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// One problem with a pipeline file, in the form every editor understands:
/// `file:line:column: key.path: what was expected`.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public let location: SourceLocation
    /// Dotted key path, e.g. `stages.split.params.ratios`; empty for whole-file problems.
    public let path: String
    public let message: String

    public init(_ location: SourceLocation, _ path: String, _ message: String) {
        self.location = location; self.path = path; self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// All the problems found in one pass: every error is reported at once, not one per run.
public struct Diagnostics: Error, Sendable, CustomStringConvertible {
    public let items: [Diagnostic]
    public init(_ items: [Diagnostic]) {
        self.items = items.sorted { ($0.location.file, $0.location.line, $0.location.column, $0.path)
            < ($1.location.file, $1.location.line, $1.location.column, $1.path) }
    }
    public var description: String { items.map(\.description).joined(separator: "\n") }
}

/// The closest valid name to a misspelt one, when it is close enough to be a likely typo.
public func closestName(to word: String, in candidates: some Sequence<String>) -> String? {
    var best: (name: String, distance: Int)?
    for candidate in candidates {
        let d = editDistance(word.lowercased(), candidate.lowercased())
        if d < (best?.distance ?? Int.max) { best = (candidate, d) }
    }
    guard let best else { return nil }
    let limit = max(1, min(3, (word.count + 2) / 3))
    return best.distance <= limit ? best.name : nil
}

/// " (did you mean 'x'?)" or "".
func suggestion(for word: String, in candidates: some Sequence<String>) -> String {
    closestName(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
}

/// Levenshtein distance, counting a swap of two neighbours as one edit (Damerau's "optimal
/// string alignment"): `sede` -> `seed` is 1.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
