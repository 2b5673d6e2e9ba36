import HoneBase
import HoneStore

/// fingerprint = SHA-256 over the canonical JSON of everything that decides a stage's output:
/// kind, kind version, params after defaults and interpolation, input digests, and for numeric
/// kinds the BLAS kernel family. Never the thread count, the clock or the host name.
public enum Fingerprint {
    /// Bumped if the shell kind's own behaviour changes what lands in its outputs.
    public static let shellVersion = "1"

    /// What goes into a shell stage's fingerprint. `deps` are the digests of the dep paths now.
    public static func basis(shell: ShellStage, deps: [String: Artifact], inputs: [String: Artifact] = [:]) -> JSONValue {
        var o: [String: JSONValue] = [
            "kind": .string("shell"),
            "version": .string(shellVersion),
            "cmd": .string(shell.cmd),
            "params": .object(shell.params),
            "deps": .object(deps.mapValues { .string($0.digest.hex) }),
            "outs": .array(shell.outs.map { .string($0.path) }),
            "metrics": .array(shell.metrics.map { .string($0.path) }),
        ]
        // Only when there are some, so stages without inputs keep their fingerprints.
        if !inputs.isEmpty { o["inputs"] = .object(inputs.mapValues { .string($0.digest.hex) }) }
        return .object(o)
    }

    /// `stage` and `seed` are in it because a kind's randomness is keyed by (pipeline seed,
    /// stage name, purpose): either changes the output bytes.
    public static func basis(kind: KindStage, stage: String, seed: UInt64, inputs: [String: Artifact],
                             environment: [String: String]) -> JSONValue {
        var o: [String: JSONValue] = [
            "stage": .string(stage),
            "seed": .int(Int(truncatingIfNeeded: seed)),
            "kind": .string(kind.kind.name),
            "version": .string(kind.kind.version),
            "params": .object(kind.params.values),
            "inputs": .object(inputs.mapValues { .string($0.digest.hex) }),
        ]
        if kind.kind.isNumeric { o["environment"] = .object(environment.mapValues { .string($0) }) }
        return .object(o)
    }

    public static func of(_ basis: JSONValue) -> Digest { Digest.of(basis.canonical) }

    /// What changed between two bases, in words: "param seed: 1 -> 2", "dep data/raw.txt changed".
    public static func changes(from old: JSONValue, to new: JSONValue) -> [String] {
        var out: [String] = []
        if old["kind"] != new["kind"] { return ["kind changed: \(old["kind"]?.stringValue ?? "?") -> \(new["kind"]?.stringValue ?? "?")"] }
        if old["version"] != new["version"] {
            out.append("kind version \(old["version"]?.stringValue ?? "?") -> \(new["version"]?.stringValue ?? "?")")
        }
        if old["cmd"] != new["cmd"] { out.append("cmd changed") }
        out += diff("param", old["params"]?.objectValue ?? [:], new["params"]?.objectValue ?? [:], showValues: true)
        out += diff("dep", old["deps"]?.objectValue ?? [:], new["deps"]?.objectValue ?? [:], showValues: false)
        out += diff("input", old["inputs"]?.objectValue ?? [:], new["inputs"]?.objectValue ?? [:], showValues: false)
        if old["outs"] != new["outs"] || old["metrics"] != new["metrics"] { out.append("outs changed") }
        if old["environment"] != new["environment"] { out.append("BLAS kernel family changed") }
        if old["seed"] != new["seed"] { out.append("pipeline seed \(old["seed"]?.canonical ?? "?") -> \(new["seed"]?.canonical ?? "?")") }
        if old["stage"] != new["stage"] { out.append("stage renamed") }
        return out
    }

    private static func diff(_ what: String, _ a: [String: JSONValue], _ b: [String: JSONValue], showValues: Bool) -> [String] {
        var out: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() {
            switch (a[key], b[key]) {
            case let (x?, y?) where x != y:
                out.append(showValues ? "\(what) \(key): \(x.canonical) -> \(y.canonical)" : "\(what) \(key) changed")
            case (nil, _?): out.append("\(what) \(key) added")
            case (_?, nil): out.append("\(what) \(key) removed")
            default: break
            }
        }
        return out
    }
}
