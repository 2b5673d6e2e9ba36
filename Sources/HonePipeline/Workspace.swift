import Foundation
import HoneStore

/// A workspace: the folder pipeline paths are relative to, and its store in `.hone/`.
///
///     .hone/objects/ab/cdef…   content-addressed objects (see ObjectStore)
///     .hone/runs/<fp>.json     run records: the run-cache
///     .hone/experiments/<id>.json  each successful whole-pipeline run: stage -> run fingerprint
///     .hone/work/<fp>/         a stage in progress: inputs, outputs, scratch (survives a crash)
///     .hone/outputs/<stage>/   the last outputs of each non-shell stage, as plain files
///     .hone/quarantine/        corrupt objects, moved aside
///     .hone/stat-cache.json    (size, mtime, ctime, inode) -> digest of workspace files
///     .hone/lock               held by the one process that writes
public final class Workspace: @unchecked Sendable {
    public let root: URL
    public let dotHone: URL
    public let objects: ObjectStore
    public let runs: RunRecords
    public let stats: StatCache

    /// `create`: make `.hone/` if it is not there (commands that write); read-only commands
    /// leave the folder as they found it.
    public init(root: URL, create: Bool = true) throws {
        self.root = root.standardizedFileURL
        dotHone = self.root.appendingPathComponent(".hone")
        objects = try ObjectStore(root: dotHone, create: create)
        runs = try RunRecords(folder: dotHone.appendingPathComponent("runs").path, create: create)
        stats = StatCache(file: dotHone.appendingPathComponent("stat-cache.json").path)
    }

    /// The nearest folder from `start` upwards that holds `.hone/`; failing that, the nearest
    /// that holds `.git` (a fresh clone has no store yet); failing that, `start` itself.
    public static func findRoot(from start: URL) -> URL {
        nearest(".hone", from: start) ?? nearest(".git", from: start) ?? start.standardizedFileURL
    }

    static func nearest(_ marker: String, from start: URL) -> URL? {
        var dir = start.standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(marker).path) { return dir }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }

    public func path(_ p: WorkspacePath) -> String { root.appendingPathComponent(p.path).path }

    public func workDir(_ fingerprint: Digest) -> String {
        dotHone.appendingPathComponent("work/\(fingerprint.hex)").path
    }

    public func outputView(stage: String, output: String) -> String {
        dotHone.appendingPathComponent("outputs/\(stage)/\(output)").path
    }

    public func lock(wait: Bool, waiting: (String) -> Void) throws -> WorkspaceLock {
        try WorkspaceLock(path: dotHone.appendingPathComponent("lock").path, wait: wait, waiting: waiting)
    }

    /// A path relative to the current folder when it is inside, for messages people can paste.
    public func display(_ absolute: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        if absolute.hasPrefix(cwd + "/") { return String(absolute.dropFirst(cwd.count + 1)) }
        return absolute
    }
}
