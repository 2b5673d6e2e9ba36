import ArgumentParser
import HoneTensor

/// `hone blas-core`: the OpenBLAS kernel family hone runs here (after `BLASKernelChoice`), which
/// numeric stages' fingerprints name. `make test` runs the test suites on the same family.
struct BLASCore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas-core",
        abstract: "Print the OpenBLAS kernel family hone runs on this machine (part of numeric stages' fingerprints).",
        discussion: "OPENBLAS_CORETYPE, when set to a family OpenBLAS knows, chooses it (an unknown name: OpenBLAS picks by CPU features); else OpenBLAS picks by CPU model, and where it fell back to Prescott on a CPU with AVX2 or AVX-512, hone asks for Haswell or SkylakeX for itself (not for the commands it starts).")

    func run() throws { print(BLASInfo.coreName) }
}
