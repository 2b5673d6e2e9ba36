import Foundation
import HoneStore
import Testing

@Suite struct ObjectStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-store-\(UUID().uuidString)")

    func bytes(_ n: Int, seed: UInt64, float: Bool = false) -> [UInt8] {
        var s = seed
        func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 11 }
        if float {
            let floats = (0..<(n / 4)).map { _ in Float(Double(next() % 10_000) / 10_000 - 0.5) * 0.04 }
            return floats.withUnsafeBytes { Array($0) }
        }
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    @Test(arguments: [0, 1, 4095, 4 << 20, (4 << 20) + 1, (9 << 20) + 3])
    func randomBytesRoundTripAndAreNamedBySHA256(_ n: Int) throws {
        let store = try ObjectStore(root: dir)
        let data = bytes(n, seed: UInt64(n))
        let d = try store.put(bytes: data)
        #expect(d == Digest.of(data))
        #expect(try store.bytes(of: d) == data)
    }

    @Test func floatDataIsStoredSmallerAndRoundTrips() throws {
        let store = try ObjectStore(root: dir)
        let data = bytes(6 << 20, seed: 7, float: true)
        let d = try store.put(bytes: data)
        #expect(try store.bytes(of: d) == data)
        #expect(store.storedSize(d) < data.count * 9 / 10, "stored \(store.storedSize(d)) of \(data.count)")
    }

    @Test func textIsDeflated() throws {
        let store = try ObjectStore(root: dir)
        let data = Array(String(repeating: "{\"instruction\": \"What is 2 + 2?\", \"output\": \"4\"}\n", count: 5000).utf8)
        let d = try store.put(bytes: data)
        #expect(try store.bytes(of: d) == data)
        #expect(store.storedSize(d) < data.count / 10)
    }

    @Test func flippedByteIsDetectedOnReadAndQuarantined() throws {
        let store = try ObjectStore(root: dir)
        let data = bytes(100_000, seed: 3)
        let d = try store.put(bytes: data)
        let path = store.path(of: d)
        var stored = try #require(FileManager.default.contents(atPath: path))
        stored[stored.count / 2] ^= 0x10
        try stored.write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try store.bytes(of: d) }
        #expect(!store.has(d))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("quarantine/\(d.hex)").path))
    }

    /// Every byte of an object file matters: flipping any one of them is caught on read, for
    /// raw, deflated and byte-shuffled chunks alike.
    @Test(arguments: ["raw", "text", "float"])
    func flippingAnyByteOfAnObjectIsDetected(_ flavour: String) throws {
        let store = try ObjectStore(root: dir)
        let data: [UInt8]
        switch flavour {
        case "raw": data = bytes(600, seed: 9)
        case "text": data = Array(String(repeating: "the cat sat on the mat. ", count: 40).utf8)
        default: data = bytes(4096, seed: 5, float: true)
        }
        let d = try store.put(bytes: data)
        let original = try #require(FileManager.default.contents(atPath: store.path(of: d)))
        var missed: [Int] = []
        for i in 0..<original.count {
            var copy = original
            copy[i] ^= 0x01
            try copy.write(to: URL(fileURLWithPath: store.path(of: d)))
            if (try? store.bytes(of: d)) != nil { missed.append(i) }
            // A detected flip quarantines the object; put it back for the next position.
            try? FileManager.default.removeItem(atPath: store.path(of: d))
            try original.write(to: URL(fileURLWithPath: store.path(of: d)))
        }
        #expect(missed.isEmpty, "flips at \(missed) of \(original.count) went unnoticed")
    }

    @Test func truncatedObjectIsCorruptNotAShortRead() throws {
        let store = try ObjectStore(root: dir)
        let d = try store.put(bytes: bytes(50_000, seed: 4))
        let path = store.path(of: d)
        let stored = try #require(FileManager.default.contents(atPath: path))
        try stored.prefix(stored.count - 20).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try store.verify(d) }
    }

    @Test func treeRoundTripsAFolderWithModes() throws {
        let store = try ObjectStore(root: dir)
        let src = dir.appendingPathComponent("src")
        try FileManager.default.createDirectory(at: src.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("a".utf8).write(to: src.appendingPathComponent("a.txt"))
        try Data("#!/bin/sh\n".utf8).write(to: src.appendingPathComponent("sub/run.sh"))
        chmod(src.appendingPathComponent("sub/run.sh").path, 0o755)
        let artifact = try store.putArtifact(at: src.path)
        let tree = try store.tree(artifact.digest)
        #expect(tree.entries.map(\.path) == ["a.txt", "sub/run.sh"])
        #expect(tree.entries.map(\.executable) == [false, true])
        let out = dir.appendingPathComponent("out").path
        try store.restoreArtifact(artifact, to: out)
        #expect(FileManager.default.contents(atPath: out + "/sub/run.sh") == Data("#!/bin/sh\n".utf8))
        #expect(FileManager.default.isExecutableFile(atPath: out + "/sub/run.sh"))
        // The same folder hashed without storing gives the same digest (the stat cache's path).
        let cache = StatCache(file: dir.appendingPathComponent("stat-cache.json").path)
        #expect(try cache.artifact(at: src.path, key: "src")?.digest == artifact.digest)
    }
}

/// `hone export X t` crashed: Foundation's deletingLastPathComponent traps on "t".
@Suite struct ParentFolderTests {
    @Test func aBareNameHasNoFolderAndOthersSplitAtTheLastSlash() {
        #expect(parentFolder(of: "t") == "" && parentFolder(of: "out") == "")
        #expect(parentFolder(of: "a/b/c.txt") == "a/b" && parentFolder(of: "/x") == "/" && parentFolder(of: "/a/b") == "/a")
    }
}
