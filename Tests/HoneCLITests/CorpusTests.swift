import Foundation
import Testing

/// Every file of the invalid corpus gives `file:line:column: … message` and exit 2; none crashes.
/// The same MANIFEST.tsv drives the schema check (Tests/schema/check_schema.py), so the loader
/// and the schema are held to one list.
@Suite struct CorpusTests {
    static let corpus = Sandbox.repo.appendingPathComponent("Tests/HonePipelineTests/Corpus")

    struct Row: CustomTestStringConvertible, Sendable {
        let file: String, at: String, message: String
        var testDescription: String { file }
    }

    static let rows: [Row] = {
        let text = (try? String(contentsOf: corpus.appendingPathComponent("invalid/MANIFEST.tsv"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return f.count >= 4 ? Row(file: f[0], at: f[1], message: f[3]) : nil
        }
    }()

    @Test func manifestCoversEveryFileAndAtLeastThirty() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.appendingPathComponent("invalid").path)
            .filter { $0 != "MANIFEST.tsv" }
        #expect(Set(files) == Set(Self.rows.map(\.file)))
        #expect(Self.rows.count >= 30)
    }

    @Test(arguments: rows) func invalidFileIsRefusedWithItsPlace(_ row: Row) throws {
        let box = try Sandbox()
        let rel = "pipelines/\(row.file)"
        try FileManager.default.createDirectory(atPath: box.path("pipelines"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.corpus.appendingPathComponent("invalid/\(row.file)").path, toPath: box.path(rel))
        let r = try box.hone("validate", rel)
        #expect(r.status == 2, "\(row.file): exit \(r.status)\n\(r.all)")
        #expect(r.err.contains("\(rel):\(row.at): "), "\(row.file): expected at \(row.at)\n\(r.err)")
        #expect(r.err.lowercased().contains(row.message.lowercased()), "\(row.file): expected '\(row.message)'\n\(r.err)")
    }

    @Test func validFilesAreAccepted() throws {
        for name in ["chain.yaml", "chain.json"] {
            let box = try Sandbox()
            try FileManager.default.copyItem(atPath: Self.corpus.appendingPathComponent("valid/\(name)").path, toPath: box.path(name))
            let r = try box.hone("validate", name)
            #expect(r.status == 0, "\(name): \(r.all)")
        }
    }

    @Test func demoPipelineIsValid() throws {
        let box = try Sandbox()
        try box.sh("cp -r '\(Sandbox.repo.path)/pipelines' .")
        let r = try box.hone("validate", "pipelines/demo.yaml")
        #expect(r.status == 0, "\(r.all)")
    }

    @Test func allErrorsAreReportedAtOnce() throws {
        let box = try Sandbox()
        try box.write("p.yaml", """
        stages:
          a:
            kind: shell
            cmdd: echo hi
          b:
            kind: shel
          c:
            kind: shell
            cmd: echo ${nope}
        """)
        let r = try box.hone("validate", "p.yaml")
        #expect(r.status == 2)
        #expect(r.err.contains("p.yaml:4:5: stages.a.cmdd: unknown key 'cmdd' (did you mean 'cmd'?)"))
        #expect(r.err.contains("p.yaml:6:11: stages.b.kind: unknown kind 'shel' (did you mean 'shell'?)"))
        #expect(r.err.contains("p.yaml:9:10: stages.c.cmd: undefined variable '${nope}'"))
        #expect(r.err.contains("4 errors"), "\(r.err)")
    }

    @Test func symlinkOutOfTheWorkspaceIsRefused() throws {
        let box = try Sandbox()
        try FileManager.default.createSymbolicLink(atPath: box.path("outside"), withDestinationPath: "/etc")
        try box.write("p.yaml", "stages:\n  a:\n    kind: shell\n    cmd: cat outside/hostname > o.txt\n    deps: [outside/hostname]\n    outs: [o.txt]\n")
        let r = try box.hone("run", "p.yaml")
        #expect(r.status == 2)
        #expect(r.err.contains("p.yaml:5:12: stages.a.deps: 'outside/hostname' goes through a symlink to '/etc', outside the workspace"), "\(r.err)")
    }

    @Test func aliasBombIsRefusedQuickly() throws {
        let box = try Sandbox()
        try FileManager.default.copyItem(atPath: Self.corpus.appendingPathComponent("invalid/07-alias-bomb.yaml").path, toPath: box.path("bomb.yaml"))
        let start = Date()
        let r = try box.hone("validate", "bomb.yaml")
        #expect(r.status == 2)
        // Behaviour, not speed: expanding the bomb would take minutes and gigabytes.
        #expect(Date().timeIntervalSince(start) < 30)
    }
}
