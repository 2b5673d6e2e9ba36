import Foundation
import HoneBase

/// A folder artifact: sorted entries (path, digest, size, mode). Stored as an object whose bytes
/// are the text below; that object's digest is the artifact's digest.
///
///     hone-tree 1
///     644 12 5f3c…e1 data/train.jsonl
///     755 40 9a0b…77 run.sh
public struct Tree: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let path: String
        public let digest: Digest
        public let size: Int
        public let executable: Bool
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries.sorted { $0.path < $1.path } }

    public var size: Int { entries.reduce(0) { $0 + $1.size } }

    public var serialized: [UInt8] {
        var text = "hone-tree 1\n"
        for e in entries { text += "\(e.executable ? "755" : "644") \(e.size) \(e.digest.hex) \(e.path)\n" }
        return Array(text.utf8)
    }

    public static func parse(_ bytes: [UInt8], digest: Digest) throws -> Tree {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == "hone-tree 1", lines.last == "" else { throw StoreError.badTree(digest, "header") }
        lines.removeFirst(); lines.removeLast()
        var entries: [Entry] = []
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, let size = Int(parts[1]), let d = Digest(hex: String(parts[2])),
                  parts[0] == "644" || parts[0] == "755", !parts[3].isEmpty,
                  !parts[3].split(separator: "/").contains("..") , !parts[3].hasPrefix("/") else {
                throw StoreError.badTree(digest, "entry '\(line)'")
            }
            entries.append(Entry(path: String(parts[3]), digest: d, size: size, executable: parts[0] == "755"))
        }
        return Tree(entries: entries)
    }
}

/// What a stage output is: one file, or a folder (a tree).
public enum Artifact: Sendable, Equatable {
    case file(Digest, size: Int, executable: Bool)
    case tree(Digest, size: Int)

    public var digest: Digest {
        switch self { case let .file(d, _, _), let .tree(d, _): return d }
    }
    public var size: Int {
        switch self { case let .file(_, s, _), let .tree(_, s): return s }
    }

    public var json: JSONValue {
        switch self {
        case let .file(d, size, exec):
            var o: [String: JSONValue] = ["type": .string("file"), "digest": .string(d.hex), "size": .int(size)]
            if exec { o["executable"] = .bool(true) }
            return .object(o)
        case let .tree(d, size):
            return .object(["type": .string("tree"), "digest": .string(d.hex), "size": .int(size)])
        }
    }

    public init?(json: JSONValue) {
        guard let hex = json["digest"]?.stringValue, let d = Digest(hex: hex), let size = json["size"]?.intValue else { return nil }
        switch json["type"]?.stringValue {
        case "file": self = .file(d, size: size, executable: json["executable"]?.boolValue ?? false)
        case "tree": self = .tree(d, size: size)
        default: return nil
        }
    }
}

extension ObjectStore {
    /// Stores a file or a folder (recursively; symlinks are refused: an artifact is plain files).
    public func putArtifact(at path: String) throws -> Artifact {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw StoreError.io("cannot read", path: path, errno: errno) }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            let (d, size) = try put(file: path)
            return .file(d, size: size, executable: st.st_mode & 0o100 != 0)
        case S_IFDIR:
            var entries: [Tree.Entry] = []
            try collect(folder: path, prefix: "", into: &entries)
            let tree = Tree(entries: entries)
            return .tree(try put(bytes: tree.serialized), size: tree.size)
        default:
            throw StoreError.io("not a regular file or folder (symlinks and devices are not stored):", path: path, errno: EINVAL)
        }
    }

    private func collect(folder: String, prefix: String, into entries: inout [Tree.Entry]) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        for name in names {
            let full = "\(folder)/\(name)", rel = prefix.isEmpty ? name : "\(prefix)/\(name)"
            var st = stat()
            guard lstat(full, &st) == 0 else { throw StoreError.io("cannot read", path: full, errno: errno) }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: try collect(folder: full, prefix: rel, into: &entries)
            case S_IFREG:
                let (d, size) = try put(file: full)
                entries.append(Tree.Entry(path: rel, digest: d, size: size, executable: st.st_mode & 0o100 != 0))
            default:
                throw StoreError.io("not a regular file or folder (symlinks and devices are not stored):", path: full, errno: EINVAL)
            }
        }
    }

    public func tree(_ digest: Digest) throws -> Tree {
        try Tree.parse(try bytes(of: digest), digest: digest)
    }

    /// Writes an artifact out as plain files at `dest` (replacing what is there), verified.
    /// `readOnly` makes the files 0444/0555, for stage inputs.
    public func restoreArtifact(_ artifact: Artifact, to dest: String, readOnly: Bool = false) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: dest)
        let parent = parentFolder(of: dest)
        if !parent.isEmpty { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        func mode(_ exec: Bool) -> mode_t { readOnly ? (exec ? 0o555 : 0o444) : (exec ? 0o755 : 0o644) }
        switch artifact {
        case let .file(d, _, exec):
            try restore(d, to: dest, mode: mode(exec))
        case let .tree(d, _):
            let tree = try tree(d)
            try fm.createDirectory(atPath: dest, withIntermediateDirectories: true)
            for e in tree.entries {
                let path = "\(dest)/\(e.path)"
                try fm.createDirectory(atPath: parentFolder(of: path), withIntermediateDirectories: true)
                try restore(e.digest, to: path, mode: mode(e.executable))
            }
        }
    }

    /// Every object an artifact needs: the tree object and its entries' objects.
    public func objects(of artifact: Artifact) throws -> [Digest] {
        switch artifact {
        case let .file(d, _, _): return [d]
        case let .tree(d, _): return [d] + (try tree(d)).entries.map(\.digest)
        }
    }
}
