// swift-tools-version: 6.1
import PackageDescription

// A path dependency's identity is its folder name, which differs between clones; derive it.
let rootPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last!)

let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ChainBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WrapperCore", package: rootPackage),
                .product(name: "BuiltinPlugins", package: rootPackage),
                .product(name: "InMemoryDriver", package: rootPackage),
            ],
            path: "Benchmarks/ChainBenchmarks",
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DriverBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WrapperCore", package: rootPackage),
                .product(name: "DriverDialects", package: rootPackage),
                .product(name: "BuiltinPlugins", package: rootPackage),
                .product(name: "CLibPQ", package: rootPackage),
                .product(name: "CMariaDB", package: rootPackage),
            ],
            path: "Benchmarks/DriverBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DriverOverhead",
            dependencies: [
                .product(name: "WrapperCore", package: rootPackage),
                .product(name: "DriverDialects", package: rootPackage),
                .product(name: "BuiltinPlugins", package: rootPackage),
                .product(name: "CLibPQ", package: rootPackage),
                .product(name: "CMariaDB", package: rootPackage),
            ],
            path: "Benchmarks/DriverOverhead"
        ),
        .executableTarget(
            name: "FailoverTimes",
            dependencies: [
                .product(name: "ClusterLab", package: rootPackage),
                .product(name: "WrapperCore", package: rootPackage),
                .product(name: "DriverDialects", package: rootPackage),
                .product(name: "BuiltinPlugins", package: rootPackage),
            ],
            path: "Benchmarks/FailoverTimes"
        ),
        .executableTarget(
            name: "TopologyFootprint",
            dependencies: [
                .product(name: "WrapperCore", package: rootPackage),
                .product(name: "DriverDialects", package: rootPackage),
                .product(name: "BuiltinPlugins", package: rootPackage),
            ],
            path: "Benchmarks/TopologyFootprint"
        ),
    ],
    swiftLanguageModes: [.v6]
)
