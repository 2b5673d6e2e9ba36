import Foundation
import HoneStore

/// `hone repro --check`: run a pipeline from scratch in a copy of the workspace with an empty
/// store, and compare every output digest and metric with the committed lockfile.
public enum Reproduce {
    /// Folders never copied: stores, version control, build trees, virtualenvs.
    static func skipped(_ name: String) -> Bool {
        name == ".hone" || name == ".git" || name == ".venv" || name.hasPrefix(".build")
    }

    /// Copies the workspace's files into `dest`, leaving out the stages' outs (they are to be
    /// made again) and the folders `skipped` names.
    public static func copyWorkspace(_ root: URL, to dest: URL, leavingOut outs: [WorkspacePath]) throws {
        let fm = FileManager.default
        func copy(_ rel: String) throws {
            let src = rel.isEmpty ? root.path : root.appendingPathComponent(rel).path
            for name in try fm.contentsOfDirectory(atPath: src) {
                let childRel = rel.isEmpty ? name : "\(rel)/\(name)"
                if rel.isEmpty && skipped(name) { continue }
                if outs.contains(where: { $0.path == childRel }) { continue }
                let from = "\(src)/\(name)", to = dest.appendingPathComponent(childRel).path
                var isDir: ObjCBool = false
                _ = fm.fileExists(atPath: from, isDirectory: &isDir)
                if isDir.boolValue, (try? fm.destinationOfSymbolicLink(atPath: from)) == nil {
                    try fm.createDirectory(atPath: to, withIntermediateDirectories: true)
                    try copy(childRel)
                } else {
                    try fm.copyItem(atPath: from, toPath: to)
                }
            }
        }
        try fm.createDirectory(at: dest, withIntermediateDirectories: true)
        try copy("")
    }

    /// Every difference between what the lockfile promises and what the fresh run made.
    public static func compare(expected: Lockfile, actual: Lockfile) -> [String] {
        var out: [String] = []
        for (stage, want) in expected.stages.sorted(by: { $0.key < $1.key }) {
            let before = out.count
            guard let got = actual.stages[stage] else { out.append("\(stage): did not run"); continue }
            for (name, a) in want.outputs.sorted(by: { $0.key < $1.key }) {
                guard let b = got.outputs[name] else { out.append("\(stage).\(name): not produced"); continue }
                if a.digest != b.digest {
                    out.append("\(stage).\(name): expected \(a.digest.short) (\(a.size) bytes), got \(b.digest.short) (\(b.size) bytes)")
                }
            }
            for (name, v) in want.metrics.sorted(by: { $0.key < $1.key }) where got.metrics[name] != v
                && !(v.isNaN && (got.metrics[name]?.isNaN ?? false)) {
                out.append("\(stage) metric \(name): expected \(v), got \(got.metrics[name].map { "\($0)" } ?? "nothing")")
            }
            if want.fingerprint != got.fingerprint && out.count == before {
                out.append("\(stage): fingerprint \(want.fingerprint.short) != \(got.fingerprint.short) (its inputs or params differ)")
            }
        }
        return out
    }
}
