import ArgumentParser
import Foundation
import HonePipeline
import HoneRemote
import HoneStages
import HoneStore

/// `hone remote add|list|remove`: named S3-compatible remotes of this workspace.
struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote",
        abstract: "Name the S3-compatible remotes this workspace pushes to and pulls from.",
        discussion: "Kept in .hone/remotes.json (no credentials: those come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials). A pipeline's `remote:` is used when no remote is named.",
        subcommands: [RemoteAdd.self, RemoteList.self, RemoteRemove.self])
}

func currentWorkspace() throws -> Workspace {
    try Workspace(root: Workspace.findRoot(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)))
}

struct RemoteAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add (or replace) a remote: NAME s3://BUCKET/PREFIX.")
    @Argument(help: "A name for the remote.") var name: String
    @Argument(help: "s3://BUCKET/PREFIX") var url: String
    @Option(name: .long, help: "The S3 endpoint, http(s)://HOST[:PORT] (default: AWS's for the region).") var endpoint: String?
    @Option(name: .long, help: "The region the requests are signed for (default \(RemoteSpec.defaultRegion)).") var region: String?
    @Flag(name: .long, help: "Use this remote when none is named.") var `default` = false

    func run() throws {
        do { _ = try RemoteSpec(url: url, endpoint: endpoint, region: region) } catch {
            printError("\(error)"); throw ExitCode(2)
        }
        let ws = try currentWorkspace()
        var remotes = Remotes(dotHone: ws.dotHone)
        remotes.entries[name] = .init(url: url, endpoint: endpoint, region: region)
        if `default` || remotes.entries.count == 1 { remotes.defaultName = name }
        try remotes.save()
        print("Remote '\(name)': \(url)\(endpoint.map { " at \($0)" } ?? "")\(remotes.defaultName == name ? " (default)" : "").")
    }
}

struct RemoteList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the remotes.")
    func run() throws {
        let remotes = Remotes(dotHone: try currentWorkspace().dotHone)
        guard !remotes.entries.isEmpty else { print("No remotes: hone remote add NAME s3://BUCKET/PREFIX --endpoint URL"); return }
        var rows = [["name", "url", "endpoint", "region"]]
        for (name, e) in remotes.entries.sorted(by: { $0.key < $1.key }) {
            rows.append([name + (remotes.defaultName == name ? " (default)" : ""), e.url, e.endpoint ?? "(AWS)", e.region ?? RemoteSpec.defaultRegion])
        }
        printTable(rows)
    }
}

struct RemoteRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Forget a remote (nothing on it is deleted).")
    @Argument(help: "The remote's name.") var name: String
    func run() throws {
        var remotes = Remotes(dotHone: try currentWorkspace().dotHone)
        guard remotes.entries.removeValue(forKey: name) != nil else { printError("no remote '\(name)'"); throw ExitCode(2) }
        if remotes.defaultName == name { remotes.defaultName = nil }
        try remotes.save()
    }
}

/// Which remote a command means and how to reach it: `--remote NAME`, else the pipeline's
/// `remote:`, else the workspace's default remote.
struct RemoteOptions: ParsableArguments {
    @Option(name: .long, help: "A remote named with `hone remote add` (default: the pipeline's `remote:`, else the default remote).")
    var remote: String?

    func open(_ ws: Workspace, pipeline: Pipeline?) throws -> RemoteStore {
        let remotes = Remotes(dotHone: ws.dotHone)
        let spec: RemoteSpec
        do {
            if let remote {
                guard let e = remotes.entries[remote] else {
                    printError("no remote '\(remote)'" + (closestName(to: remote, in: remotes.entries.keys).map { " (did you mean '\($0)'?)" } ?? "")
                               + ": `hone remote list` shows them")
                    throw ExitCode(2)
                }
                spec = try e.spec()
            } else if let r = pipeline?.remote {
                spec = try RemoteSpec(url: r.url, endpoint: r.endpoint, region: r.region)
            } else if let (_, e) = remotes.chosen(nil) {
                spec = try e.spec()
            } else {
                printError("no remote: add one with `hone remote add NAME s3://BUCKET/PREFIX --endpoint URL`, or give the pipeline a `remote:`")
                throw ExitCode(2)
            }
            return RemoteStore(client: S3Client(remote: spec, credentials: try Credentials.find()),
                               objects: ws.objects, runs: ws.runs, experiments: ws.dotHone.appendingPathComponent("experiments").path)
        } catch let e as ExitCode { throw e } catch {
            printError("\(error)"); throw ExitCode(2)
        }
    }
}

/// The pipeline a remote command reads `remote:` from, when its file exists and decodes
/// (quietly: push and pull do not need the rest of it).
func pipelineIfThere(_ file: String) -> Pipeline? {
    let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    guard FileManager.default.fileExists(atPath: file) else { return nil }
    let decoder = PipelineDecoder(kinds: BuiltinKinds.all, workspace: Workspace.findRoot(from: cwd))
    return try? decoder.load(file: URL(fileURLWithPath: file, relativeTo: cwd), name: file).get()
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send the store's objects, run records and experiments the remote lacks.",
        discussion: "Each object is re-hashed before it leaves, and the server checks the signed payload hash on arrival; a run record goes after every object it needs.")
    @OptionGroup var remote: RemoteOptions
    @OptionGroup var file: PipelineArgument
    @Flag(name: .long, help: "Fail at once when another hone holds the workspace.") var noWait = false

    // Under the lock: a run finishing meanwhile could add a record whose objects the listing of
    // what to send missed.
    func run() throws {
        try transfer(remote, file, noWait: noWait, words: ("pushing", "Pushed", "to", "there", "not pushed")) { try $0.push(progress: $1) }
    }
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the objects, run records and experiments this store lacks from the remote.",
        discussion: "Each object is decoded and re-hashed before it enters the store; a corrupt one is named and left out, with the run records that need it. `hone run --pull` fetches only what a run needs.")
    @OptionGroup var remote: RemoteOptions
    @OptionGroup var file: PipelineArgument
    @Flag(name: .long, help: "Fail at once when another hone holds the workspace.") var noWait = false

    func run() throws {
        try transfer(remote, file, noWait: noWait, words: ("pulling", "Pulled", "from", "here", "not pulled")) { try $0.pull(progress: $1) }
    }
}

/// `push` and `pull`: one transfer under the workspace lock, with progress, a summary, and exit 1
/// when an object was corrupt.
private func transfer(_ remote: RemoteOptions, _ file: PipelineArgument, noWait: Bool,
                      words: (progress: String, done: String, direction: String, side: String, left: String),
                      _ move: (RemoteStore, (Int, Int) -> Void) throws -> RemoteStore.Transfer) throws {
    let (ws, lock) = try lockedWorkspace(noWait: noWait)
    defer { withExtendedLifetime(lock) {} }
    let store = try remote.open(ws, pipeline: pipelineIfThere(file.pipeline))
    let progress = TransferProgress(verb: words.progress)
    let t: RemoteStore.Transfer
    do { t = try move(store, progress.update) } catch { progress.end(); printError("\(error)"); throw ExitCode(1) }
    progress.end()
    print("\(words.done) \(t.objects) objects (\(formatBytes(t.bytes))), \(t.runs) run records and \(t.experiments) experiments "
          + "\(words.direction) \(store.client.remote.url); \(t.alreadyThere) objects were \(words.side) already.")
    for c in t.corrupt { printError("\(words.left): \(c)") }
    if !t.corrupt.isEmpty { throw ExitCode(1) }
}

/// "pushing 12/40 objects" on one terminal line, redrawn; nothing when stderr is not a terminal.
final class TransferProgress {
    let verb: String
    let live = isatty(2) != 0
    var shown = false
    init(verb: String) { self.verb = verb }
    func update(_ done: Int, _ total: Int) {
        guard live else { return }
        FileHandle.standardError.write(Data("\r\(verb) \(done)/\(total) objects".utf8)); shown = true
    }
    func end() { if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
}
