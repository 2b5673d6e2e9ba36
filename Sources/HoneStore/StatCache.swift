import Foundation
import HoneBase

/// Digests of workspace files, re-hashed only when their stats change.
///
/// Staleness comes from (size, nanosecond mtime, nanosecond ctime, inode): an edit within the
/// same second at the same size still changes the nanosecond mtime and the ctime, and a file
/// replaced by rename changes the inode. DVC re-hashes whole workspaces on `status`
/// (treeverse/dvc#7607); this reads one stat per file.
public final class StatCache: @unchecked Sendable {
    struct Entry: Equatable {
        let size: Int, mtime: Int, ctime: Int, inode: UInt64
        let digest: Digest
    }

    private let file: String
    private var entries: [String: Entry] = [:]
    private var dirty = false
    private let lock = NSLock()

    public init(file: String) {
        self.file = file
        guard let data = FileManager.default.contents(atPath: file),
              let json = try? JSONValue.parse(data), let o = json.objectValue else { return }
        for (path, v) in o {
            guard let a = v.arrayValue, a.count == 5, let size = a[0].intValue, let m = a[1].intValue,
                  let c = a[2].intValue, let i = a[3].intValue, let hex = a[4].stringValue, let d = Digest(hex: hex) else { continue }
            entries[path] = Entry(size: size, mtime: m, ctime: c, inode: UInt64(i), digest: d)
        }
    }

    /// The artifact at `path` (a file, or a folder hashed as a tree), or nil when nothing is there.
    /// `key` is the workspace-relative name the cache files it under.
    public func artifact(at path: String, key: String) throws -> Artifact? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if st.st_mode & S_IFMT == S_IFDIR {
            var entries: [Tree.Entry] = []
            try walk(path, key: key, prefix: "", into: &entries)
            let tree = Tree(entries: entries)
            return .tree(Digest.of(tree.serialized), size: tree.size)
        }
        return .file(try digest(path, key: key, st), size: Int(st.st_size), executable: st.st_mode & 0o100 != 0)
    }

    private func walk(_ folder: String, key: String, prefix: String, into entries: inout [Tree.Entry]) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
            let full = "\(folder)/\(name)", rel = prefix.isEmpty ? name : "\(prefix)/\(name)"
            var st = stat()
            guard stat(full, &st) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                try walk(full, key: key, prefix: rel, into: &entries)
            } else {
                let d = try digest(full, key: "\(key)/\(rel)", st)
                entries.append(Tree.Entry(path: rel, digest: d, size: Int(st.st_size), executable: st.st_mode & 0o100 != 0))
            }
        }
    }

    private func digest(_ path: String, key: String, _ st: stat) throws -> Digest {
        let probe = Entry(size: Int(st.st_size), mtime: st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec,
                          ctime: st.st_ctim.tv_sec * 1_000_000_000 + st.st_ctim.tv_nsec, inode: UInt64(st.st_ino),
                          digest: Digest([]))
        lock.lock()
        let cached = entries[key]
        lock.unlock()
        if let cached, cached.size == probe.size, cached.mtime == probe.mtime, cached.ctime == probe.ctime,
           cached.inode == probe.inode {
            return cached.digest
        }
        let d = try StatCache.hash(file: path)
        lock.lock()
        entries[key] = Entry(size: probe.size, mtime: probe.mtime, ctime: probe.ctime, inode: probe.inode, digest: d)
        dirty = true
        lock.unlock()
        return d
    }

    /// Forgets what the cache knows about `key` and everything under it (after a restore or run).
    public func forget(_ key: String) {
        lock.lock(); defer { lock.unlock() }
        for k in entries.keys where k == key || k.hasPrefix(key + "/") { entries[k] = nil; dirty = true }
    }

    public func save() throws {
        lock.lock(); defer { lock.unlock() }
        guard dirty else { return }
        var o: [String: JSONValue] = [:]
        for (k, e) in entries {
            o[k] = .array([.int(e.size), .int(e.mtime), .int(e.ctime), .int(Int(e.inode)), .string(e.digest.hex)])
        }
        try writeAtomically(Array(JSONValue.object(o).canonical.utf8), to: file)
        dirty = false
    }

    /// SHA-256 of a file, streamed.
    public static func hash(file path: String) throws -> Digest {
        let input = try FileIO.open(path, write: false)
        defer { input.close() }
        var hasher = Hasher256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try input.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize()
    }
}
