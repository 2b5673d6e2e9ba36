// swift-tools-version:6.0
// The targets are the architecture: see ../shared/DESIGN.md ("Layout") and docs/architecture.md.
// Imports point one way: hone -> HoneStages -> {HonePipeline, HoneData, HoneTrain}; hone ->
// HoneRemote -> HoneStore; HonePipeline -> HoneStore -> {HoneBase, CZlib, Crypto}; HoneTrain ->
// HoneModel -> {HoneTensor -> {CBLAS, CFastMath}, CBlockKernels}. See docs/architecture.md.
import PackageDescription

let package = Package(
    name: "hone",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "hone", targets: ["hone"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // SHA-256 names every object; swift-crypto uses BoringSSL's SHA-NI code path on Linux.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // System libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // JSON values and the counter-based RNG: the few facts every other target shares.
        .target(name: "HoneBase"),
        .target(name: "HoneStore", dependencies: [
            "HoneBase", "CZlib", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // File formats shared by data and models: token shards (later safetensors, GGUF).
        .target(name: "HoneFormats", dependencies: ["HoneBase"]),
        // Record formats, clean, split, augment, the tokenizer: no pipelines, no store.
        .target(name: "HoneData", dependencies: ["HoneBase", "HoneFormats"]),
        .target(name: "HonePipeline", dependencies: ["CYAML", "HoneStore", "HoneBase"]),
        // A store mirrored to an S3-compatible bucket: SigV4 and a few REST calls over URLSession.
        .target(name: "HoneRemote", dependencies: ["HoneStore", "HoneBase", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "HoneTensor", dependencies: ["CBLAS", "CFastMath", "HoneBase"]),
        // Kernels in C, AVX2 chosen at run time (Swift has no per-function target features and
        // builds for baseline x86-64): products with GGML block matrices; the exponential of
        // softmax and SiLU, RMSNorm's row sums, Adam(W).
        .target(name: "CBlockKernels"),
        .target(name: "CFastMath"),
        // The Llama decoder (forward and backward by hand) and its files: no runner, no store.
        .target(name: "HoneModel", dependencies: ["HoneTensor", "HoneBase", "HoneFormats", "CBlockKernels"]),
        // Optimizers, schedules, the training loop and its checkpoints.
        .target(name: "HoneTrain", dependencies: ["HoneModel", "HoneTensor", "HoneBase", "HoneFormats", "CFastMath"]),
        .target(name: "HoneStages", dependencies: ["HonePipeline", "HoneData", "HoneFormats", "HoneTensor", "HoneModel", "HoneTrain"]),
        .executableTarget(name: "hone", dependencies: [
            "HoneStages", "HonePipeline", "HoneStore", "HoneRemote", "HoneBase", "HoneTensor", "HoneModel", "HoneData", "HoneFormats",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // `make bench`: measures the store beside plain zlib + SHA-256 on the same bytes.
        .executableTarget(name: "hone-bench", dependencies: ["HoneStore", "HoneBase", "HoneData", "HoneTensor", "HoneModel", "HoneTrain", "CZlib", "CBLAS"]),

        .testTarget(name: "HoneStoreTests", dependencies: ["HoneStore", "HoneBase"]),
        .testTarget(name: "HoneRemoteTests", dependencies: ["HoneRemote", "HoneStore", "HoneBase"]),
        .testTarget(name: "HoneDataTests", dependencies: ["HoneData", "HoneBase"]),
        .testTarget(name: "HoneFormatsTests", dependencies: ["HoneFormats", "HoneBase"]),
        .testTarget(name: "HoneTensorTests", dependencies: ["HoneTensor", "HoneBase", "CBLAS", "CFastMath"]),
        .testTarget(name: "HoneModelTests", dependencies: ["HoneModel", "HoneTrain", "HoneTensor", "HoneBase", "HoneFormats", "HoneData"], exclude: ["Fixtures"]),
        .testTarget(name: "HoneTrainTests", dependencies: ["HoneTrain", "HoneModel", "HoneTensor", "HoneBase"]),
        .testTarget(name: "HonePipelineTests", dependencies: ["HonePipeline", "HoneBase", "HoneStore"], exclude: ["Corpus"]),
        .testTarget(name: "HoneStagesTests", dependencies: ["HoneStages", "HonePipeline", "HoneBase", "HoneStore", "HoneTensor", "HoneData", "HoneModel"]),
        // Runs the built `hone` binary as a user would (HONE_BIN, or .build/<config>/hone).
        .testTarget(name: "HoneCLITests", dependencies: ["HoneStore", "HoneRemote"]),
    ],
    // Swift 5 mode: the scheduler shares classes across threads under its own locks.
    swiftLanguageModes: [.v5]
)
