import Foundation

/// Thin POSIX file calls: the store streams large files in fixed chunks and needs fsync and
/// rename, which Foundation's FileHandle hides or makes slow.
struct FileIO {
    let fd: Int32
    let path: String

    static func open(_ path: String, write: Bool) throws -> FileIO {
        let fd = write ? Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                       : Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.io(write ? "cannot create" : "cannot open", path: path, errno: errno) }
        return FileIO(fd: fd, path: path)
    }

    /// Reads up to `count` bytes into `buffer` (fewer only at the end of the file).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return 0 }
            let n = Foundation.read(fd, base + done, buffer.count - done)
            if n < 0 { if errno == EINTR { continue }; throw StoreError.io("cannot read", path: path, errno: errno) }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = Foundation.write(fd, base + done, bytes.count - done)
            if n < 0 { if errno == EINTR { continue }; throw StoreError.io("cannot write", path: path, errno: errno) }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func sync() throws {
        guard fsync(fd) == 0 else { throw StoreError.io("cannot fsync", path: path, errno: errno) }
    }

    func close() { _ = Foundation.close(fd) }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsynced, then renamed over.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let tmp = path + ".tmp.\(getpid())"
    let file = try FileIO.open(tmp, write: true)
    do {
        try file.write(bytes)
        try file.sync()
        file.close()
    } catch {
        file.close(); unlink(tmp); throw error
    }
    guard rename(tmp, path) == 0 else {
        let code = errno; unlink(tmp)
        throw StoreError.io("cannot rename into", path: path, errno: code)
    }
}

/// The folder part of a path, "" for a bare name. (NSString's `deletingLastPathComponent`
/// traps on a one-character relative path such as "t" in this Foundation.)
public func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
