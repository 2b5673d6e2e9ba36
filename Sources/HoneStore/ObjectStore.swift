import Foundation

/// Objects under `.hone/objects/ab/cdef…`, named by the SHA-256 of their uncompressed bytes.
///
/// Layout of one object file: the magic `HONEOBJ1`, then chunks `[u32 raw length][u32 encoded
/// length][encoded bytes]` (see `ChunkCodec`), then `[u32 0][u32 0][u64 total size]`. Written to
/// a temporary file, fsynced, renamed: a crash leaves a stray temporary file, never a partial
/// object. Every read decodes, re-hashes and compares with the name; a mismatch moves the file
/// to `.hone/quarantine/` and throws `StoreError.corrupt`: a corrupt object is never used.
/// Memory stays bounded by a few chunks whatever the object's size.
public final class ObjectStore: @unchecked Sendable {
    public let root: URL
    let objects: String
    let tmp: String
    let quarantineDir: String
    static let magic = Array("HONEOBJ1".utf8)
    /// How many chunks are encoded at once.
    static let lanes = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))

    /// One chunk's buffers while it is encoded (a class: lanes are filled on several threads).
    final class EncodeLane: @unchecked Sendable {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkCodec.chunkSize, alignment: 16)
        var count = 0
        var encoded: [UInt8] = []
        var scratch: [UInt8] = []
    }

    /// `create: false` opens a store for reading without making its folders.
    public init(root: URL, create: Bool = true) throws {
        self.root = root
        objects = root.appendingPathComponent("objects").path
        tmp = root.appendingPathComponent("tmp").path
        quarantineDir = root.appendingPathComponent("quarantine").path
        if create {
            for dir in [objects, tmp, quarantineDir] {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
        }
    }

    public func path(of digest: Digest) -> String {
        let hex = digest.hex
        return "\(objects)/\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    public func has(_ digest: Digest) -> Bool {
        access(path(of: digest), F_OK) == 0
    }

    // MARK: writing

    /// Stores a file's bytes, streaming; returns its digest and size.
    @discardableResult
    public func put(file path: String) throws -> (digest: Digest, size: Int) {
        let input = try FileIO.open(path, write: false)
        defer { input.close() }
        return try put { buffer in try input.read(into: buffer) }
    }

    @discardableResult
    public func put(bytes: [UInt8]) throws -> Digest {
        var offset = 0
        return try put { buffer in
            let n = min(buffer.count, bytes.count - offset)
            bytes.withUnsafeBytes { src in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)]))
            }
            offset += n
            return n
        }.digest
    }

    /// `fill` writes up to `buffer.count` bytes and returns how many (0 at the end).
    func put(_ fill: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> (digest: Digest, size: Int) {
        mkdir(tmp, 0o755)  // in case someone removed it; EEXIST is the usual answer
        let tmpPath = "\(tmp)/obj.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        let out = try FileIO.open(tmpPath, write: true)
        var hasher = Hasher256()
        var total = 0
        do {
            try out.write(ObjectStore.magic)
            // Chunks are encoded independently, so a batch of them is encoded on all cores at
            // once; hashing and writing stay in order. The bytes do not depend on the core count.
            let lanes = ObjectStore.lanes
            var batch = (0..<lanes).map { _ in EncodeLane() }
            defer { for lane in batch { lane.raw.deallocate() } }
            var finished = false
            while !finished {
                var used = 0
                while used < lanes {
                    let n = try fill(batch[used].raw)
                    batch[used].count = n
                    if n == 0 { finished = true; break }
                    used += 1
                    if n < ChunkCodec.chunkSize { finished = true; break }
                }
                if used == 0 { break }
                batch.withUnsafeMutableBufferPointer { lanesBuf in
                    DispatchQueue.concurrentPerform(iterations: used) { i in
                        let lane = lanesBuf[i]
                        lane.encoded.removeAll(keepingCapacity: true)
                        ChunkCodec.encode(UnsafeRawBufferPointer(rebasing: lane.raw[0..<lane.count]), into: &lane.encoded, scratch: &lane.scratch)
                    }
                }
                for lane in batch[0..<used] {
                    hasher.update(UnsafeRawBufferPointer(rebasing: lane.raw[0..<lane.count]))
                    total += lane.count
                    var header: [UInt8] = []
                    appendU32(&header, UInt32(lane.count)); appendU32(&header, UInt32(lane.encoded.count))
                    try out.write(header)
                    try out.write(lane.encoded)
                }
            }
            var trailer: [UInt8] = []
            appendU32(&trailer, 0); appendU32(&trailer, 0); appendU64(&trailer, UInt64(total))
            try out.write(trailer)
            try out.sync()
            out.close()
        } catch {
            out.close(); unlink(tmpPath); throw error
        }
        let digest = hasher.finalize()
        let dest = path(of: digest)
        if access(dest, F_OK) == 0 {
            unlink(tmpPath)  // already stored: same name, same bytes
        } else {
            mkdir(parentFolder(of: dest), 0o755)
            guard rename(tmpPath, dest) == 0 else {
                let code = errno; unlink(tmpPath)
                throw StoreError.io("cannot rename into", path: dest, errno: code)
            }
        }
        return (digest, total)
    }

    // MARK: reading

    /// Streams the object's bytes through `sink` chunk by chunk, then checks the hash. On a
    /// mismatch the object is quarantined and `StoreError.corrupt` thrown — after `sink` has
    /// seen bytes that must then be thrown away (callers write to temporary files).
    public func read(_ digest: Digest, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let p = path(of: digest)
        guard let input = try? FileIO.open(p, write: false) else { throw StoreError.missing(digest) }
        defer { input.close() }
        let found: Digest
        do { found = try ObjectStore.decode(input, sink: sink) } catch StoreError.corruptEncoding { throw quarantine(digest) }
        guard found == digest else { throw quarantine(digest) }
    }

    /// Decodes an object file, streaming its bytes through `sink`; returns their SHA-256.
    /// Throws `corruptEncoding` when the file is not a well-formed object.
    static func decode(_ input: FileIO, sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Digest {
        var hasher = Hasher256()
        var head = [UInt8](repeating: 0, count: 8)
        guard try head.withUnsafeMutableBytes({ try input.read(into: $0) }) == 8, head == ObjectStore.magic else {
            throw StoreError.corruptEncoding("magic")
        }
        var total = 0
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: ChunkCodec.chunkSize, alignment: 16)
        defer { raw.deallocate() }
        var encoded: [UInt8] = [], scratch: [UInt8] = []
        var lengths = [UInt8](repeating: 0, count: 8)
        while true {
            guard try lengths.withUnsafeMutableBytes({ try input.read(into: $0) }) == 8 else {
                throw StoreError.corruptEncoding("truncated")
            }
            let (rawCount, encodedCount) = lengths.withUnsafeBytes { (Int(readU32($0, 0)), Int(readU32($0, 4))) }
            if rawCount == 0 {
                // Every byte of the file is checked, not only those the hash covers: a
                // flipped byte anywhere makes the object corrupt.
                var tail = [UInt8](repeating: 0, count: 9)
                guard encodedCount == 0,
                      try tail.withUnsafeMutableBytes({ try input.read(into: $0) }) == 8,
                      tail.withUnsafeBytes({ readU64($0, 0) }) == UInt64(total) else {
                    throw StoreError.corruptEncoding("trailer")
                }
                return hasher.finalize()
            }
            guard rawCount <= ChunkCodec.chunkSize, encodedCount <= ChunkCodec.chunkSize + 4096 else {
                throw StoreError.corruptEncoding("chunk length")
            }
            if encoded.count < encodedCount { encoded = [UInt8](repeating: 0, count: encodedCount) }
            guard try encoded.withUnsafeMutableBytes({
                try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<encodedCount]))
            }) == encodedCount else { throw StoreError.corruptEncoding("truncated chunk") }
            let out = UnsafeMutableRawBufferPointer(rebasing: raw[0..<rawCount])
            try encoded.withUnsafeBytes { enc in
                try ChunkCodec.decode(UnsafeRawBufferPointer(rebasing: enc[0..<encodedCount]), rawCount: rawCount,
                                      into: out, scratch: &scratch)
            }
            hasher.update(UnsafeRawBufferPointer(out))
            total += rawCount
            try sink(UnsafeRawBufferPointer(out))
        }
    }

    /// Takes an object file that came from elsewhere (a remote) into the store under `digest`,
    /// once it decodes to bytes that hash to that name. The file is moved, or removed when it
    /// is not that object (`StoreError.foreignCorrupt`): nothing corrupt enters the store.
    public func adopt(file path: String, as digest: Digest) throws {
        let found: Digest?
        do {
            let input = try FileIO.open(path, write: false)
            defer { input.close() }
            found = try? ObjectStore.decode(input) { _ in }
        }
        guard found == digest else { unlink(path); throw StoreError.foreignCorrupt(digest) }
        let dest = self.path(of: digest)
        mkdir(parentFolder(of: dest), 0o755)
        guard rename(path, dest) == 0 else {
            let code = errno; unlink(path)
            throw StoreError.io("cannot rename into", path: dest, errno: code)
        }
    }

    /// A fresh path in the store's temporary folder (for a download), on the store's filesystem.
    public func temporaryPath(_ name: String) -> String { "\(tmp)/\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max))" }

    /// The whole object in memory, verified. For small objects (trees, records, logs).
    public func bytes(of digest: Digest) throws -> [UInt8] {
        var out: [UInt8] = []
        try read(digest) { out.append(contentsOf: $0) }
        return out
    }

    /// Writes the object to `dest` (a temporary file beside it, renamed once verified).
    public func restore(_ digest: Digest, to dest: String, mode: mode_t = 0o644) throws {
        let tmpPath = dest + ".hone-tmp.\(getpid())"
        let out = try FileIO.open(tmpPath, write: true)
        do {
            try read(digest) { try out.write($0) }
            out.close()
        } catch {
            out.close(); unlink(tmpPath); throw error
        }
        chmod(tmpPath, mode)
        guard rename(tmpPath, dest) == 0 else {
            let code = errno; unlink(tmpPath)
            throw StoreError.io("cannot rename into", path: dest, errno: code)
        }
    }

    /// Re-reads and re-hashes one object (quarantining it when corrupt).
    public func verify(_ digest: Digest) throws {
        try read(digest) { _ in }
    }

    /// Moves a corrupt object out of the way so nothing uses it, and returns the error to throw.
    func quarantine(_ digest: Digest) -> StoreError {
        let dest = "\(quarantineDir)/\(digest.hex)"
        rename(path(of: digest), dest)
        return .corrupt(digest, path: dest)
    }

    /// Every object's digest (for gc and verify).
    public func all() -> [Digest] {
        var out: [Digest] = []
        let fm = FileManager.default
        for dir in (try? fm.contentsOfDirectory(atPath: objects)) ?? [] where dir.count == 2 {
            for name in (try? fm.contentsOfDirectory(atPath: "\(objects)/\(dir)")) ?? [] {
                if let d = Digest(hex: dir + name) { out.append(d) }
            }
        }
        return out.sorted()
    }

    public func remove(_ digest: Digest) { unlink(path(of: digest)) }

    /// Stored size on disk of one object.
    public func storedSize(_ digest: Digest) -> Int {
        var st = stat()
        return stat(path(of: digest), &st) == 0 ? Int(st.st_size) : 0
    }

    /// Removes temporary files left by a process that was killed. Call with the workspace lock held.
    public func sweepTemporaries() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
            unlink("\(tmp)/\(name)")
        }
    }
}
