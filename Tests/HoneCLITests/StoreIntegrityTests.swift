import Foundation
import Testing

@Suite struct StoreIntegrityTests {
    /// Flips one byte in the middle of a file.
    func flipByte(_ path: String) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        let size = try h.seekToEnd()
        let at = size / 2
        try h.seek(toOffset: at)
        let b = try h.read(upToCount: 1) ?? Data([0])
        try h.seek(toOffset: at)
        try h.write(contentsOf: Data([b[0] ^ 0x01]))
        try h.close()
    }

    @Test func verifyNamesAFlippedObjectAndRunReRunsItsProducer() throws {
        let box = try Sandbox()
        try box.write("in.txt", "start\n")
        try box.write("p.yaml", chainPipeline(3))
        #expect(try box.hone("run", "p.yaml").status == 0)
        let objects = box.objectFiles()
        #expect(!objects.isEmpty)
        // Corrupt the object holding o2.txt's bytes.
        let lock = box.read("p.lock") ?? ""
        let o2 = try #require(lock.range(of: #""o2.txt": \{\s*"digest": "([0-9a-f]{64})""#, options: .regularExpression))
        let digest = String(lock[o2].suffix(65).prefix(64))
        let objectPath = box.path(".hone/objects/\(digest.prefix(2))/\(digest.dropFirst(2))")
        try flipByte(objectPath)

        let verify = try box.hone("verify")
        #expect(verify.status == 1)
        #expect(verify.out.contains("corrupt: \(digest)"), "\(verify.out)")
        #expect(box.exists(".hone/quarantine/\(digest)"))
        #expect(!FileManager.default.fileExists(atPath: objectPath))

        let rerun = try box.hone("run", "p.yaml")
        #expect(rerun.status == 0, "\(rerun.all)")
        #expect(acted(rerun, "ran") == ["s2"], "\(rerun.out)")
        #expect(try box.hone("verify").status == 0)
    }

    @Test func runDetectsACorruptObjectOnReadQuarantinesItAndRunsTheProducer() throws {
        let box = try Sandbox()
        try box.write("in.txt", "start\n")
        try box.write("p.yaml", chainPipeline(2))
        #expect(try box.hone("run", "p.yaml").status == 0)
        let lock1 = box.read("p.lock") ?? ""
        #expect(try box.hone("run", "p.yaml", "-S", "s1.seed=2").status == 0)
        // seed=1's o1.txt now lives only in the store; corrupt it, then ask for it back.
        let m = try #require(lock1.range(of: #""o1.txt": \{\s*"digest": "([0-9a-f]{64})""#, options: .regularExpression))
        let digest = String(lock1[m].suffix(65).prefix(64))
        try flipByte(box.path(".hone/objects/\(digest.prefix(2))/\(digest.dropFirst(2))"))
        let r = try box.hone("run", "p.yaml")
        #expect(r.status == 0, "\(r.all)")
        #expect(r.out.contains("is corrupt"), "\(r.out)")
        #expect(acted(r, "ran").contains("s1"), "\(r.out)")
        #expect(box.exists(".hone/quarantine/\(digest)"))
        #expect(box.read("o1.txt") == "start\nseed 1\n")
        #expect(box.read("p.lock") == lock1)
    }

    @Test func killMinus9MidStageLeavesNoPartialObjectOrRecordAndTheNextRunCompletes() throws {
        let box = try Sandbox()
        try box.write("p.yaml", """
        stages:
          first:
            kind: shell
            cmd: head -c 3000000 /dev/zero | tr '\\0' 'a' > big.txt
            outs: [big.txt]
          slow:
            kind: shell
            cmd: cat big.txt > copy.txt; touch started; sleep 30; echo done > slow.txt
            deps: [big.txt]
            outs: [slow.txt, copy.txt]
        """)
        let p = box.start(["run", "p.yaml"])
        try p.process.run()
        #expect(box.waitFor("started"))
        kill(p.process.processIdentifier, SIGKILL)
        p.process.waitUntilExit()
        // The orphaned `sleep` is still running; it writes nothing the store depends on.
        let records = try FileManager.default.contentsOfDirectory(atPath: box.path(".hone/runs"))
        #expect(records.count == 1, "only `first` finished: \(records)")
        try FileManager.default.removeItem(atPath: box.path("started"))
        try box.write("p.yaml", (box.read("p.yaml") ?? "").replacingOccurrences(of: "sleep 30", with: "sleep 0"))
        let r = try box.hone("run", "p.yaml")
        #expect(r.status == 0, "\(r.all)")
        #expect(acted(r, "ran") == ["slow"], "\(r.out)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.path(".hone/tmp")).isEmpty)
        #expect(try box.hone("verify").status == 0)
    }

    @Test func secondRunWaitsOrFailsClearlyAndTheStoreStaysIntact() throws {
        let box = try Sandbox()
        try box.write("p.yaml", """
        stages:
          slow:
            kind: shell
            cmd: touch started; sleep 1.5; echo done > slow.txt
            outs: [slow.txt]
        """)
        let first = box.start(["run", "p.yaml"])
        try first.process.run()
        #expect(box.waitFor("started"))
        let failing = try box.hone("run", "p.yaml", "--no-wait")
        #expect(failing.status == 1)
        #expect(failing.err.contains("another hone is working in this workspace (pid \(first.process.processIdentifier)"), "\(failing.err)")
        let waiting = try box.hone("run", "p.yaml")
        first.process.waitUntilExit()
        #expect(first.process.terminationStatus == 0)
        #expect(waiting.status == 0, "\(waiting.all)")
        #expect(waiting.out.contains("waiting for another hone"), "\(waiting.out)")
        #expect(waiting.out.contains("Everything is up to date"), "\(waiting.out)")
        #expect(try box.hone("status", "p.yaml").status == 0)  // read-only: no lock needed
        #expect(try box.hone("verify").status == 0)
    }

    @Test func reproCheckPassesAndNamesTheArtifactThatDiffers() throws {
        let box = try Sandbox()
        try box.write("in.txt", "start\n")
        try box.write("p.yaml", chainPipeline(3))
        #expect(try box.hone("run", "p.yaml").status == 0)
        let ok = try box.hone("repro", "--check", "p.yaml")
        #expect(ok.status == 0, "\(ok.all)")
        #expect(ok.out.contains("reproduced: all 3 stages match"), "\(ok.out)")
        // A lockfile that promises other bytes for o3.txt.
        let lock = box.read("p.lock") ?? ""
        let m = try #require(lock.range(of: #""o3.txt": \{\s*"digest": "[0-9a-f]{64}""#, options: .regularExpression))
        var bad = lock
        bad.replaceSubrange(m, with: String(lock[m].dropLast(65)) + String(repeating: "0", count: 64) + "\"")
        try box.write("p.lock", bad)
        let r = try box.hone("repro", "--check", "p.yaml")
        #expect(r.status == 1)
        #expect(r.err.contains("differs: s3.o3.txt: expected 000000000000"), "\(r.err)")
    }

    @Test func gcRemovesWhatNoRunReaches() throws {
        let box = try Sandbox()
        try box.write("in.txt", "start\n")
        try box.write("p.yaml", chainPipeline(2))
        #expect(try box.hone("run", "p.yaml").status == 0)
        #expect(try box.hone("run", "p.yaml", "-S", "s1.seed=5").status == 0)
        let keepAll = try box.hone("gc")
        #expect(keepAll.out.contains("removed 0 objects"), "\(keepAll.out)")
        let onlyLocked = try box.hone("gc", "--only-locked", "-p", "p.yaml")
        #expect(onlyLocked.out.contains("and 2 run records"), "\(onlyLocked.out)")
        #expect(try box.hone("verify").status == 0)
        #expect(try box.hone("run", "p.yaml", "-S", "s1.seed=5").out.contains("Everything is up to date"))
    }

    /// Storing and reading back a 2 GB file keeps peak RSS under 256 MB.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HONE_SKIP_LARGE"] == nil))
    func twoGigabyteArtifactRoundTripsInBoundedMemory() throws {
        let box = try Sandbox()
        // Text-like bytes (compressible) and random bytes (stored raw): both chunk paths.
        try box.write("p.yaml", """
        stages:
          big:
            kind: shell
            cmd: (head -c 1000000000 /dev/zero | tr '\\0' 'x'; head -c 1147483648 /dev/urandom) > big.bin
            outs: [big.bin]
        """)
        // Peak RSS is read by a small python3 parent: a child forked from this test process would
        // carry this process's own high-water mark (Linux keeps it across exec), and other tests
        // in this process load real models.
        let measure = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            + "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
        let run = try box.run("/usr/bin/env", ["python3", "-c", measure, Sandbox.hone, "run", "p.yaml"])
        #expect(run.status == 0, "\(run.all)")
        try FileManager.default.removeItem(atPath: box.path("big.bin"))
        let restore = try box.run("/usr/bin/env", ["python3", "-c", measure, Sandbox.hone, "run", "p.yaml"])
        #expect(acted(restore, "restored") == ["big"], "\(restore.out)")
        let attrs = try FileManager.default.attributesOfItem(atPath: box.path("big.bin"))
        #expect((attrs[.size] as? Int) == 2_147_483_648)
        // ru_maxrss is in KiB: the largest hone of each run.
        for r in [run, restore] {
            let peak = Int(r.out.split(separator: "\n").last.map(String.init) ?? "") ?? Int.max
            #expect(peak < 256 * 1024, "peak RSS \(peak) KiB")
        }
    }
}

@Suite struct InterruptTests {
    /// Ctrl-C stops the running command too, not only hone (a command that outlived hone would
    /// go on writing outs while the next run starts).
    @Test func sigintStopsTheRunningCommandAndExits130() throws {
        let box = try Sandbox()
        try box.write("p.yaml", """
        stages:
          slow:
            kind: shell
            cmd: echo $$ > pid.txt; sleep 30; echo done > slow.txt
            outs: [slow.txt]
        """)
        let p = box.start(["run", "p.yaml"])
        try p.process.run()
        #expect(box.waitFor("pid.txt"))
        Thread.sleep(forTimeInterval: 0.2)
        let pid = try #require(Int32((box.read("pid.txt") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(p.process.processIdentifier, SIGINT)
        p.process.waitUntilExit()
        #expect(p.process.terminationStatus == 130)
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(pid, 0) != 0
            if !gone { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(gone, "the stage's shell \(pid) is still running")
        #expect(!box.exists("slow.txt"))
        // And the workspace is usable at once: the lock went with the process.
        #expect(try box.hone("status", "p.yaml").status == 0)
    }
}
