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
}
