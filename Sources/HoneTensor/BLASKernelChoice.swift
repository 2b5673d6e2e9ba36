import Foundation

/// Which OpenBLAS kernel family a Hone program runs, when OpenBLAS's own choice wastes the CPU.
///
/// OpenBLAS (built with DYNAMIC_ARCH, as Debian's is) picks its kernels by CPU model, and an
/// Intel model the library does not list falls back to the Prescott (SSE3) kernels: Debian 12's
/// OpenBLAS 0.3.21 does that on Intel Xeons of family 6 model 207, where sgemm then runs at 34
/// GFLOP/s on one core against 160 with the SkylakeX (AVX-512) kernels the CPU can run. OpenBLAS
/// reads OPENBLAS_CORETYPE once, as the library loads, so the choice is made by running the
/// program again with it set. A user's own OPENBLAS_CORETYPE is always kept, and a family
/// OpenBLAS chose from the model (Zen, Haswell, SkylakeX, …) is never replaced.
///
/// The family is part of every numeric stage's fingerprint (`BLASInfo.coreName`): kernels of
/// different families sum in different orders and give different bits.
public enum BLASKernelChoice {
    /// The family to ask OpenBLAS for instead of `current`, or nil to keep it: only when OpenBLAS
    /// fell back to Prescott, nobody asked for a family, and the CPU (as the kernel reports its
    /// flags, which leaves out what the OS does not enable) runs AVX-512 or AVX2 with FMA.
    public static func preferred(current: String, requested: String?, cpuFlags: Set<String>) -> String? {
        guard requested == nil, current == "Prescott" else { return nil }
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    /// Set, with OPENBLAS_CORETYPE, for the run again: the family was hone's choice, not the user's.
    static let marker = "HONE_BLAS_REEXEC"

    /// Runs this program again, with the same arguments and OPENBLAS_CORETYPE set, when
    /// `preferred` names a family; returns (with OpenBLAS's kernels, and a warning) when the exec
    /// fails. In the program run again, which has its kernels loaded by then, both variables are
    /// removed: what hone starts (shell stages, checkers, Slurm jobs, another hone) sees the
    /// environment the user gave, and chooses for its own CPU. Call first thing in `main`.
    public static func reexecIfPreferred() {
        let environment = ProcessInfo.processInfo.environment
        if environment[marker] != nil {
            unsetenv("OPENBLAS_CORETYPE"); unsetenv(marker)
            return
        }
        let current = BLASInfo.coreName, requested = environment["OPENBLAS_CORETYPE"]
        guard requested == nil, current == "Prescott" else { return }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let family = preferred(current: current, requested: requested, cpuFlags: cpuFlags(cpuinfo: cpuinfo)) else { return }
        setenv("OPENBLAS_CORETYPE", family, 1); setenv(marker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = String(cString: strerror(errno))
        unsetenv("OPENBLAS_CORETYPE"); unsetenv(marker)
        FileHandle.standardError.write(Data(("hone: OpenBLAS chose its Prescott kernels on a CPU that runs \(family)'s, and running again "
            + "with OPENBLAS_CORETYPE=\(family) failed (\(reason)); going on with Prescott's, several times slower. "
            + "Set OPENBLAS_CORETYPE=\(family) yourself to use them.\n").utf8))
    }

    /// The first "flags" line of /proc/cpuinfo's text, split into words; empty where there is none.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
