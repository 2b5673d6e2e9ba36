import HoneTensor
import Testing

@Suite struct BLASKernelChoiceTests {
    let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
    let avx2: Set<String> = ["sse3", "avx", "avx2", "fma"]

    @Test func replacesOnlyThePrescottFallback() {
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: nil, cpuFlags: avx512) == "SkylakeX")
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: nil, cpuFlags: avx2) == "Haswell")
        // OpenBLAS knew the CPU: its family stays, even where a wider one would run
        #expect(BLASKernelChoice.preferred(current: "Zen", requested: nil, cpuFlags: avx512) == nil)
        #expect(BLASKernelChoice.preferred(current: "Haswell", requested: nil, cpuFlags: avx512) == nil)
    }

    @Test func keepsWhatTheUserAskedFor() {
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: "Prescott", cpuFlags: avx512) == nil)
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: "", cpuFlags: avx512) == nil)
    }

    @Test func needsEveryFlagOfAFamily() {
        // AVX-512 foundation alone (Xeon Phi's subset) is not SkylakeX's set: AVX2 kernels then
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: nil, cpuFlags: avx2.union(["avx512f"])) == "Haswell")
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: nil, cpuFlags: ["sse3", "avx", "avx2"]) == nil)
        #expect(BLASKernelChoice.preferred(current: "Prescott", requested: nil, cpuFlags: []) == nil)
    }

    @Test func readsTheFlagsLineOfCPUInfo() {
        let cpuinfo = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            flags\t\t: fpu sse3 avx2 fma avx512f
            bugs\t\t: spectre_v1

            processor\t: 1
            flags\t\t: fpu
            """
        #expect(BLASKernelChoice.cpuFlags(cpuinfo: cpuinfo) == ["fpu", "sse3", "avx2", "fma", "avx512f"])
        #expect(BLASKernelChoice.cpuFlags(cpuinfo: "processor : 0\n").isEmpty)
    }
}
