import BuiltinPlugins
import InMemoryDriver
import Metrics
import MetricsTestKit
import Testing
import WrapperCore

@Suite("Built-in plugins")
struct BuiltinPluginsTests {
    @Test("the default registry holds the built-in codes with the reference's weights")
    func defaultRegistry() throws {
        let codes = PluginRegistry.default.registeredCodes
        #expect(Set(["execute_time", "connect_time", "dev"]).isSubset(of: codes))
        #expect(BuiltinPluginFactories.make().count == Set(BuiltinPluginFactories.make().map(\.code)).count)
        #expect(BuiltinPluginFactories.make().allSatisfy { $0.weight == .relativeToPrior })
        let connection = try WrapperConnection.open(
            "postgresql://u@h/db?plugins=dev,execute_time,connect_time", driver: InMemoryDriver(), registry: .default)
        #expect(connection.plugin(ExecuteTimePlugin.self) != nil)
        #expect(connection.plugin(ConnectTimePlugin.self) != nil)
        #expect(connection.plugin(DeveloperPlugin.self) != nil)
    }

    @Test("execute_time keeps figures per connection, even when two connections share one chain")
    func executeTimeIsolation() throws {
        let metrics = TestMetrics()
        let chain = PluginChain { ExecuteTimePlugin(metricsFactory: metrics) }
        let driver = InMemoryDriver()
        let first = try WrapperConnection.open("postgresql://u@h/db", driver: driver, chain: chain, runtime: WrapperRuntime())
        let second = try WrapperConnection.open("postgresql://u@h/db", driver: driver, chain: chain, runtime: WrapperRuntime())
        for _ in 0..<3 { try first.execute("SELECT 1") }
        try first.commit()
        #expect(ExecuteTimePlugin.figures(of: first).count == 4)
        #expect(ExecuteTimePlugin.figures(of: first).total > 0)
        #expect(ExecuteTimePlugin.figures(of: second).count == 0)
        try second.execute("SELECT 1")
        #expect(ExecuteTimePlugin.figures(of: second).count == 1)
        #expect(ExecuteTimePlugin.figures(of: first).count == 4)
        let executeTimer = try metrics.expectTimer(ExecuteTimePlugin.metricLabel, [("method", "Cursor.execute")])
        #expect(executeTimer.values.count == 4)
        let commitTimer = try metrics.expectTimer(ExecuteTimePlugin.metricLabel, [("method", "Connection.commit")])
        #expect(commitTimer.values.count == 1)
        ExecuteTimePlugin.figures(of: first).reset()
        #expect(ExecuteTimePlugin.figures(of: first).count == 0)
    }

    @Test("connect_time measures the initial connect and later connects through the service")
    func connectTime() throws {
        let metrics = TestMetrics()
        let chain = PluginChain { ConnectTimePlugin(metricsFactory: metrics) }
        let connection = try WrapperConnection.open(
            "postgresql://u@h1,h2/db", driver: InMemoryDriver(), chain: chain, runtime: WrapperRuntime())
        #expect(ConnectTimePlugin.figures(of: connection).count == 1)
        _ = try connection.service.forceConnect(to: HostInfo(host: "h2", port: 5432, role: .reader))
        #expect(ConnectTimePlugin.figures(of: connection).count == 2)
        #expect(try metrics.expectTimer(ConnectTimePlugin.metricLabel).values.count == 2)
    }

    @Test("dev raises an armed error on the initial connect through a shared simulator")
    func devInitialConnect() throws {
        let simulator = ErrorSimulator()
        simulator.raiseOnNextConnect(WrapperError(.network, "simulated outage"))
        let chain = PluginChain { DeveloperPlugin(sharedSimulator: simulator) }
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open("postgresql://u@h/db", driver: InMemoryDriver(), chain: chain, runtime: WrapperRuntime())
        }
        #expect(error.message == "simulated outage")
        // Armed errors fire once.
        _ = try WrapperConnection.open("postgresql://u@h/db", driver: InMemoryDriver(), chain: chain, runtime: WrapperRuntime())
    }

    @Test("dev raises on the next call of a chosen method, reached from a live connection")
    func devNextMethod() throws {
        let connection = try WrapperConnection.open("postgresql://u@h/db?plugins=dev", driver: InMemoryDriver(), registry: .default)
        let simulator = try #require(DeveloperPlugin.simulator(of: connection))
        simulator.raiseOnNextCall(WrapperError(.readOnly, "simulated read-only"), method: .connectionCommit)
        try connection.execute("SELECT 1")
        let error = try #require(throws: WrapperError.self) { try connection.commit() }
        #expect(error.code == .readOnly)
        try connection.commit()
        simulator.raiseOnNextCall(WrapperError(.timeout, "any method"))
        #expect(throws: WrapperError.self) { try connection.rollback() }
        try connection.rollback()
    }

    @Test("dev callbacks decide per call and per connect")
    func devCallbacks() throws {
        let connection = try WrapperConnection.open("postgresql://u@h1,h2/db?plugins=dev", driver: InMemoryDriver(), registry: .default)
        let simulator = try #require(DeveloperPlugin.simulator(of: connection))
        simulator.setCallCallback { call in call.sql.contains("boom") ? WrapperError(.driver, "callback says no") : nil }
        #expect(throws: WrapperError.self) { try connection.execute("SELECT boom") }
        try connection.execute("SELECT fine")
        simulator.setConnectCallback { request in request.host.host == "h2" ? WrapperError(.network, "h2 is down") : nil }
        #expect(throws: WrapperError.self) {
            _ = try connection.service.connect(to: HostInfo(host: "h2", port: 5432, role: .reader))
        }
        _ = try connection.service.connect(to: HostInfo(host: "h1", port: 5432))
        simulator.reset()
        try connection.execute("SELECT boom")
    }

    @Test("a connection without dev has no simulator")
    func noDev() throws {
        let connection = try WrapperConnection.open("postgresql://u@h/db?plugins=", driver: InMemoryDriver(), registry: .default)
        #expect(DeveloperPlugin.simulator(of: connection) == nil)
    }
}
