import Foundation
import Testing

/// A real single-node Slurm cluster (slurmctld + slurmd + munge from Debian's packages, on
/// loopback, started by scripts/slurm-cluster.sh and stopped by its PIDs) running pipelines with
/// `--executor slurm`.
final class SlurmCluster {
    let folder: Sandbox
    let conf: String

    /// nil (after printing why) where Slurm cannot be started: not installed, or not root.
    init?() throws {
        folder = try Sandbox()
        let (status, output) = SlurmCluster.script("start", folder.path("cluster"), log: folder.path("start.log"))
        guard status == 0 else {
            if status == 3 {
                print("skipped: Slurm executor tests (\(output.trimmingCharacters(in: .whitespacesAndNewlines)); `make deps-slurm` installs it)")
                return nil
            }
            throw SlurmTests.Failure("could not start the test cluster: \(output)")
        }
        conf = folder.path("cluster/slurm.conf")
    }

    func stop() {
        _ = SlurmCluster.script("stop", folder.path("cluster"), log: folder.path("stop.log"))
    }

    /// Runs scripts/slurm-cluster.sh with posix_spawn and waitpid, output to `log`.
    /// subtle: not Foundation's Process, which learns of a child's exit through a descriptor the
    /// child inherits — the daemons the script leaves running would hold it open forever.
    static func script(_ command: String, _ dir: String, log: String) -> (Int32, String) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let args = ["/bin/sh", Sandbox.repo.appendingPathComponent("scripts/slurm-cluster.sh").path, command, dir]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ) == 0 else { return (127, "cannot start /bin/sh") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }

    deinit { stop() }

    /// The jobs the cluster still has queued or running.
    func queue(_ box: Sandbox) throws -> [String] {
        try box.run("/usr/bin/env", ["squeue", "-h", "-o", "%i %T"]).out.split(separator: "\n").map(String.init)
    }
}

@Suite(.serialized) struct SlurmTests {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    static let pipeline = """
    resources: {cpus: 1, time: "10:00"}
    stages:
    \(Sandbox.recordStages)
      count:
        kind: shell
        foreach: [a, b, c, d, e, f, g]
        cmd: wc -l < data.jsonl | sed 's/^/${item} /' > "count-${item}.txt"
        deps: [data.jsonl]
        outs: ["count-${item}.txt"]
        resources: {mem: 100M}
      bad:
        kind: shell
        cmd: echo "about to fail" && exit 3
      slow:
        kind: shell
        cmd: sleep 600
        resources: {time: 1}
    """

    func workspace(_ cluster: SlurmCluster) throws -> Sandbox {
        let box = try Sandbox()
        box.environment["SLURM_CONF"] = cluster.conf
        try box.write("p.yaml", Self.pipeline)
        try box.writeRecordGenerator(records: 80)
        return box
    }

    static let tenStages = ["gen", "split", "tok"] + "abcdefg".map { "count@\($0)" }

    @Test func stagesRunAsJobsAndFailuresAndInterruptsAreSlurms() throws {
        guard let cluster = try SlurmCluster() else { return }
        defer { cluster.stop() }

        // Ten stages as jobs give the bytes a local run gives.
        let slurm = try workspace(cluster), local = try workspace(cluster)
        let viaSlurm = try slurm.hone(["run", "p.yaml", "--executor", "slurm"] + Self.tenStages)
        #expect(viaSlurm.status == 0 && viaSlurm.out.contains("10 ran"), "\(viaSlurm.all)")
        #expect(try local.hone(["run", "p.yaml", "-j", "2"] + Self.tenStages).status == 0)
        #expect(slurm.read("p.lock") != nil && slurm.read("p.lock") == local.read("p.lock"))
        for f in ["data.jsonl"] + "abcdefg".map({ "count-\($0).txt" }) { #expect(slurm.read(f) == local.read(f), "\(f)") }
        #expect(try cluster.queue(slurm).isEmpty)
        #expect(try slurm.hone(["run", "p.yaml", "--executor", "slurm"] + Self.tenStages).out.contains("Everything is up to date"))

        // A command that exits 3: the stage fails with the status and the log.
        let bad = try slurm.hone("run", "p.yaml", "bad", "--executor", "slurm")
        #expect(bad.status == 1 && bad.all.contains("failed with exit status 1") && bad.all.contains("about to fail")
                && bad.all.contains("command exited with status 3"), "\(bad.all)")

        // Ctrl-C while the job runs: hone cancels it, and nothing stays queued or running.
        let started = slurm.start(["run", "p.yaml", "slow", "--executor", "slurm"])
        try started.process.run()
        let deadline = Date().addingTimeInterval(60)
        while try !cluster.queue(slurm).contains(where: { $0.hasSuffix("RUNNING") }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        #expect(try cluster.queue(slurm).count == 1)
        kill(started.process.processIdentifier, SIGINT)
        started.process.waitUntilExit()
        #expect(started.process.terminationStatus == 130)
        let drained = Date().addingTimeInterval(20)
        while try !cluster.queue(slurm).isEmpty && Date() < drained { Thread.sleep(forTimeInterval: 0.2) }
        #expect(try cluster.queue(slurm).isEmpty, "no job left queued or running after Ctrl-C")

        // Over its time limit (1 minute; Slurm checks limits every 30 s): Slurm's reason.
        let slow = try slurm.hone("run", "p.yaml", "slow", "--executor", "slurm")
        #expect(slow.status == 1 && slow.all.contains(": TIMEOUT (TimeLimit, time limit 00:01:00)"), "\(slow.all)")
    }
}
