import Foundation
import Testing

@Suite struct RunTests {
    func chain(_ n: Int) throws -> Sandbox {
        let box = try Sandbox()
        try box.write("in.txt", "start\n")
        try box.write("p.yaml", chainPipeline(n))
        return box
    }

    @Test func secondRunRunsNothingAndLeavesTheLockfileByteIdentical() throws {
        let box = try chain(5)
        let first = try box.hone("run", "p.yaml")
        #expect(first.status == 0, "\(first.all)")
        #expect(acted(first, "ran") == ["s1", "s2", "s3", "s4", "s5"])
        let lock = box.read("p.lock")
        let second = try box.hone("run", "p.yaml")
        #expect(second.status == 0)
        #expect(second.out.contains("Everything is up to date (5 stages"), "\(second.out)")
        #expect(box.read("p.lock") == lock)
        #expect(box.read("o5.txt") == "start\nseed 1\n2\n3\n4\n5\n")
    }

    @Test func changedParamRerunsExactlyThatStageAndDependentsAndChangingBackRestores() throws {
        let box = try Sandbox()
        try box.write("in.txt", "x\n")
        try box.write("p.yaml", """
        stages:
          a:
            kind: shell
            cmd: (cat in.txt; echo ${k}) > a.txt
            deps: [in.txt]
            outs: [a.txt]
            params: {k: 1}
          b:
            kind: shell
            cmd: cat a.txt a.txt > b.txt
            deps: [a.txt]
            outs: [b.txt]
          c:
            kind: shell
            cmd: echo independent > c.txt
            outs: [c.txt]
        """)
        #expect(try box.hone("run", "p.yaml").status == 0)
        let changed = try box.hone("run", "p.yaml", "-S", "a.k=2")
        #expect(acted(changed, "ran") == ["a", "b"], "\(changed.out)")
        #expect(box.read("b.txt") == "x\n2\nx\n2\n")
        let status = try box.hone("status", "p.yaml")
        #expect(status.out.contains("a: will run (cmd changed; param k: 2 -> 1)") || status.out.contains("a: will restore"), "\(status.out)")
        let back = try box.hone("run", "p.yaml")
        #expect(acted(back, "ran").isEmpty, "\(back.out)")
        #expect(Set(acted(back, "restored")) == ["a", "b"], "\(back.out)")
        #expect(box.read("b.txt") == "x\n1\nx\n1\n")
    }

    @Test func editWithinTheSameSecondAtTheSameSizeIsSeen() throws {
        let box = try Sandbox()
        try box.write("in.txt", "aaaa")
        try box.write("p.yaml", "stages:\n  a:\n    kind: shell\n    cmd: cp in.txt o.txt\n    deps: [in.txt]\n    outs: [o.txt]\n")
        #expect(try box.hone("run", "p.yaml").status == 0)
        // Same size, written straight away: only the nanosecond mtime, ctime tell.
        let fd = open(box.path("in.txt"), O_WRONLY)
        _ = "bbbb".withCString { write(fd, $0, 4) }
        close(fd)
        let status = try box.hone("status", "p.yaml")
        #expect(status.out.contains("a: will run (dep in.txt changed)"), "\(status.out)")
        let r = try box.hone("run", "p.yaml")
        #expect(acted(r, "ran") == ["a"])
        #expect(box.read("o.txt") == "bbbb")
    }

    @Test func failedStageStopsItsDependentsAndKeepGoingRunsTheRest() throws {
        let box = try Sandbox()
        try box.write("p.yaml", """
        stages:
          bad:
            kind: shell
            cmd: echo oops >&2; exit 3
            outs: [bad.txt]
          after:
            kind: shell
            cmd: cat bad.txt > after.txt
            deps: [bad.txt]
            outs: [after.txt]
          other:
            kind: shell
            cmd: echo fine > other.txt
            outs: [other.txt]
        """)
        let r = try box.hone("run", "p.yaml", "--keep-going")
        #expect(r.status == 1)
        #expect(r.err.contains("bad: FAILED: command exited with status 3"), "\(r.err)")
        #expect(r.err.contains("oops"))
        #expect(r.out.contains("after: skipped: upstream 'bad' did not finish"), "\(r.out)")
        #expect(box.read("other.txt") == "fine\n")
    }

    @Test func independentStagesRunAtOnceWithJobs() throws {
        let box = try Sandbox()
        // Each stage waits until the other has started: they can only both finish if they overlap.
        try box.write("p.yaml", """
        stages:
          left:
            kind: shell
            cmd: touch left.started; for i in $(seq 100); do [ -e right.started ] && break; sleep 0.05; done; [ -e right.started ] && echo ok > left.txt
            outs: [left.txt]
          right:
            kind: shell
            cmd: touch right.started; for i in $(seq 100); do [ -e left.started ] && break; sleep 0.05; done; [ -e left.started ] && echo ok > right.txt
            outs: [right.txt]
        """)
        let r = try box.hone("run", "p.yaml", "-j", "2")
        #expect(r.status == 0, "\(r.all)")
    }

    @Test func dagPrintsTextMermaidAndDot() throws {
        let box = try chain(3)
        #expect(try box.hone("dag", "p.yaml").out == "s1  shell\ns2  shell  <- s1\ns3  shell  <- s2\n")
        #expect(try box.hone("dag", "p.yaml", "--format", "mermaid").out.contains("s_s1 --> s_s2"))
        #expect(try box.hone("dag", "p.yaml", "--format", "dot").out.contains("\"s2\" -> \"s3\";"))
    }

    @Test func showListsOutputsAndExportWritesPlainFiles() throws {
        let box = try Sandbox()
        try box.write("p.yaml", "stages:\n  make:\n    kind: shell\n    cmd: mkdir -p d && echo one > d/a.txt && echo two > d/b.txt\n    outs: [d]\n")
        #expect(try box.hone("run", "p.yaml").status == 0)
        let show = try box.hone("show", "make", "-p", "p.yaml")
        #expect(show.out.contains("d  folder"), "\(show.out)")
        let export = try box.hone("export", "make.d", "copy", "-p", "p.yaml")
        #expect(export.status == 0, "\(export.all)")
        #expect(box.read("copy/a.txt") == "one\n")
        #expect(box.read("copy/b.txt") == "two\n")
        #expect(try box.hone("logs", "make", "-p", "p.yaml").status == 0)
    }

    @Test func unknownStageOnTheCommandLineIsAUsageError() throws {
        let box = try chain(2)
        let r = try box.hone("run", "p.yaml", "s3")
        #expect(r.status == 2)
        #expect(r.err.contains("no stage 's3'"))
    }
}

@Suite struct ShellInputTests {
    @Test func shellStageReadsAKindsOutputThroughItsInputFolder() throws {
        let box = try Sandbox()
        try box.write("raw.jsonl", "{\"text\": \"b\"}\n{\"text\": \"a\"}\n{\"text\": \"a\"}\n")
        try box.write("p.yaml", """
        stages:
          clean: {kind: clean, inputs: {data: raw.jsonl}}
          count:
            kind: shell
            inputs: {kept: clean.data}
            cmd: wc -l < "$HONE_INPUT_kept/data.jsonl" > n.txt
            outs: [n.txt]
        """)
        let r = try box.hone("run", "p.yaml")
        #expect(r.status == 0, "\(r.all)")
        #expect(box.read("n.txt")?.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try box.hone("dag", "p.yaml").out.contains("count  shell  <- clean"))
        // Changing what clean keeps reruns the shell stage that reads it.
        try box.write("raw.jsonl", "{\"text\": \"b\"}\n{\"text\": \"a\"}\n{\"text\": \"c\"}\n")
        let again = try box.hone("run", "p.yaml")
        #expect(acted(again, "ran") == ["clean", "count"], "\(again.out)")
        #expect(box.read("n.txt")?.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }
}

@Suite struct KindViewAndLockfileTests {
    @Test func kindOutputFolderFollowsTheRunCacheAndADamagedLockfileIsAConfigError() throws {
        let box = try Sandbox()
        try box.write("raw.jsonl", "{\"text\": \"a b c d e\"}\n{\"text\": \"f\"}\n")
        try box.write("p.yaml", "stages:\n  clean: {kind: clean, inputs: {data: raw.jsonl}, params: {min_words: 1}}\n")
        #expect(try box.hone("run", "p.yaml").status == 0)
        #expect(try box.hone("run", "p.yaml", "-S", "clean.min_words=3").status == 0)
        #expect(box.read(".hone/outputs/clean/data/data.jsonl") == "{\"text\":\"a b c d e\"}\n")
        let back = try box.hone("run", "p.yaml")
        #expect(back.out.contains("Everything is up to date"), "\(back.out)")
        #expect(box.read(".hone/outputs/clean/data/data.jsonl") == "{\"text\":\"a b c d e\"}\n{\"text\":\"f\"}\n")

        try box.write("p.lock", "<<<<<<< HEAD\n{}\n=======\n")
        let damaged = try box.hone("status", "p.yaml")
        #expect(damaged.status == 2)
        #expect(damaged.err.contains("p.lock is not a valid lockfile"), "\(damaged.err)")
    }

    @Test func exportRefusesToOverwriteAndReadOnlyCommandsMakeNoStore() throws {
        let box = try Sandbox()
        try box.write("p.yaml", "stages:\n  a: {kind: shell, cmd: echo hi > a.txt, outs: [a.txt]}\n")
        #expect(try box.hone("status", "p.yaml").status == 0)
        #expect(!box.exists(".hone"))
        #expect(try box.hone("run", "p.yaml").status == 0)
        try box.write("keep.txt", "mine\n")
        let r = try box.hone("export", "a.a.txt", "keep.txt", "-p", "p.yaml")
        #expect(r.status == 2)
        #expect(box.read("keep.txt") == "mine\n")
        #expect(try box.hone("export", "a.a.txt", "keep.txt", "--force", "-p", "p.yaml").status == 0)
        #expect(box.read("keep.txt") == "hi\n")
    }
}

@Suite struct RuntimeSymlinkTests {
    /// A symlink a stage makes while running cannot lead a later stage's outs outside.
    @Test func outThroughASymlinkMadeAtRunTimeIsRefused() throws {
        let box = try Sandbox()
        let outside = try Sandbox()
        try box.write("p.yaml", """
        stages:
          a: {kind: shell, cmd: "ln -sfn \(outside.root.path) link && echo ok > a.txt", outs: [a.txt]}
          b: {kind: shell, cmd: "echo hi > link/x.txt", deps: [a.txt], outs: [link/x.txt]}
        """)
        let r = try box.hone("run", "p.yaml")
        #expect(r.status == 1)
        #expect(r.err.contains("'link/x.txt' now leads outside the workspace through a symlink"), "\(r.err)")
        #expect(!outside.exists("x.txt"))
    }
}
