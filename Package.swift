// swift-tools-version:6.0
import PackageDescription

// Numeric code is compiled for the build machine's CPU (AVX-512 / AVX2+FMA): without a target CPU,
// Swift's SIMD types fall back to per-lane libm calls and run 30-40x slower. A binary built here may not
// run on an older CPU; rebuild on the machine that runs it (see README, "Building").
let cpuFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native"]),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// Numeric targets are optimized even in debug builds: unoptimized SIMD code is 30-100x slower, which would make
// `swift test` (debug) on real models take many minutes.
let optimizedCpuFlags: [SwiftSetting] = cpuFlags + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "TinyLoRA",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tinylora", targets: ["tinylora"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // bf16 kernels in C with AVX-512 BF16 intrinsics, enabled per function (target attributes) and chosen at
        // run time (`ck_bf16_supported`), so no global -march is needed. Optimized in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
        .target(name: "Numerics", dependencies: ["CBLAS", "CKernels"], swiftSettings: optimizedCpuFlags),
        .target(name: "ModelFiles", dependencies: ["Numerics", "CZlib"], swiftSettings: optimizedCpuFlags),
        .target(name: "Tokenizers", dependencies: ["ModelFiles"], swiftSettings: cpuFlags),
        .target(name: "Transformer", dependencies: ["Numerics", "ModelFiles"], swiftSettings: optimizedCpuFlags),
        .target(name: "Generation", dependencies: ["Transformer", "Tokenizers"], swiftSettings: cpuFlags),
        .target(name: "Adapters", dependencies: ["Transformer", "Numerics", "ModelFiles", "CBLAS"], swiftSettings: cpuFlags),
        .target(name: "Tasks", dependencies: ["ModelFiles", "Tokenizers", "Numerics"], swiftSettings: cpuFlags),
        .target(name: "Training", dependencies: ["Transformer", "Numerics", "ModelFiles", "Adapters", "Generation", "Tokenizers", "Tasks",
                                                 .product(name: "Yams", package: "Yams")], swiftSettings: cpuFlags),
        .executableTarget(
            name: "tinylora",
            dependencies: [
                "Numerics", "ModelFiles", "Tokenizers", "Transformer", "Generation", "Adapters", "Tasks", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuFlags
        ),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics"], swiftSettings: cpuFlags),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "ModelFiles"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "ModelFiles", "Numerics"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "Transformer", "ModelFiles", "Numerics", "CBLAS"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "GenerationTests", dependencies: ["Generation", "Transformer", "Tokenizers", "Numerics"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "ModelFiles", "Tokenizers"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Tasks", "Adapters", "Transformer", "Generation", "Tokenizers", "ModelFiles", "Numerics"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        // Runs the built `tinylora` executable (found beside the test bundle) on the real models.
        .testTarget(name: "CLITests", dependencies: ["ModelFiles"], swiftSettings: cpuFlags),
    ],
    swiftLanguageModes: [.v5]
)
