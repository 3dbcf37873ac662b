import Foundation
import InMemoryDriver
import Logging
import Testing
@testable import WrapperCore

@Suite("RDS names, patterns and topology rows")
struct TopologyTests {
    @Test(
        "RDS URLs are classified as the reference does",
        arguments: [
            ("", RdsURLType.other, nil as String?),
            ("10.1.2.3", .ipAddress, nil), ("::1", .ipAddress, nil), ("2001:db8::1", .ipAddress, nil),
            ("mydb.cluster-xyz.us-east-1.rds.amazonaws.com", .writerCluster, "us-east-1"),
            ("mydb.cluster-ro-xyz.eu-west-2.rds.amazonaws.com", .readerCluster, "eu-west-2"),
            ("mine.cluster-custom-xyz.us-east-1.rds.amazonaws.com", .customCluster, "us-east-1"),
            ("inst-1.xyz.us-east-1.rds.amazonaws.com", .instance, "us-east-1"),
            ("p.proxy-xyz.us-east-1.rds.amazonaws.com", .proxy, "us-east-1"),
            ("lim.shardgrp-xyz.us-east-1.rds.amazonaws.com", .limitless, "us-east-1"),
            ("g.global-xyz.global.rds.amazonaws.com", .globalWriterCluster, nil),
            ("mydb.cluster-xyz.rds.cn-north-1.amazonaws.com.cn", .writerCluster, "cn-north-1"),
            ("inst.xyz.rds.us-gov-west-1.amazonaws.com", .instance, "us-gov-west-1"),
            ("db.example.com", .other, nil), ("localhost", .other, nil),
        ])
    func classification(host: String, type: RdsURLType, region: String?) {
        #expect(RdsURL.type(of: host) == type)
        #expect(RdsURL.region(of: host) == region)
    }

    @Test("cluster and instance ids, patterns and the writer endpoint of a reader endpoint")
    func helpers() {
        #expect(RdsURL.clusterID(of: "mydb.cluster-ro-xyz.us-east-1.rds.amazonaws.com") == "mydb")
        #expect(RdsURL.instanceID(of: "inst-1.xyz.us-east-1.rds.amazonaws.com") == "inst-1")
        #expect(RdsURL.instanceHostPattern(of: "mydb.cluster-xyz.us-east-1.rds.amazonaws.com") == "?.xyz.us-east-1.rds.amazonaws.com")
        #expect(RdsURL.clusterHost(of: "mydb.cluster-ro-xyz.us-east-1.rds.amazonaws.com") == "mydb.cluster-xyz.us-east-1.rds.amazonaws.com")
        #expect(RdsURL.type(of: "MYDB.CLUSTER-XYZ.US-EAST-1.RDS.AMAZONAWS.COM") == .writerCluster)
    }

    @Test("cluster_instance_host_pattern is validated", arguments: [
        ("?.xyz.us-east-1.rds.amazonaws.com", true), ("?", true), ("?.lab.local:5433", true),
        ("db.example.com", false), ("?.proxy-xyz.us-east-1.rds.amazonaws.com", false),
        ("?.cluster-custom-xyz.us-east-1.rds.amazonaws.com", false), ("?.x:99999", false), ("?.x:abc", false),
    ])
    func pattern(text: String, valid: Bool) throws {
        if valid {
            let pattern = try InstanceHostPattern(text)
            #expect(pattern.host(forInstance: "i1").contains("i1"))
        } else {
            let error = try #require(throws: WrapperError.self) { try InstanceHostPattern(text) }
            #expect(error.code == .invalidProperty)
            #expect(error.message.contains("cluster_instance_host_pattern"))
        }
    }

    @Test("garbage topology rows are skipped with a warning, never a crash")
    func garbageRows() throws {
        let now = Date()
        let rows: [[DatabaseValue]] = [
            [.null, .bool(true), .double(1), .double(0), .timestamp(now, hasTimeZone: true)],          // NULL id
            [.text("w-old"), .bool(true), .double(1), .double(0), .timestamp(now - 60, hasTimeZone: true)],  // second writer, older
            [.text("w-new"), .bool(true), .double(1), .double(0), .timestamp(now, hasTimeZone: true)],
            [.text("r1"), .text("not a bool at all"), .double(1), .double(0), .null],               // bad flag
            [.text("r2"), .bool(false), .double(1), .double(0), .null],
            [.text("short")],                                                                        // too few columns
        ]
        let driver = ScriptedDriver { _ in QueryResult(columns: ["a", "b", "c", "d", "e"], rows: rows) }
        let warnings = LogCapture()
        let topology = AuroraPostgresDialect().topology!
        let hosts = try topology.hosts(
            connection: ScriptedDriver.Connection(), driver: driver, pattern: try InstanceHostPattern("?.lab:5432"),
            defaultPort: 5432, logger: warnings.logger)
        #expect(hosts.map(\.hostID) == ["w-new", "r2", "w-old"])
        #expect(hosts.map(\.role) == [.writer, .reader, .reader])
        #expect(hosts[0].host == "w-new.lab")
        #expect(warnings.lines.withLock { $0.filter { $0.hasPrefix("warning") }.count } >= 3)

        // No writer at all: an empty topology, so the previous one is kept.
        let noWriter = ScriptedDriver { _ in QueryResult(rows: [[.text("r"), .bool(false), .null, .null, .null]]) }
        #expect(try topology.hosts(connection: ScriptedDriver.Connection(), driver: noWriter, pattern: nil, defaultPort: 1, logger: warnings.logger).isEmpty)

        // Multi-AZ: the writer is the host whose id the replication source names; unknown ids are readers.
        let multiAz = MultiAzPostgresDialect().topology!
        let multi = ScriptedDriver { sql in
            if sql.contains("source_dbi") { return QueryResult(rows: [[.text("db-2")]]) }
            return QueryResult(rows: [
                [.text("db-1"), .text("i1.xyz.us-east-1.rds.amazonaws.com"), .integer(5432)],
                [.text("db-2"), .text("i2.xyz.us-east-1.rds.amazonaws.com"), .integer(5432)],
                [.null, .text("broken"), .null],
            ])
        }
        let multiHosts = try multiAz.hosts(connection: ScriptedDriver.Connection(), driver: multi, pattern: nil, defaultPort: 5432, logger: warnings.logger)
        #expect(multiHosts.map(\.hostID) == ["db-2", "db-1"])
        #expect(multiHosts.first?.role == .writer)
    }

    @Test("a monitor survives errors in its loop and recovers when the server answers again")
    func monitorSurvivesErrors() throws {
        final class Toggle: Sendable { let failing = LockedValue(true) }
        let toggle = Toggle()
        let driver = ScriptedDriver { sql in
            if toggle.failing.withLock({ $0 }) { throw WrapperError(.driver, "relation does not exist") }
            if sql.contains("pg_is_in_recovery") { return QueryResult(rows: [[.bool(false)]]) }
            if sql.contains("aurora_db_instance_identifier()") && sql.hasPrefix("SELECT SERVER_ID FROM") {
                return QueryResult(rows: [[.text("w")]])
            }
            return QueryResult(rows: [
                [.text("w"), .bool(true), .double(0), .double(0), .null], [.text("r"), .bool(false), .double(0), .double(0), .null],
            ])
        }
        let settings = ClusterTopologyMonitor.Settings(
            clusterID: "test", initialHost: HostInfo(host: "w", port: 5432), pattern: nil, connectionProperties: [:],
            refreshInterval: .milliseconds(50), highRefreshInterval: .milliseconds(10))
        let monitor = try ClusterTopologyMonitor(
            settings: settings, driver: driver, dialect: AuroraPostgresDialect(), resolver: SystemResolver(), logger: LogCapture().logger)
        defer { monitor.shutdown() }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(monitor.hosts.isEmpty)
        toggle.failing.withLock { $0 = false }
        let hosts = monitor.forceRefresh(verifyWriter: false, timeout: .seconds(5))
        #expect(Set(hosts.map(\.host)) == ["w", "r"] || monitor.hosts.count == 2)
        #expect(monitor.isWriterVerified)
        // The topology is current for a while, then treated as expired if nothing reads it again.
        #expect(!monitor.hosts(maxAge: .seconds(60)).isEmpty)
        toggle.failing.withLock { $0 = true }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(monitor.hosts(maxAge: .milliseconds(100)).isEmpty)
        #expect(!monitor.hosts.isEmpty)
        toggle.failing.withLock { $0 = false }
        // Errors again: the loop logs them and keeps running.
        toggle.failing.withLock { $0 = true }
        let before = monitor.loopErrorCount
        Thread.sleep(forTimeInterval: 0.3)
        #expect(monitor.loopErrorCount > before || !monitor.isWriterVerified)
        toggle.failing.withLock { $0 = false }
        #expect(!monitor.forceRefresh(verifyWriter: true, timeout: .seconds(5)).isEmpty)
    }

    @Test("a hosts file overrides names, and changes are picked up")
    func fileResolver() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hosts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "db.cluster-x.us-east-1.rds.amazonaws.com 127.0.0.11\n# comment\n127.0.0.5 alias.local other.local\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let resolver = FileResolver(path: path, fallback: nil)
        #expect(resolver.address(of: "DB.cluster-x.us-east-1.rds.amazonaws.com") == "127.0.0.11")
        #expect(resolver.overriddenAddress(of: "other.local") == "127.0.0.5")
        #expect(resolver.overriddenAddress(of: "unknown.local") == nil)
        Thread.sleep(forTimeInterval: 0.01)
        try "db.cluster-x.us-east-1.rds.amazonaws.com 127.0.0.12\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(resolver.address(of: "db.cluster-x.us-east-1.rds.amazonaws.com") == "127.0.0.12")
        #expect(SystemResolver().addresses(of: "127.0.0.1") == ["127.0.0.1"])
    }

    @Test("the first dialect is guessed from the URL and can be forced")
    func initialDialect() throws {
        let dialects = DatabaseDialects()
        #expect(try dialects.initialDialect(for: "a.cluster-x.us-east-1.rds.amazonaws.com", family: .postgres, properties: [:]).dialect.code == "aurora-pg")
        #expect(try dialects.initialDialect(for: "i.x.us-east-1.rds.amazonaws.com", family: .postgres, properties: [:]).dialect.code == "rds-pg")
        #expect(try dialects.initialDialect(for: "127.0.0.1", family: .mysql, properties: [:]).dialect.code == "mysql")
        let forced = try dialects.initialDialect(for: "h", family: .postgres, properties: ["wrapper_dialect": "multi-az-pg"])
        #expect(forced.dialect.code == "multi-az-pg" && !forced.canUpdate)
        #expect(throws: WrapperError.self) { try dialects.initialDialect(for: "h", family: .postgres, properties: ["wrapper_dialect": "db2"]) }
        struct Custom: DatabaseDialect {
            var code: String { "custom-pg" }
            var family: DatabaseFamily { .postgres }
            var defaultPort: Int { 6432 }
            var hostIDQuery: String { "SELECT 1, 1" }
            var isReaderQuery: String { "SELECT false" }
            var updateCandidates: [String] { [] }
            func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool { true }
        }
        dialects.register(Custom())
        #expect(try dialects.initialDialect(for: "h", family: .postgres, properties: ["wrapper_dialect": "custom-pg"]).dialect.defaultPort == 6432)
    }
}
