import ArgumentParser
import HoneTensor

/// `hone blas-core`: the OpenBLAS kernel family hone runs here (after `BLASKernelChoice`), which
/// numeric stages' fingerprints name. `make test` runs the test suites on the same family.
struct BLASCore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas-core",
        abstract: "Print the OpenBLAS kernel family hone runs on this machine (part of numeric stages' fingerprints).",
        discussion: "OPENBLAS_CORETYPE, when set, chooses it; else OpenBLAS does, by CPU model, unless it fell back to Prescott on a CPU with AVX2 or AVX-512, where hone asks for Haswell or SkylakeX.")

    func run() throws { print(BLASInfo.coreName) }
}
