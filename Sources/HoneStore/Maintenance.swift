import Foundation

/// `hone verify` and `hone gc`: whole-store checks and clean-up. Run with the workspace lock held.
public enum Maintenance {
    public struct VerifyReport: Sendable {
        public var checked = 0
        public var bytes = 0
        /// Objects whose bytes no longer hash to their name; now in quarantine.
        public var corrupt: [(digest: Digest, error: String)] = []
        /// Run records that name an object the store does not have.
        public var incomplete: [(stage: String, fingerprint: Digest, missing: [Digest])] = []
        public var ok: Bool { corrupt.isEmpty && incomplete.isEmpty }
    }

    public static func verify(objects: ObjectStore, runs: RunRecords, progress: (Int, Int) -> Void = { _, _ in }) -> VerifyReport {
        var report = VerifyReport()
        let all = objects.all()
        for (i, d) in all.enumerated() {
            do {
                var size = 0
                try objects.read(d) { size += $0.count }
                report.bytes += size
            } catch {
                report.corrupt.append((d, "\(error)"))
            }
            report.checked += 1
            progress(i + 1, all.count)
        }
        for record in runs.all() {
            var needed: [Digest] = record.log.map { [$0] } ?? []
            for a in record.outputs.values { needed += (try? objects.objects(of: a)) ?? [a.digest] }
            let missing = needed.filter { !objects.has($0) }
            if !missing.isEmpty { report.incomplete.append((record.stage, record.fingerprint, missing)) }
        }
        return report
    }

    public struct GCReport: Sendable {
        public var removedObjects = 0
        public var freedBytes = 0
        public var removedRuns = 0
        public var keptObjects = 0
    }

    /// Removes every object no kept run record reaches (its outputs, their tree entries, its
    /// log). `keepRuns`: when given, run records whose fingerprint is not in it are removed first
    /// (e.g. keep only what lockfiles name); when nil, the whole run-cache is kept.
    public static func collectGarbage(objects: ObjectStore, runs: RunRecords, keepRuns: Set<Digest>?, dryRun: Bool) -> GCReport {
        var report = GCReport()
        var reachable = Set<Digest>()
        for record in runs.all() {
            if let keep = keepRuns, !keep.contains(record.fingerprint) {
                if !dryRun { runs.remove(record.fingerprint) }
                report.removedRuns += 1
                continue
            }
            if let log = record.log { reachable.insert(log) }
            for a in record.outputs.values {
                reachable.insert(a.digest)
                if case .tree = a, let tree = try? objects.tree(a.digest) { for e in tree.entries { reachable.insert(e.digest) } }
            }
        }
        for d in objects.all() {
            if reachable.contains(d) { report.keptObjects += 1; continue }
            report.freedBytes += objects.storedSize(d)
            report.removedObjects += 1
            if !dryRun { objects.remove(d) }
        }
        if !dryRun { objects.sweepTemporaries() }
        return report
    }
}
