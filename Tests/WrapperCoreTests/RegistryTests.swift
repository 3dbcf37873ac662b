import Dispatch
import InMemoryDriver
import Testing
@testable import WrapperCore

@Suite("Registry")
struct RegistryTests {
    let trace = Trace()

    @Test("fixed weights sort the chain, lowest outermost")
    func fixedWeights() throws {
        let registry = try registryWith([("iam", .fixed(700)), ("failover_v2", .fixed(410)), ("efm", .fixed(510))], trace: trace)
        #expect(try registry.resolveCodes(for: ["plugins": "iam,efm,failover_v2"]) == ["failover_v2", "efm", "iam"])
    }

    @Test("relative weights follow the previous plugin in the user's order")
    func relativeWeights() throws {
        let registry = try registryWith([("iam", .fixed(700)), ("execute_time", .relativeToPrior), ("stale_dns", .fixed(200))], trace: trace)
        // execute_time,iam → 1, 700; iam,execute_time → 700, 701 (the reference's examples).
        #expect(try registry.resolveCodes(for: ["plugins": "execute_time,iam"]) == ["execute_time", "iam"])
        #expect(try registry.resolveCodes(for: ["plugins": "iam,execute_time,stale_dns"]) == ["stale_dns", "iam", "execute_time"])
        #expect(PluginRegistry.sortedByWeight(["a", "b", "c"], [.relativeToPrior, .relativeToPrior, .fixed(1)]) == ["a", "c", "b"])
    }

    @Test("auto sort off keeps the user's order")
    func manualOrder() throws {
        let registry = try registryWith([("iam", .fixed(700)), ("failover_v2", .fixed(410))], trace: trace)
        let codes = try registry.resolveCodes(for: ["plugins": " iam , failover_v2 ", "auto_sort_wrapper_plugin_order": "false"])
        #expect(codes == ["iam", "failover_v2"])
    }

    @Test("an empty plugins property means no plugins")
    func emptyList() throws {
        let registry = PluginRegistry()
        #expect(try registry.resolveCodes(for: ["plugins": ""]).isEmpty)
        let chain = try registry.chain(for: ["plugins": ""], driver: InMemoryDriver())
        #expect(chain.plugins.isEmpty)
        #expect(chain.subscribedMethods.isEmpty)
    }

    @Test("an absent plugins property means the reference's default list")
    func defaultList() throws {
        let registry = try registryWith(
            [("initial_connection", .fixed(50)), ("aurora_connection_tracker", .fixed(100)), ("failover_v2", .fixed(410)),
             ("host_monitoring_v2", .fixed(510))], trace: trace)
        #expect(try registry.resolveCodes(for: [:]) == ["initial_connection", "aurora_connection_tracker", "failover_v2", "host_monitoring_v2"])
    }

    @Test("an unknown code is an error listing the known codes")
    func unknownCode() throws {
        let registry = try registryWith([("alpha", .fixed(1)), ("beta", .fixed(2))], trace: trace)
        let error = try #require(throws: WrapperError.self) { try registry.resolveCodes(for: ["plugins": "alpha,gamma"]) }
        #expect(error.code == .unknownPlugin)
        #expect(error.message.contains("'gamma'"))
        #expect(error.message.contains("alpha, beta"))
    }

    @Test("a reference code that is not built yet says so")
    func unavailableCode() throws {
        let registry = PluginRegistry()
        let error = try #require(throws: WrapperError.self) { try registry.resolveCodes(for: ["plugins": "failover_v2"]) }
        #expect(error.code == .pluginUnavailable)
        #expect(error.message.contains("not available in this build"))
        let defaultError = try #require(throws: WrapperError.self) { try registry.resolveCodes(for: [:]) }
        #expect(defaultError.code == .pluginUnavailable)
    }

    @Test("duplicate registrations and duplicate listings are rejected")
    func duplicates() throws {
        let registry = try registryWith([("alpha", .fixed(1))], trace: trace)
        let error = try #require(throws: WrapperError.self) {
            try registry.register(code: "alpha") { _ in EmptyPlugin() }
        }
        #expect(error.code == .duplicatePlugin)
        let listed = try #require(throws: WrapperError.self) { try registry.resolveCodes(for: ["plugins": "alpha,alpha"]) }
        #expect(listed.code == .duplicatePlugin)
        #expect(throws: WrapperError.self) { try registry.register(code: "has space") { _ in EmptyPlugin() } }
        #expect(throws: WrapperError.self) { try PluginRegistry(factories: [
            PluginFactory(code: "x", weight: .fixed(1)) { _ in EmptyPlugin() },
            PluginFactory(code: "x", weight: .fixed(2)) { _ in EmptyPlugin() },
        ]) }
    }

    @Test("an invalid auto-sort value is a typed error")
    func invalidAutoSort() throws {
        let registry = try registryWith([("alpha", .fixed(1))], trace: trace)
        let error = try #require(throws: WrapperError.self) {
            try registry.resolveCodes(for: ["plugins": "alpha", "auto_sort_wrapper_plugin_order": "maybe"])
        }
        #expect(error.code == .invalidProperty)
        #expect(error.message.contains("auto_sort_wrapper_plugin_order"))
    }

    @Test("profiles select an unsorted plugin list and default properties")
    func profiles() throws {
        let registry = try registryWith([("iam", .fixed(700)), ("failover_v2", .fixed(410))], trace: trace)
        registry.addOrReplaceProfile(ConfigurationProfile(
            name: "fast", plugins: ["iam", "failover_v2"], properties: ["connect_timeout": "2", "user": "profile-user"]))
        #expect(try registry.resolveCodes(for: ["profile_name": "fast", "plugins": "failover_v2"]) == ["iam", "failover_v2"])
        let effective = try registry.effectiveProperties(["profile_name": "fast", "user": "me"])
        #expect(effective["connect_timeout"] == "2")
        #expect(effective["user"] == "me")
        let error = try #require(throws: WrapperError.self) { try registry.resolveCodes(for: ["profile_name": "slow"]) }
        #expect(error.code == .unknownProfile)
        #expect(error.message.contains("fast"))
        registry.removeProfile(named: "fast")
        #expect(registry.profile(named: "fast") == nil)
    }

    @Test("a registry chain runs its plugins in sorted order")
    func registryChainOrder() throws {
        let registry = try registryWith([("b", .fixed(20)), ("a", .fixed(10)), ("c", .relativeToPrior)], trace: trace)
        let connection = try WrapperConnection.open(
            "postgresql://u@h/db?plugins=c,b,a", driver: InMemoryDriver(), registry: registry)
        trace.reset()
        try connection.commit()
        // c follows nothing (weight 1), then a (10), then b (20).
        #expect(trace.all == ["c.before", "a.before", "b.before", "b.after", "a.after", "c.after"])
    }

    @Test("the registry is safe to use from many threads at once")
    func concurrentUse() throws {
        let registry = try registryWith([("base", .fixed(1))], trace: trace)
        let driver = InMemoryDriver()
        let failures = Trace()
        DispatchQueue.concurrentPerform(iterations: 200) { index in
            do {
                try registry.register(code: "p\(index)", weight: .fixed(index)) { _ in EmptyPlugin() }
                let chain = try registry.chain(for: ["plugins": "p\(index),base"], driver: driver)
                if chain.plugins.count != 2 { failures.add("chain \(index) has \(chain.plugins.count) plugins") }
                registry.addOrReplaceProfile(ConfigurationProfile(name: "profile\(index % 7)", plugins: ["base"]))
                _ = try registry.resolveCodes(for: ["profile_name": "profile\(index % 7)"])
            } catch {
                failures.add("\(index): \(error)")
            }
        }
        #expect(failures.all.isEmpty)
        #expect(registry.registeredCodes.count == 201)
    }

    @Test("empty entries in plugins are rejected")
    func emptyEntries() throws {
        let registry = try registryWith([("a", .fixed(1)), ("b", .fixed(2))], trace: trace)
        #expect(throws: WrapperError.self) { try registry.resolveCodes(for: ["plugins": "a,,b"]) }
        #expect(throws: WrapperError.self) { try registry.resolveCodes(for: ["plugins": "a,"]) }
        #expect(try registry.resolveCodes(for: ["plugins": " "]).isEmpty)
    }

    @Test("the default list leaves out host_monitoring_v2 for drivers that cannot abort")
    func defaultListWithoutAbort() throws {
        struct NoAbortDriver: DriverDialect {
            let base = InMemoryDriver()
            var code: String { "no-abort" }
            var defaultPort: Int { 1 }
            func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection { try base.connect(to: host, properties: properties) }
            func perform(_ call: MethodCall, on connection: any DriverConnection) throws -> CallResult { try base.perform(call, on: connection) }
            func isClosed(_ connection: any DriverConnection) -> Bool { base.isClosed(connection) }
            func isInTransaction(_ connection: any DriverConnection) -> Bool { base.isInTransaction(connection) }
            func close(_ connection: any DriverConnection) { base.close(connection) }
            func abort(_ connection: any DriverConnection) {}
            func sessionValue(_ kind: SessionValueKind, of connection: any DriverConnection) throws -> SessionValue { try base.sessionValue(kind, of: connection) }
            func apply(_ value: SessionValue, to connection: any DriverConnection) throws { try base.apply(value, to: connection) }
        }
        let registry = try registryWith(
            [("initial_connection", .fixed(50)), ("aurora_connection_tracker", .fixed(100)), ("failover_v2", .fixed(410)),
             ("host_monitoring_v2", .fixed(510))], trace: trace)
        #expect(try registry.resolveCodes(for: [:], driver: NoAbortDriver()) == ["initial_connection", "aurora_connection_tracker", "failover_v2"])
        #expect(try registry.resolveCodes(for: [:], driver: InMemoryDriver()).count == 4)
    }

    @Test("huge weights do not overflow")
    func hugeWeights() {
        #expect(PluginRegistry.sortedByWeight(["a", "b"], [.fixed(Int.max), .relativeToPrior]) == ["a", "b"])
    }
}
