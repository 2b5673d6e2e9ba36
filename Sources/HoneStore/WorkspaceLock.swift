import Foundation

/// Keeps two `hone` processes that write from corrupting each other: an exclusive `flock` on
/// `.hone/lock`. Read-only commands (`status`, `show`, `logs`, `dag`) never take it: the store
/// only ever changes by atomic renames, so a reader sees old or new, never half.
///
/// flock is released by the kernel when the process dies, `kill -9` included: no stale locks.
/// (On NFS, flock maps to POSIX locks since Linux 2.6.12; see docs/store.md.)
public final class WorkspaceLock {
    private let fd: Int32
    public let path: String

    public enum Failure: Error, CustomStringConvertible {
        case busy(path: String, holder: String)
        case cannotOpen(path: String, errno: Int32)
        public var description: String {
            switch self {
            case let .busy(path, holder):
                return "another hone is working in this workspace (\(holder), lock \(path)); "
                    + "run again when it finishes, or without --no-wait to wait for it"
            case let .cannotOpen(path, code):
                return "cannot open the workspace lock \(path): \(String(cString: strerror(code)))"
            }
        }
    }

    /// Takes the lock. When another process holds it: fails at once if `wait` is false, else
    /// calls `waiting` with a description of the holder and blocks until it is free.
    public init(path: String, wait: Bool, waiting: (String) -> Void) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure.cannotOpen(path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = WorkspaceLock.holder(fd)
            guard wait else { close(fd); throw Failure.busy(path: path, holder: holder) }
            waiting(holder)
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { let code = errno; close(fd); throw Failure.cannotOpen(path: path, errno: code) }
            }
        }
        ftruncate(fd, 0)
        let me = Array("pid \(getpid())\n".utf8)
        _ = me.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    private static func holder(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, 0) }
        let text = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return text.isEmpty ? "unknown process" : text
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
