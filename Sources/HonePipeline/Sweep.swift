/// A `--sweep key=v1,v2,…` from the command line: one experiment per value, each run as if
/// `-S key=value` were given. The key is what `-S` takes (`stage.param` or a var's name); the
/// values are split at commas. A value that itself holds commas is written in brackets as a
/// YAML flow list of the values, `key=[a, "b,c"]`, and each of its items is one value.
/// Several sweeps give every combination, the first sweep varying slowest.
public struct Sweep: Sendable, Equatable {
    public let key: String
    public let values: [String]

    public init?(_ text: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { return nil }
        key = String(text[..<eq])
        let rest = text[text.index(after: eq)...]
        if rest.hasPrefix("[") {
            guard rest.hasSuffix("]"), case let .success(root) = YAMLLoader.load(Array(rest.utf8), file: "--sweep"),
                  let items = root.items, !items.isEmpty else { return nil }
            var out: [String] = []
            for item in items {
                guard case let .scalar(v, quoted) = item.value else { return nil }
                out.append(quoted ? "\"\(v)\"" : v)
            }
            values = out
        } else {
            values = rest.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !values.contains(where: \.isEmpty) else { return nil }
        }
        guard !values.isEmpty else { return nil }
    }

    /// Every combination of the sweeps' values as `-S` texts, the first sweep varying slowest.
    public static func combinations(_ sweeps: [Sweep]) -> [[String]] {
        sweeps.reduce([[]]) { partial, sweep in
            partial.flatMap { prefix in sweep.values.map { prefix + ["\(sweep.key)=\($0)"] } }
        }
    }
}
