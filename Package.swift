// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swift-advanced-wrapper",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WrapperCore", targets: ["WrapperCore"]),
        .library(name: "DriverDialects", targets: ["DriverDialects"]),
        .library(name: "BuiltinPlugins", targets: ["BuiltinPlugins"]),
        .library(name: "InMemoryDriver", targets: ["InMemoryDriver"]),
        // Test support: drives scripts/cluster-lab.sh (demo, cluster tests, failover benchmarks).
        .library(name: "ClusterLab", targets: ["ClusterLab"]),
        // The C libraries, for benchmarks that compare the wrapper with them.
        .library(name: "CLibPQ", targets: ["CLibPQ"]),
        .library(name: "CMariaDB", targets: ["CMariaDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"]), .brew(["mariadb-connector-c"])]
        ),
        .target(
            name: "WrapperCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DriverDialects",
            dependencies: ["WrapperCore", "CLibPQ", "CMariaDB"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "BuiltinPlugins",
            dependencies: [
                "WrapperCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Test support only: an in-memory driver for unit tests of the plugin machinery and benchmarks.
        .target(
            name: "InMemoryDriver",
            dependencies: ["WrapperCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // The failover demo on the cluster lab (scripts/demo.sh).
        // Test support only: drives the cluster lab.
        .target(
            name: "ClusterLab",
            dependencies: ["WrapperCore"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Demo",
            dependencies: ["WrapperCore", "BuiltinPlugins", "DriverDialects", "ClusterLab", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // A soak on the cluster lab: RSS, threads and fds back at their baseline (scripts/soak.sh).
        .executableTarget(
            name: "Soak",
            dependencies: ["WrapperCore", "BuiltinPlugins", "DriverDialects", "ClusterLab"],
            swiftSettings: strictSettings
        ),
        // A tour of the API against throwaway servers (scripts/tour.sh).
        .executableTarget(
            name: "Tour",
            dependencies: ["WrapperCore", "BuiltinPlugins", "DriverDialects"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WrapperCoreTests",
            dependencies: ["WrapperCore", "InMemoryDriver"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BuiltinPluginsTests",
            dependencies: [
                "BuiltinPlugins", "WrapperCore", "InMemoryDriver",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            // Read by the tests from their source location; the scripts made them.
            exclude: ["Vectors", "Corpus"],
            swiftSettings: strictSettings
        ),
        // Integration tests on the cluster lab (scripts/cluster-lab.sh): real replication, real faults.
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "DriverDialects", "WrapperCore", "BuiltinPlugins", "ClusterLab",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The README's examples, generated verbatim by scripts/readme-examples.py, compiled and run.
        .testTarget(
            name: "ReadmeExamplesTests",
            dependencies: ["DriverDialects", "WrapperCore", "BuiltinPlugins"]
            // No upcoming-feature flags: the examples compile as in a user's package.
        ),
        .testTarget(
            name: "DriverDialectsTests",
            dependencies: [
                "DriverDialects", "WrapperCore", "BuiltinPlugins", "InMemoryDriver",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
