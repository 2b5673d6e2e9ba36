import Foundation

/// Paths in a pipeline file cannot reach outside the workspace: not absolute, not climbing out
/// with `..`, not through a symlink whose target is outside.
enum PathRules {
    enum Refusal: Error, CustomStringConvertible {
        case empty, absolute(String), climbs(String), symlink(String, target: String)
        var description: String {
            switch self {
            case .empty: return "expected a path, found an empty string"
            case let .absolute(p): return "'\(p)' is an absolute path, outside the workspace: paths are relative to the workspace root"
            case let .climbs(p): return "'\(p)' climbs outside the workspace with '..'"
            case let .symlink(p, t): return "'\(p)' goes through a symlink to '\(t)', outside the workspace"
            }
        }
    }

    static func normalize(_ raw: String, workspace: URL) -> Result<WorkspacePath, Refusal> {
        if raw.isEmpty { return .failure(.empty) }
        if raw.hasPrefix("/") || raw.hasPrefix("~") { return .failure(.absolute(raw)) }
        var parts: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if parts.isEmpty { return .failure(.climbs(raw)) }
                parts.removeLast()
            default: parts.append(String(part))
            }
        }
        if parts.isEmpty { return .failure(.climbs(raw)) }
        // subtle: only the parts that exist today can be symlinks; a symlink a stage makes later
        // is caught when the runner touches the path (StageExecutor.insideWorkspace).
        let root = workspace.resolvingSymlinksInPath().path
        var current = root
        for part in parts {
            current += "/" + part
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else { continue }
            let resolved = URL(fileURLWithPath: current).resolvingSymlinksInPath().path
            if resolved != root && !resolved.hasPrefix(root + "/") {
                return .failure(.symlink(raw, target: target))
            }
        }
        return .success(WorkspacePath(normalized: parts.joined(separator: "/")))
    }
}
