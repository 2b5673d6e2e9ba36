import Foundation
import HoneBase
import HoneStore

/// A store's objects, run records and experiments mirrored to a remote, laid out as locally:
/// `PREFIX/objects/ab/cdef…` (object files as stored, compressed), `PREFIX/runs/FP.json`,
/// `PREFIX/experiments/ID.json`. Objects go before the records that point to them, both ways,
/// so a record on either side means its objects are there. Objects are verified on both ends:
/// re-hashed locally before they leave, checked by the server against the signed payload hash on
/// arrival, and decoded and re-hashed after they come back before they enter a store.
public final class RemoteStore: @unchecked Sendable {
    public let client: S3Client
    let objects: ObjectStore
    let runs: RunRecords
    let experiments: String

    public init(client: S3Client, objects: ObjectStore, runs: RunRecords, experiments: String) {
        self.client = client; self.objects = objects; self.runs = runs; self.experiments = experiments
    }

    public struct Transfer: Sendable {
        public var objects = 0, bytes = 0, runs = 0, experiments = 0, alreadyThere = 0
        /// Objects that failed verification (local ones quarantined; remote ones not stored).
        public var corrupt: [String] = []
    }

    /// Sends what the remote lacks. `progress(done, total)` after each object.
    public func push(progress: (Int, Int) -> Void = { _, _ in }) throws -> Transfer {
        var t = Transfer()
        let remoteObjects = Set(try client.list("objects/").compactMap(RemoteStore.digest(ofObjectKey:)))
        let local = objects.all()
        let missing = local.filter { !remoteObjects.contains($0) }
        t.alreadyThere = local.count - missing.count
        var there = remoteObjects
        for (i, d) in missing.enumerated() {
            do { try objects.verify(d) } catch {
                t.corrupt.append("\(error)"); continue
            }
            guard let bytes = FileManager.default.contents(atPath: objects.path(of: d)) else { continue }
            try client.put(RemoteStore.objectKey(d), bytes: [UInt8](bytes))
            there.insert(d)
            t.objects += 1; t.bytes += bytes.count
            progress(i + 1, missing.count)
        }
        let remoteRuns = Set(try client.list("runs/"))
        for record in runs.all() where !remoteRuns.contains("runs/\(record.fingerprint.hex).json") {
            // A record goes only when every object it needs is on the remote now.
            guard let needed = try? neededObjects(record), needed.allSatisfy(there.contains) else { continue }
            try client.put("runs/\(record.fingerprint.hex).json", bytes: Array((record.json.pretty + "\n").utf8))
            t.runs += 1
        }
        let remoteExperiments = Set(try client.list("experiments/"))
        for name in jsonFiles(in: experiments) where !remoteExperiments.contains("experiments/\(name)") {
            guard let data = FileManager.default.contents(atPath: "\(experiments)/\(name)") else { continue }
            try client.put("experiments/\(name)", bytes: [UInt8](data))
            t.experiments += 1
        }
        return t
    }

    /// Brings what this store lacks.
    public func pull(progress: (Int, Int) -> Void = { _, _ in }) throws -> Transfer {
        var t = Transfer()
        let remote = try client.list("objects/").compactMap(RemoteStore.digest(ofObjectKey:))
        let missing = remote.filter { !objects.has($0) }
        t.alreadyThere = remote.count - missing.count
        for (i, d) in missing.enumerated() {
            do {
                if let size = try fetchObject(d) { t.objects += 1; t.bytes += size }
            } catch let e as StoreError {
                t.corrupt.append("remote \(e)")
            }
            progress(i + 1, missing.count)
        }
        for key in try client.list("runs/") {
            guard key.hasSuffix(".json"), let fp = Digest(hex: String(key.dropFirst(5).dropLast(5))), runs.get(fp) == nil else { continue }
            if try fetchRecord(fp, fetchObjects: false) { t.runs += 1 }
        }
        for key in try client.list("experiments/") where key.hasSuffix(".json") {
            let name = String(key.dropFirst("experiments/".count))
            let path = "\(experiments)/\(name)"
            guard !name.contains("/"), !FileManager.default.fileExists(atPath: path), let bytes = try client.get(key),
                  (try? JSONValue.parse(Data(bytes))) != nil else { continue }
            try FileManager.default.createDirectory(atPath: experiments, withIntermediateDirectories: true)
            try writeAtomically(bytes, to: path)
            t.experiments += 1
        }
        return t
    }

    /// `hone run --pull`: brings one run record and the objects it needs, when the remote has
    /// them; false when it has no such run. A corrupt object fails with its name.
    public func fetchRun(_ fingerprint: Digest) throws -> Bool {
        try fetchRecord(fingerprint, fetchObjects: true)
    }

    func fetchRecord(_ fp: Digest, fetchObjects: Bool) throws -> Bool {
        guard let bytes = try client.get("runs/\(fp.hex).json") else { return false }
        guard let json = try? JSONValue.parse(Data(bytes)), let record = RunRecord(json: json), record.fingerprint == fp else {
            throw RemoteError("run record \(fp.short) on \(client.remote.url) is not a valid run record")
        }
        // Whether the store has `d` now (fetching it when allowed).
        func have(_ d: Digest) throws -> Bool {
            if objects.has(d) { return true }
            guard fetchObjects else { return false }
            guard try fetchObject(d) != nil else {
                throw RemoteError("run \(fp.short) on \(client.remote.url) needs object \(d.short), which the remote does not have")
            }
            return true
        }
        for a in record.outputs.values {
            guard try have(a.digest) else { return false }
            if case .tree = a { for e in try objects.tree(a.digest).entries { guard try have(e.digest) else { return false } } }
        }
        if let log = record.log, !(try have(log)) { return false }
        try runs.put(record)
        return true
    }

    /// Downloads one object into the store after checking it; nil when the remote lacks it.
    func fetchObject(_ d: Digest) throws -> Int? {
        let tmp = objects.temporaryPath(d.hex)
        guard try client.download(RemoteStore.objectKey(d), to: tmp) else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: tmp)[.size] as? Int) ?? 0
        try objects.adopt(file: tmp, as: d)
        return size
    }

    func neededObjects(_ record: RunRecord) throws -> [Digest] {
        var out: [Digest] = record.log.map { [$0] } ?? []
        for a in record.outputs.values { out += try objects.objects(of: a) }
        return out
    }

    func jsonFiles(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    static func objectKey(_ d: Digest) -> String { "objects/\(d.hex.prefix(2))/\(d.hex.dropFirst(2))" }

    static func digest(ofObjectKey key: String) -> Digest? {
        let parts = key.split(separator: "/")
        guard parts.count == 3, parts[0] == "objects" else { return nil }
        return Digest(hex: String(parts[1] + parts[2]))
    }
}
