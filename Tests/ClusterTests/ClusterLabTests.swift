import BuiltinPlugins
import Foundation
import Synchronization
import Testing
import WrapperCore
@testable import DriverDialects

/// Tests on the cluster lab. They share one lab and change it (promotions), so they run one at a time.
@Suite("Cluster lab", .serialized)
struct ClusterLabTests {
    init() throws {
        // Every test starts from a healthy aurora-flavoured lab with pg-1 and my-1 as writers.
        // A fresh lab is about one second away; restarting it keeps tests independent of each other.
        try Lab.run("down")
        try Lab.run("up", "--engine", "both", "--flavor", "aurora", "--dns-lag", "2")
    }

    @Test("dialects are detected on plain and emulated servers")
    func dialectDetection() throws {
        let registry = Lab.registry()
        let aurora = try WrapperConnection.open(Lab.pgURL(host: Lab.pgHost(1)), driver: PostgresDriver(), registry: registry)
        #expect(aurora.service.databaseDialect?.code == "aurora-pg")
        try aurora.close()
        let multiAzMySQL = try WrapperConnection.open(Lab.myURL(host: Lab.myHost(1)), driver: MariaDBDriver(), registry: registry)
        #expect(multiAzMySQL.service.databaseDialect?.code == "multi-az-mysql")
        try multiAzMySQL.close()
        let viaName = try WrapperConnection.open(Lab.myURL(host: Lab.myClusterEndpoint), driver: MariaDBDriver(), registry: registry)
        #expect(viaName.service.databaseDialect?.code == "multi-az-mysql")
        try viaName.close()
        let forced = try WrapperConnection.open(
            Lab.pgURL(host: Lab.pgHost(1), "plugins=&wrapper_dialect=pg"), driver: PostgresDriver(), registry: registry)
        #expect(forced.service.databaseDialect?.code == "pg")
        #expect(forced.service.isStaticHostListProvider)
        try forced.close()
        #expect(throws: WrapperError.self) {
            try WrapperConnection.open(Lab.pgURL(host: Lab.pgHost(1), "plugins=&wrapper_dialect=oracle"), driver: PostgresDriver(), registry: registry)
        }
        registry.runtime.shutdown()
    }

    @Test("a cluster reached through an IP without cluster_instance_host_pattern fails the open")
    func ipWithoutPattern() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let url = "postgresql://\(Lab.user):\(Lab.password)@\(Lab.pgHost(1)):\(Lab.pgPort)/\(Lab.database)?plugins=failover_v2"
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry)
        }
        #expect(error.code == .missingProperty)
        #expect(error.message.contains("cluster_instance_host_pattern"))
        #expect(!error.description.contains(Lab.password))
    }

    @Test("the topology is read from the lab, through IPs and through RDS-shaped names")
    func topology() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let connection = try WrapperConnection.open(Lab.pgURL(host: Lab.pgHost(1)), driver: PostgresDriver(), registry: registry)
        defer { try? connection.close() }
        let hosts = connection.service.allHosts
        #expect(hosts.count == 3)
        #expect(hosts.first { $0.role == .writer }?.host == Lab.pgHost(1))
        #expect(Set(hosts.filter { $0.role == .reader }.map(\.host)) == [Lab.pgHost(2), Lab.pgHost(3)])
        #expect(hosts.allSatisfy { $0.port == Lab.pgPort })

        let named = try WrapperConnection.open(Lab.myURL(host: Lab.myClusterEndpoint), driver: MariaDBDriver(), registry: registry)
        defer { try? named.close() }
        let myHosts = named.service.allHosts
        #expect(myHosts.map(\.host).sorted() == ["my-1.xyz123.us-east-1.rds.amazonaws.com", "my-2.xyz123.us-east-1.rds.amazonaws.com"])
        #expect(myHosts.first { $0.role == .writer }?.host.hasPrefix("my-1") == true)

        // Reader strategies work over the real topology.
        let picks = try (0..<4).map { _ in try connection.service.hostInfo(byStrategy: "round_robin", role: .reader).host }
        #expect(picks == [Lab.pgHost(2), Lab.pgHost(3), Lab.pgHost(2), Lab.pgHost(3)])
        #expect(registry.runtime.topologyMonitors.count == 2)
    }

    @Test("one monitor serves every connection of a cluster")
    func sharedMonitor() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let connections = try (0..<5).map { _ in
            try WrapperConnection.open(Lab.pgURL(host: Lab.pgHost(1)), driver: PostgresDriver(), registry: registry)
        }
        #expect(registry.runtime.topologyMonitors.count == 1)
        let monitors = connections.compactMap { ($0.service.hostListProvider as? RdsHostListProvider)?.monitor }
        #expect(monitors.count == 5)
        #expect(monitors.allSatisfy { $0 === monitors[0] })
        for connection in connections { try connection.close() }
    }

    @Test("a promotion is seen by the monitor and announced to connections as host-list changes")
    func promotionSeen() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        final class Heard: Sendable { let changes = LockedValue<[HostListChanges]>([]) }
        let heard = Heard()
        struct Listener: Plugin {
            let heard: Heard
            var subscribedMethods: PluginMethods { [.notifyHostListChanged] }
            func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
                heard.changes.withLock { $0.append(changes) }
            }
        }
        let connection = try WrapperConnection.open(
            Lab.pgURL(host: Lab.pgHost(1), "topology_refresh_ms=300"), driver: PostgresDriver(),
            chain: PluginChain { Listener(heard: heard) }, runtime: registry.runtime)
        defer { try? connection.close() }
        let monitor = try #require((connection.service.hostListProvider as? RdsHostListProvider)?.monitor)
        let announced = LockedValue<[HostListChanges]>([])
        let token = monitor.addListener { changes, _ in announced.withLock { $0.append(changes) } }
        defer { monitor.removeListener(token) }
        heard.changes.withLock { $0.removeAll() }

        try Lab.run("promote", "pg-2")
        let writerURL = "\(Lab.pgHost(2)):\(Lab.pgPort)/"
        #expect(Lab.eventually { announced.withLock { $0.contains { $0[writerURL]?.contains(.convertedToWriter) == true } } })
        #expect(monitor.hosts.first { $0.role == .writer }?.host == Lab.pgHost(2))
        // The connection hears it on its own thread, at its next call.
        _ = try? connection.execute("SELECT 1")
        #expect(heard.changes.withLock { $0.contains { $0[writerURL]?.contains(.convertedToWriter) == true } })
        try Lab.run("rejoin", "pg-1")
    }

    @Test("the cluster endpoint's stale DNS is detected and the connection goes to the real writer")
    func staleDNS() throws {
        try Lab.run("down")
        try Lab.run("up", "--engine", "pg", "--flavor", "aurora", "--dns-lag", "30")
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        try Lab.run("promote", "pg-2")
        try Lab.run("rejoin", "pg-1")  // the old writer is back as a reader; DNS still points at it
        #expect(FileResolver(path: Lab.hostsFile).address(of: Lab.pgClusterEndpoint) == Lab.pgHost(1))
        let connection = try WrapperConnection.open(
            Lab.pgURL(host: Lab.pgClusterEndpoint, "plugins=stale_dns"), driver: PostgresDriver(), registry: registry)
        defer { try? connection.close() }
        #expect(StaleDNSPlugin.detections(of: connection) == 1)
        #expect(try connection.service.hostRole() == HostRole.writer)
        #expect(connection.currentHost.map { Lab.address(of: $0.host) } == Lab.pgHost(2))
        try connection.execute("CREATE TABLE IF NOT EXISTS stale_dns_check (id int)")
        try Lab.run("down")
    }

    @Test("initial_connection replaces the cluster endpoints with verified instances")
    func initialConnection() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let writer = try WrapperConnection.open(
            Lab.pgURL(host: Lab.pgClusterEndpoint, "plugins=initial_connection"), driver: PostgresDriver(), registry: registry)
        #expect(writer.currentHost.map { Lab.address(of: $0.host) } == Lab.pgHost(1))
        #expect(try writer.service.hostRole() == HostRole.writer)
        try writer.close()
        let reader = try WrapperConnection.open(
            Lab.pgURL(host: Lab.pgReaderEndpoint, "plugins=initial_connection&reader_initial_connection_host_selector_strategy=round_robin"),
            driver: PostgresDriver(), registry: registry)
        #expect([Lab.pgHost(2), Lab.pgHost(3)].contains(reader.currentHost.map { Lab.address(of: $0.host) } ?? ""))
        #expect(try reader.service.hostRole() == HostRole.reader)
        try reader.close()
    }

    @Test("aurora_connection_tracker aborts connections to the old writer when the monitor sees a new one")
    func connectionTracker() throws {
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let url = Lab.pgURL(host: Lab.pgHost(1), "plugins=aurora_connection_tracker&topology_refresh_ms=300")
        let connections = try (0..<3).map { _ in try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry) }
        try Lab.run("freeze", "pg-1")
        try Lab.run("promote", "pg-2")
        // The frozen old writer's connections would hang; the tracker aborts them once the monitor sees pg-2.
        #expect(Lab.eventually { connections.allSatisfy { $0.service.currentConnection.map(PostgresDriver().isClosed) ?? true } })
        for connection in connections {
            let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
            #expect(error.code == .network)
            try connection.close()
        }
        try Lab.run("rejoin", "pg-1")
    }

    @Test("an RDS Multi-AZ PostgreSQL cluster is detected and its writer found by resource id")
    func multiAzPostgres() throws {
        try Lab.run("down")
        try Lab.run("up", "--engine", "pg", "--flavor", "multi-az")
        defer { _ = try? Lab.run("down") }
        let registry = Lab.registry()
        defer { registry.runtime.shutdown() }
        let connection = try WrapperConnection.open(Lab.pgURL(host: Lab.pgHost(1)), driver: PostgresDriver(), registry: registry)
        defer { try? connection.close() }
        #expect(connection.service.databaseDialect?.code == "multi-az-pg")
        let hosts = connection.service.allHosts
        #expect(hosts.count == 3)
        let writer = try #require(hosts.first { $0.role == .writer })
        #expect(Lab.address(of: writer.host) == Lab.pgHost(1))
        #expect(hosts.filter { $0.role == .reader }.count == 2)
    }
}

extension ClusterLabTests {
    @Test("a topology monitor ends after its last connection, even with aurora_connection_tracker listening", arguments: Engine.allCases)
    func monitorsEnd(engine: Engine) throws {
        let registry = Lab.registry(topologyMonitorDisposal: .seconds(1))
        defer { registry.runtime.shutdown() }
        let url = engine.url("plugins=aurora_connection_tracker,failover_v2&topology_refresh_ms=200")
        let first = try WrapperConnection.open(url, driver: engine.driver, registry: registry)
        let second = try WrapperConnection.open(url, driver: engine.driver, registry: registry)
        let monitor = try #require((first.service.hostListProvider as? RdsHostListProvider)?.monitor)
        #expect((second.service.hostListProvider as? RdsHostListProvider)?.monitor === monitor)
        #expect(registry.runtime.topologyMonitors.count == 1)
        try first.close()
        // Still used by the second connection: it keeps running past the disposal time.
        let used = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < used, !monitor.isStopped { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!monitor.isStopped)
        try second.close()
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, !monitor.isStopped { Thread.sleep(forTimeInterval: 0.05) }
        #expect(monitor.isStopped, "the monitor outlived its last connection")
        #expect(registry.runtime.topologyMonitors.count == 0)
        // The next connection gets a running monitor of its own.
        let third = try WrapperConnection.open(url, driver: engine.driver, registry: registry)
        defer { try? third.close() }
        let next = try #require((third.service.hostListProvider as? RdsHostListProvider)?.monitor)
        #expect(next !== monitor)
        #expect(!next.isStopped)
        let read = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < read, next.hosts.count < 2 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(next.hosts.count >= 2, "the new monitor reads the topology")
    }
}
