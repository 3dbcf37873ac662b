import Benchmark
import BuiltinPlugins
import InMemoryDriver
import WrapperCore

/// A subscribed plugin that only forwards: what the chain itself costs.
struct PassThrough: Plugin {
    var subscribedMethods: PluginMethods { .all }
}

/// A plugin subscribed to nothing: the pipeline must be skipped.
struct Unsubscribed: Plugin {
    var subscribedMethods: PluginMethods { .none }
}

/// Builds a static chain of `count` pass-through plugins (types differ by count, so three functions).
func staticChain1() -> some Plugin { PluginChain { PassThrough() } }
func staticChain5() -> some Plugin {
    PluginChain { PassThrough(); PassThrough(); PassThrough(); PassThrough(); PassThrough() }
}
func staticChain10() -> some Plugin {
    PluginChain {
        PassThrough(); PassThrough(); PassThrough(); PassThrough(); PassThrough()
        PassThrough(); PassThrough(); PassThrough(); PassThrough(); PassThrough()
    }
}
func staticUnsubscribed10() -> some Plugin {
    PluginChain {
        Unsubscribed(); Unsubscribed(); Unsubscribed(); Unsubscribed(); Unsubscribed()
        Unsubscribed(); Unsubscribed(); Unsubscribed(); Unsubscribed(); Unsubscribed()
    }
}

func makeRegistry() -> PluginRegistry {
    let registry = PluginRegistry()
    for index in 0..<10 {
        try! registry.register(code: "pass\(index)", weight: .fixed(index)) { _ in PassThrough() }
        try! registry.register(code: "none\(index)", weight: .fixed(index)) { _ in Unsubscribed() }
    }
    return registry
}

func registryChain(_ registry: PluginRegistry, prefix: String, count: Int, driver: InMemoryDriver) -> DynamicPluginChain {
    let codes = (0..<count).map { "\(prefix)\($0)" }.joined(separator: ",")
    return try! registry.chain(for: ["plugins": codes], driver: driver)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 2_000
    )

    let driver = InMemoryDriver(retainsConnections: false)
    let connection = try! WrapperConnection.open(
        "postgresql://u@h/db", driver: driver, chain: PluginChain {}, runtime: WrapperRuntime())
    let service = connection.service
    let call = MethodCall(.connectionCommit)
    let host = HostInfo(host: "h", port: 5432)
    let request = ConnectRequest(host: host, properties: ["user": "u"], isInitialConnection: false)
    let registry = makeRegistry()

    // MARK: Execute pipeline

    Benchmark("execute: direct call") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try service.performOnDriver(call))
        }
    }

    func executeBenchmark(_ name: String, _ chain: some Plugin) {
        Benchmark("execute: \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try chain.execute(call, service: service) { call, service in try service.performOnDriver(call) })
            }
        }
    }
    executeBenchmark("static 1", staticChain1())
    executeBenchmark("static 5", staticChain5())
    executeBenchmark("static 10", staticChain10())
    executeBenchmark("static 10 unsubscribed", staticUnsubscribed10())
    executeBenchmark("registry 1", registryChain(registry, prefix: "pass", count: 1, driver: driver))
    executeBenchmark("registry 5", registryChain(registry, prefix: "pass", count: 5, driver: driver))
    executeBenchmark("registry 10", registryChain(registry, prefix: "pass", count: 10, driver: driver))
    executeBenchmark("registry 10 unsubscribed", registryChain(registry, prefix: "none", count: 10, driver: driver))

    // Through the connection API: erasure, the one-caller guard and the terminal step.
    func connectionBenchmark(_ name: String, _ connection: WrapperConnection) {
        Benchmark("connection commit: \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                try connection.commit()
            }
        }
    }
    connectionBenchmark("no plugins", connection)
    connectionBenchmark(
        "static 10",
        try! WrapperConnection.open("postgresql://u@h/db", driver: driver, chain: PluginChain { staticChain10() },
                                    runtime: WrapperRuntime()))
    connectionBenchmark(
        "registry 10",
        try! WrapperConnection.open("postgresql://u@h/db?plugins=" + (0..<10).map { "pass\($0)" }.joined(separator: ","),
                                    driver: driver, registry: registry))

    // Failover and host monitoring on the hot path (in-memory driver; monitoring never fires:
    // the 30 s grace never passes), against the same connection without plugins.
    func executeThrough(_ name: String, _ connection: WrapperConnection) {
        Benchmark("connection execute: \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try connection.execute("SELECT 1"))
            }
        }
    }
    executeThrough("no plugins", connection)
    executeThrough(
        "host_monitoring_v2",
        try! WrapperConnection.open("postgresql://u@h/db", driver: driver, chain: PluginChain { HostMonitoringPlugin() }, runtime: WrapperRuntime()))
    executeThrough(
        "failover_v2",
        try! WrapperConnection.open("postgresql://u@h/db", driver: driver, chain: PluginChain { FailoverPlugin() }, runtime: WrapperRuntime()))
    executeThrough(
        "failover_v2 + host_monitoring_v2",
        try! WrapperConnection.open(
            "postgresql://u@h/db", driver: driver, chain: PluginChain { FailoverPlugin(); HostMonitoringPlugin() }, runtime: WrapperRuntime()))

    // MARK: Connect pipeline

    Benchmark("connect: direct call") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try service.openOnDriver(request))
        }
    }

    func connectBenchmark(_ name: String, _ chain: some Plugin) {
        Benchmark("connect: \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try chain.connect(request, service: service) { request, service in try service.openOnDriver(request) })
            }
        }
    }
    connectBenchmark("static 1", staticChain1())
    connectBenchmark("static 5", staticChain5())
    connectBenchmark("static 10", staticChain10())
    connectBenchmark("static 10 unsubscribed", staticUnsubscribed10())
    connectBenchmark("registry 1", registryChain(registry, prefix: "pass", count: 1, driver: driver))
    connectBenchmark("registry 5", registryChain(registry, prefix: "pass", count: 5, driver: driver))
    connectBenchmark("registry 10", registryChain(registry, prefix: "pass", count: 10, driver: driver))
    connectBenchmark("registry 10 unsubscribed", registryChain(registry, prefix: "none", count: 10, driver: driver))
}
