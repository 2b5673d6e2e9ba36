import HoneBase

/// What a stage asks of the machine that runs it, for executors that ask a scheduler
/// (`executor: slurm`): CPUs, memory, a time limit, a partition, and any other `sbatch` flags.
/// Never part of a fingerprint: they change where and how fast a stage runs, not what it makes.
public struct Resources: Sendable, Equatable {
    public var cpus: Int?
    /// Slurm's `--mem`: megabytes, or a number with K, M, G or T.
    public var mem: String?
    /// Slurm's `--time`: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
    public var time: String?
    public var partition: String?
    /// Other `sbatch` flags, passed as they are (`--gres=gpu:1`, `--account=ml`).
    public var sbatch: [String] = []

    public init() {}

    static let keys = ["cpus", "mem", "time", "partition", "sbatch"]

    /// The stage's own values over the pipeline's defaults.
    func over(_ defaults: Resources) -> Resources {
        var r = defaults
        if let cpus { r.cpus = cpus }
        if let mem { r.mem = mem }
        if let time { r.time = time }
        if let partition { r.partition = partition }
        r.sbatch = defaults.sbatch + sbatch
        return r
    }

    /// The `sbatch` flags that ask for these resources.
    public var sbatchFlags: [String] {
        var out: [String] = []
        if let cpus { out.append("--cpus-per-task=\(cpus)") }
        if let mem { out.append("--mem=\(mem)") }
        if let time { out.append("--time=\(time)") }
        if let partition { out.append("--partition=\(partition)") }
        return out + sbatch
    }

    static func isMemory(_ s: String) -> Bool {
        guard let last = s.last else { return false }
        let digits = "KMGTkmgt".contains(last) ? s.dropLast() : Substring(s)
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }

    static func isTime(_ s: String) -> Bool {
        var rest = Substring(s)
        if let dash = rest.firstIndex(of: "-") {
            guard !rest[..<dash].isEmpty, rest[..<dash].allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            rest = rest[rest.index(after: dash)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        return (1...3).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}

/// `executor:`: where the stages that must run are run.
public enum ExecutorKind: String, Sendable, CaseIterable {
    /// In this process, `-j N` at a time.
    case local
    /// Each as a Slurm job (`sbatch`), running `hone` on the node against the shared store.
    case slurm
}

extension DecodeState {
    /// `resources:` (a stage's, or the pipeline's defaults).
    mutating func decodeResources(_ node: Node, _ path: String, _ scope: Interpolator) -> Resources? {
        guard let fields = entries(node, path, allowed: Resources.keys, what: "a map of cpus, mem, time, partition, sbatch") else { return nil }
        let before = problems.count
        var r = Resources()
        for (k, v) in fields {
            let key = k.text ?? "", p = "\(path).\(key)"
            guard let value = interpolated(v.json, at: v, p, scope) else { continue }
            switch key {
            case "cpus":
                if let n = value.intValue, n >= 1 { r.cpus = n } else { fail(v, p, "expected an integer >= 1 (CPUs per task), found \(describe(v))") }
            case "mem":
                let text = value.intValue.map(String.init) ?? value.stringValue ?? ""
                if Resources.isMemory(text) { r.mem = text } else { fail(v, p, "expected megabytes or a number with K, M, G or T (e.g. 4G), found \(describe(v))") }
            case "time":
                let text = value.intValue.map(String.init) ?? value.stringValue ?? ""
                if Resources.isTime(text) { r.time = text } else {
                    fail(v, p, "expected a Slurm time limit: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS (e.g. 2:00:00), found \(describe(v))")
                }
            case "partition":
                if let s = value.stringValue, !s.isEmpty { r.partition = s } else { fail(v, p, "expected a partition name, found \(describe(v))") }
            case "sbatch":
                let flags = value.arrayValue?.compactMap(\.stringValue) ?? []
                if value.arrayValue?.count == flags.count, flags.allSatisfy({ $0.hasPrefix("-") }) { r.sbatch = flags }
                else { fail(v, p, "expected a list of sbatch flags (each starting with '-'), found \(describe(v))") }
            default: break
            }
        }
        return problems.count == before ? r : nil
    }
}
