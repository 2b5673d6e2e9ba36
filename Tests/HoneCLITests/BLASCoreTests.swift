import Foundation
import Testing

/// hone runs OpenBLAS's kernels for the CPU, not its Prescott fallback, and keeps the family a
/// user sets in OPENBLAS_CORETYPE (see BLASKernelChoice).
@Suite struct BLASCoreTests {
    var flags: Set<String> {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        return Set(line.split(separator: " ").map(String.init))
    }

    @Test func honeRunsTheKernelsTheCPUCanRun() throws {
        guard flags.isSuperset(of: ["avx2", "fma"]) else {
            print("skipped: this CPU has no AVX2 with FMA, where Prescott's kernels are right")
            return
        }
        let box = try Sandbox()
        let chosen = try box.run("/usr/bin/env", ["-u", "OPENBLAS_CORETYPE", Sandbox.hone, "blas-core"])
        #expect(chosen.status == 0, "\(chosen.err)")
        let family = chosen.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!family.isEmpty && family != "Prescott", "hone runs \(family)")

        let asked = try box.run("/usr/bin/env", ["OPENBLAS_CORETYPE=Haswell", Sandbox.hone, "blas-core"])
        #expect(asked.out.trimmingCharacters(in: .whitespacesAndNewlines) == "Haswell", "\(asked.all)")
    }

    /// The family hone chose for itself is not passed on: a shell stage (or a Slurm job, or a
    /// program with its own OpenBLAS) sees the environment the user gave; a family the user set
    /// is passed on as it was.
    @Test func commandsHoneStartsSeeTheUsersEnvironment() throws {
        guard flags.isSuperset(of: ["avx2", "fma"]) else {
            print("skipped: this CPU has no AVX2 with FMA, where hone keeps OpenBLAS's choice")
            return
        }
        let box = try Sandbox()
        try box.write("p.yaml", "stages:\n  e:\n    kind: shell\n    cmd: (printenv OPENBLAS_CORETYPE; printenv HONE_BLAS_REEXEC; echo end) > env.txt\n    outs: [env.txt]\n")
        let chosen = try box.run("/usr/bin/env", ["-u", "OPENBLAS_CORETYPE", Sandbox.hone, "run", "p.yaml"])
        #expect(chosen.status == 0, "\(chosen.all)")
        #expect(box.read("env.txt") == "end\n")

        let asked = try box.run("/usr/bin/env", ["OPENBLAS_CORETYPE=Haswell", Sandbox.hone, "run", "--force", "p.yaml"])
        #expect(asked.status == 0, "\(asked.all)")
        #expect(box.read("env.txt") == "Haswell\nend\n")
    }
}
