import Foundation
import InMemoryDriver
import Testing
import WrapperCore

@testable import BuiltinPlugins

@Suite("Enhanced failure monitoring and failover settings (in-memory driver)")
struct HostMonitoringTests {
    /// A driver whose `SLOW` statement hangs until its connection is aborted (or 5 s pass).
    static func hangingDriver() -> InMemoryDriver {
        let box = LockedValue<InMemoryDriver?>(nil)
        let driver = InMemoryDriver { sql, _, host in
            guard sql == "SLOW" else { return QueryResult(columns: ["?column?"], rows: [[.integer(1)]]) }
            let deadline = Date(timeIntervalSinceNow: 5)
            while Date() < deadline {
                // The latest application connection to the host (monitoring ones carry a socket_timeout).
                let application = box.withLock { $0 }?.openedConnections.last { $0.host.host == host.host && $0.properties["socket_timeout"] == nil }
                if application?.wasAborted == true {
                    throw WrapperError(.network, "The connection was aborted.", sqlState: "08006")
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return QueryResult(columns: ["?column?"], rows: [[.integer(1)]])
        }
        box.withLock { $0 = driver }
        return driver
    }

    static func open(_ driver: InMemoryDriver, runtime: WrapperRuntime, _ extra: String = "") throws -> WrapperConnection {
        let chain = PluginChain { HostMonitoringPlugin() }
        return try WrapperConnection.open(
            "postgresql://u@h1/db?failure_detection_time_ms=200&failure_detection_interval_ms=200&failure_detection_count=1\(extra)",
            driver: driver, chain: chain, runtime: runtime)
    }

    @Test("a call on a host that stops answering is aborted by the shared monitor after grace + interval × count")
    func abortsHungCall() throws {
        let driver = Self.hangingDriver()
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let connection = try Self.open(driver, runtime: runtime)
        let started = ContinuousClock.now
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.1)
            driver.takeDown("h1")  // the monitoring connection can no longer reach it
        }
        let error = #expect(throws: WrapperError.self) { try connection.execute("SLOW") }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .network)
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(2), "aborted after \(elapsed)")
        let monitors = HostMonitors.of(runtime).all
        #expect(monitors.count == 1)
        #expect(monitors.first?.abortedConnections == 1)
        #expect(monitors.first?.monitoredCalls == 0)
    }

    @Test("a short call is never checked; a healthy host is never aborted")
    func healthyHost() throws {
        let driver = Self.hangingDriver()
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let connection = try Self.open(driver, runtime: runtime, "&failure_detection_time_ms=100&failure_detection_interval_ms=100")
        for _ in 0..<50 { try connection.execute("SELECT 1") }
        let monitor = try #require(HostMonitors.of(runtime).all.first)
        #expect(monitor.checkCount == 0)
        // A 0.6 s call on a healthy host: checked, not aborted.
        let slow = InMemoryDriver { sql, _, _ in
            if sql == "WAIT" { Thread.sleep(forTimeInterval: 0.6) }
            return QueryResult(columns: ["?column?"], rows: [[.integer(1)]])
        }
        let other = try Self.open(slow, runtime: runtime, "&failure_detection_time_ms=100&failure_detection_interval_ms=100")
        try other.execute("WAIT")
        let checked = HostMonitors.of(runtime).all.filter { $0.checkCount > 0 }
        #expect(!checked.isEmpty)
        #expect(checked.allSatisfy { $0.abortedConnections == 0 && !$0.isHostUnhealthy })
    }

    @Test("monitors are shared per host and settings, end when idle, and are replaced on demand")
    func sharingAndDisposal() throws {
        let driver = InMemoryDriver()
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let connections = try (0..<10).map { _ in try Self.open(driver, runtime: runtime, "&monitor_disposal_time_ms=1000") }
        for connection in connections { try connection.execute("SELECT 1") }
        #expect(HostMonitors.of(runtime).count == 1)
        let first = try #require(HostMonitors.of(runtime).all.first)
        #expect(Wait.eventually(.seconds(5)) { !first.isRunning }, "the idle monitor's thread ended")
        try connections[0].execute("SELECT 1")
        #expect(HostMonitors.of(runtime).count == 1)
        #expect(HostMonitors.of(runtime).all.contains { $0.isRunning && $0 !== first })
    }

    @Test("hundreds of thousands of monitored calls leave no context and no extra monitor behind")
    func noGrowth() throws {
        // Memory per call is measured by the ChainBenchmarks suite (mallocs and resident memory);
        // here the bookkeeping is checked, which a process-wide figure could not isolate from the
        // tests running beside this one.
        let driver = InMemoryDriver(retainsConnections: false)
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let connection = try Self.open(driver, runtime: runtime, "&failure_detection_time_ms=30000")
        for _ in 0..<200_000 { try connection.execute("SELECT 1") }
        let monitor = try #require(HostMonitors.of(runtime).all.first)
        #expect(monitor.monitoredCalls == 0)
        #expect(monitor.checkCount == 0)
        #expect(HostMonitors.of(runtime).count == 1)
    }

    @Test("the monitor survives failing checks and goes on working when the host is back")
    func survivesErrors() throws {
        let driver = Self.hangingDriver()
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let connection = try Self.open(driver, runtime: runtime)
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.1)
            driver.takeDown("h1")
        }
        #expect(throws: WrapperError.self) { try connection.execute("SLOW") }
        let monitor = try #require(HostMonitors.of(runtime).all.first)
        // Checks keep failing (the monitoring connection cannot be opened) until the host is back.
        Thread.sleep(forTimeInterval: 0.5)
        driver.bringUp("h1")
        #expect(monitor.isRunning)
        let again = try Self.open(driver, runtime: runtime)
        let checksBefore = monitor.checkCount
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.7)
            driver.takeDown("h1")
        }
        #expect(throws: WrapperError.self) { try again.execute("SLOW") }
        #expect(HostMonitors.of(runtime).all.first === monitor)
        #expect(monitor.isRunning)
        #expect(monitor.checkCount > checksBefore)
        #expect(monitor.abortedConnections == 2)
    }

    @Test("failover_mode accepts both spellings in any case; an unknown value is an error")
    func failoverModes() throws {
        for (raw, mode) in [("strict_writer", FailoverMode.strictWriter), ("strict-reader", .strictReader), ("Reader-Or-Writer", .readerOrWriter)] {
            #expect(try FailoverMode.of(["failover_mode": raw], initialHost: "h") == mode)
        }
        #expect(try FailoverMode.of([:], initialHost: "db.cluster-ro-abc.us-east-1.rds.amazonaws.com") == .readerOrWriter)
        #expect(try FailoverMode.of([:], initialHost: "db.cluster-abc.us-east-1.rds.amazonaws.com") == .strictWriter)
        let error = #expect(throws: WrapperError.self) { try FailoverMode.of(["failover_mode": "writer"], initialHost: nil) }
        #expect(error?.code == .invalidProperty)
        #expect(error?.message.contains("strict_writer") == true)
    }

    @Test("the registry builds the reference's default plugin list for both kinds of driver")
    func defaultList() throws {
        let connection = try WrapperConnection.open("postgresql://u@h/db", driver: InMemoryDriver(), registry: .default)
        #expect(connection.plugin(FailoverPlugin.self) != nil)
        #expect(connection.plugin(HostMonitoringPlugin.self) != nil)
        #expect(connection.plugin(InitialConnectionPlugin.self) != nil)
        #expect(connection.plugin(AuroraConnectionTrackerPlugin.self) != nil)
        try connection.close()
    }
}

enum Wait {
    static func eventually(_ timeout: Duration, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }
}
