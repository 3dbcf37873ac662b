import Foundation
import Logging

/// Watches one cluster's topology for every connection of the process that belongs to it.
///
/// Normal mode: a refresh every `topology_refresh_ms` over a connection to the verified writer.
/// When the writer is lost (the query fails, or the host is no longer the writer), the monitor
/// enters high-rate mode: it probes every known host in parallel, each probe asking "are you the
/// writer?", adopts the first writer found as its monitoring connection, and refreshes every
/// `cluster_topology_high_refresh_rate_ms` for 30 s. Changes are published as host-list diffs.
///
/// Threads are bounded: one loop thread, plus at most one probe per host while the writer is being
/// searched for. An error in the loop is logged and the loop goes on; the monitor only stops on
/// ``shutdown()``.
public final class ClusterTopologyMonitor: @unchecked Sendable {
    /// How the monitor works.
    public struct Settings: Sendable {
        /// The cluster's id: connections with the same id share the monitor.
        public var clusterID: String
        /// The host to start from (usually the cluster endpoint).
        public var initialHost: HostInfo
        /// How instance ids become host names.
        public var pattern: InstanceHostPattern?
        /// Properties of the monitoring connections (`topology-monitoring-` applied).
        public var connectionProperties: Properties
        /// Normal refresh interval.
        public var refreshInterval: Duration
        /// Refresh interval while the writer is being searched for and for a while after.
        public var highRefreshInterval: Duration
        /// How long high-rate mode lasts after a writer is found.
        public var highRateWindow: Duration = .seconds(30)
        /// How monitoring connections are opened; `nil` opens them on the driver alone.
        public var connector: MonitoringConnector?

        /// Creates settings.
        public init(
            clusterID: String, initialHost: HostInfo, pattern: InstanceHostPattern?, connectionProperties: Properties,
            refreshInterval: Duration, highRefreshInterval: Duration
        ) {
            self.clusterID = clusterID
            self.initialHost = initialHost
            self.pattern = pattern
            self.connectionProperties = connectionProperties
            self.refreshInterval = refreshInterval
            self.highRefreshInterval = highRefreshInterval
        }
    }

    /// A token that keeps a listener registered.
    public typealias ListenerToken = UInt64

    private struct State {
        var hosts: [HostInfo] = []
        var version: UInt64 = 0
        var writerVerified = false
        var dropMonitoringConnection = false
        var refreshRequested = false
        var stopping = false
        var highRateUntil: ContinuousClock.Instant?
        var lastWriterFound: ContinuousClock.Instant?
        var probesInFlight: Set<String> = []
        var listeners: [ListenerToken: @Sendable (HostListChanges, [HostInfo]) -> Void] = [:]
        var nextToken: ListenerToken = 0
        var loopErrors = 0
        var lastUsed = ContinuousClock.now
        var passes: UInt64 = 0
        var lastRead: ContinuousClock.Instant?
    }

    /// The settings.
    public let settings: Settings
    private let driver: any DriverDialect
    private let dialect: any DatabaseDialect
    private let queries: any TopologyQueries
    private let resolver: any HostResolver
    private let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var state = State()
    // Touched by the loop thread only.
    private var monitoringConnection: (any DriverConnection)?
    /// A writer found by any probe, even one that outlived its pass; the loop adopts it.
    private let foundWriter = LockedValue<(connection: (any DriverConnection)?, host: HostInfo?, readerView: [HostInfo])>((nil, nil, []))
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Creates and starts a monitor.
    public init(
        settings: Settings, driver: any DriverDialect, dialect: any DatabaseDialect, resolver: any HostResolver,
        logger: Logger
    ) throws {
        guard let queries = dialect.topology else {
            throw WrapperError(.unsupportedOperation, "The \(dialect.code) dialect has no topology to monitor.")
        }
        self.settings = settings
        self.driver = driver
        self.dialect = dialect
        self.queries = queries
        self.resolver = resolver
        var logger = logger
        logger[metadataKey: "aws.wrapper.cluster_id"] = "\(settings.clusterID)"
        self.logger = logger
        let thread = Thread { [self] in
            self.run()
            self.finished.signal()
        }
        thread.name = "wrapper-topology-\(settings.clusterID)"
        self.thread = thread
        thread.start()
    }

    // MARK: Reading

    /// The latest topology; empty until the first refresh.
    public var hosts: [HostInfo] {
        locked { state in
            state.lastUsed = .now
            return state.hosts
        }
    }

    /// The topology if it was read within `maxAge`, else empty: a monitor that has reached no
    /// host for that long does not pass off an old topology as the current one.
    public func hosts(maxAge: Duration) -> [HostInfo] {
        locked { state in
            state.lastUsed = .now
            guard let read = state.lastRead, ContinuousClock.now - read <= maxAge else { return [] }
            return state.hosts
        }
    }

    /// Marks the monitor as used now.
    func touch() { locked { $0.lastUsed = .now } }

    /// Whether nobody used the monitor for `idle` and no listener is registered.
    func isIdle(for idle: Duration) -> Bool {
        locked { $0.listeners.isEmpty && ContinuousClock.now - $0.lastUsed > idle }
    }

    /// A counter that changes whenever the topology does.
    public var version: UInt64 { locked { $0.version } }

    /// Whether the monitor currently holds a connection to a verified writer.
    public var isWriterVerified: Bool { locked { $0.writerVerified } }

    /// Errors the loop survived.
    public var loopErrorCount: Int { locked { $0.loopErrors } }

    /// Asks for a refresh now and waits until the topology changes or `timeout` passes; with
    /// `verifyWriter`, the writer is searched for again first. Returns the latest topology.
    /// Within 10 s of finding a writer, the current topology is returned at once.
    @discardableResult
    public func forceRefresh(verifyWriter: Bool, timeout: Duration) -> [HostInfo] {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        if let found = state.lastWriterFound, ContinuousClock.now - found < .seconds(10), !state.hosts.isEmpty {
            return state.hosts
        }
        state.lastUsed = .now
        let startVersion = state.version
        let startPasses = state.passes
        if verifyWriter { state.dropMonitoringConnection = true }
        state.refreshRequested = true
        condition.broadcast()
        // Two whole passes without a change mean the answer is not coming soon (a host down, or a
        // dialect guessed wrong): return what there is rather than wait out the timeout.
        while state.version == startVersion, state.passes < startPasses + 2, !state.stopping {
            if !condition.wait(until: deadline) { break }
        }
        return state.hosts
    }

    /// Calls `listener` with each change of the topology, on the monitor's thread.
    public func addListener(_ listener: @escaping @Sendable (HostListChanges, [HostInfo]) -> Void) -> ListenerToken {
        locked { state in
            state.nextToken += 1
            state.listeners[state.nextToken] = listener
            return state.nextToken
        }
    }

    /// Stops calling a listener.
    public func removeListener(_ token: ListenerToken) {
        _ = locked { $0.listeners.removeValue(forKey: token) }
    }

    /// Stops the loop and waits for it; probes still running finish on their own, and a writer
    /// connection one of them finds afterwards is closed.
    public func shutdown() {
        let wasRunning = locked { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        condition.lock()
        condition.broadcast()
        condition.unlock()
        if wasRunning { finished.wait() }
    }

    private func locked<Result>(_ body: (inout State) -> Result) -> Result {
        condition.lock()
        defer { condition.unlock() }
        return body(&state)
    }

    // MARK: The loop

    private func run() {
        while !locked({ $0.stopping }) {
            do {
                if locked({ $0.dropMonitoringConnection }) {
                    dropMonitoringConnection()
                    locked { $0.dropMonitoringConnection = false }
                }
                if monitoringConnection == nil || !locked({ $0.writerVerified }) {
                    try findWriter()
                } else {
                    try refreshOverMonitoringConnection()
                }
            } catch {
                // A monitor never dies on an error: log it and go on.
                locked { $0.loopErrors += 1 }
                logger.info("Topology monitor error; continuing", metadata: ["error": "\(WrapperError.redactedDescription(of: error))"])
                dropMonitoringConnection()
            }
            locked { state in
                state.passes += 1
                condition.broadcast()
            }
            sleepUntilNextRefresh()
        }
        dropMonitoringConnection()
        if let late = foundWriter.withLock({ $0.connection }) { driver.close(late) }
    }

    private func sleepUntilNextRefresh() {
        condition.lock()
        defer { condition.unlock() }
        let highRate = !state.writerVerified || (state.highRateUntil.map { ContinuousClock.now < $0 } ?? false)
        let interval = highRate ? settings.highRefreshInterval : settings.refreshInterval
        let (seconds, attoseconds) = interval.components
        let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18)
        while !state.refreshRequested, !state.stopping, !state.dropMonitoringConnection {
            if !condition.wait(until: deadline) { break }
        }
        state.refreshRequested = false
    }

    private func dropMonitoringConnection() {
        if let connection = monitoringConnection {
            driver.close(connection)
            monitoringConnection = nil
        }
        locked { $0.writerVerified = false }
    }

    private func refreshOverMonitoringConnection() throws {
        guard let connection = monitoringConnection else { return }
        guard try queries.writerID(connection: connection, driver: driver) != nil else {
            logger.info("The monitored host is no longer the writer; searching for the new one")
            dropMonitoringConnection()
            return
        }
        let hosts = try queries.hosts(
            connection: connection, driver: driver, pattern: settings.pattern, defaultPort: defaultPort, logger: logger)
        if !hosts.isEmpty { publish(hosts) }
    }

    private var defaultPort: Int {
        settings.initialHost.isPortSpecified ? settings.initialHost.port : dialect.defaultPort
    }

    /// Opens a monitoring connection through the connector's force-connect pipeline (so
    /// authentication plugins apply), or on the driver alone without a connector.
    func openConnection(to host: HostInfo) throws -> any DriverConnection {
        if let connector = settings.connector {
            return try connector.connect(to: host, properties: settings.connectionProperties)
        }
        var properties = settings.connectionProperties
        if let address = resolver.overriddenAddress(of: host.host) { properties[PluginService.resolvedAddressKey] = address }
        return try driver.connect(to: host, properties: properties)
    }

    /// Probes every known host in parallel for the writer; adopts the first one found. A pass
    /// lasts until a writer answers, every probe finished, or one second passed: a host that hangs
    /// does not hold back the others (its probe carries on, and a writer it finds later is kept).
    private func findWriter() throws {
        var candidates = locked { $0.hosts }
        if candidates.isEmpty { candidates = [settings.initialHost] }
        for host in candidates {
            let key = host.hostAndPort
            let start = locked { state -> Bool in
                state.probesInFlight.insert(key).inserted
            }
            guard start else { continue }  // a probe of this host from an earlier pass still runs
            let thread = Thread { [self] in
                defer {
                    locked { state in
                        _ = state.probesInFlight.remove(key)
                        condition.broadcast()
                    }
                }
                probe(host)
            }
            thread.name = "wrapper-topology-probe"
            thread.start()
        }
        let deadline = Date(timeIntervalSinceNow: 1)
        condition.lock()
        while foundWriter.withLock({ $0.connection == nil }), !state.probesInFlight.isEmpty, !state.stopping {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()

        let (connection, writer, readerView) = foundWriter.withLock { found in
            defer { found = (nil, nil, []) }
            return (found.connection, found.host, found.readerView)
        }
        if let connection, let writer {
            monitoringConnection = connection
            var hosts = try queries.hosts(connection: connection, driver: driver, pattern: settings.pattern, defaultPort: defaultPort, logger: logger)
            if hosts.isEmpty { hosts = [writer] }
            locked { state in
                state.writerVerified = true
                state.lastWriterFound = .now
                state.highRateUntil = .now + settings.highRateWindow
            }
            logger.info("Found the writer", metadata: ["writer": "\(writer.hostAndPort)"])
            publish(hosts)
        } else if !readerView.isEmpty {
            // No writer answered yet, but a reader's view of the topology is better than none.
            let current = locked { $0.hosts }
            let known = current.first { $0.role == .writer }?.hostID
            let seen = readerView.first { $0.role == .writer }?.hostID
            if current.isEmpty || known != seen { publish(readerView) }
        }
    }

    private func probe(_ host: HostInfo) {
        var opened: (any DriverConnection)?
        do {
            let connection = try openConnection(to: host)
            opened = connection
            let isWriter = try queries.writerID(connection: connection, driver: driver) != nil
                && !(try driver.query(dialect.isReaderQuery, on: connection).rows.first?.first?.truthy ?? true)
            if isWriter {
                let adopted = foundWriter.withLock { found -> Bool in
                    guard found.connection == nil else { return false }
                    found.connection = connection
                    found.host = host
                    return true
                }
                if adopted {
                    locked { _ in condition.broadcast() }
                    return
                }
            } else if let view = try? queries.hosts(
                connection: connection, driver: driver, pattern: settings.pattern, defaultPort: defaultPort, logger: logger),
                !view.isEmpty
            {
                foundWriter.withLock { $0.readerView = view }
            }
            driver.close(connection)
        } catch {
            if let opened { driver.close(opened) }
            logger.debug("Probe failed", metadata: ["host": "\(host.hostAndPort)", "error": "\(WrapperError.redactedDescription(of: error))"])
        }
    }

    private func publish(_ hosts: [HostInfo]) {
        let (changes, listeners) = locked { state -> (HostListChanges, [@Sendable (HostListChanges, [HostInfo]) -> Void]) in
            state.lastRead = .now
            let changes = HostInfo.changes(from: state.hosts, to: hosts)
            guard !changes.isEmpty || state.hosts.isEmpty else { return ([:], []) }
            state.hosts = hosts
            state.version += 1
            condition.broadcast()
            return (changes, Array(state.listeners.values))
        }
        guard !changes.isEmpty else { return }
        logger.debug("Topology changed", metadata: ["hosts": "\(hosts.map(\.description))"])
        for listener in listeners { listener(changes, hosts) }
    }
}

/// The topology monitors of a runtime, one per cluster id (and dialect).
///
/// A monitor that nobody used for `disposalTime` (`monitor_disposal_time_ms`, 15 minutes by
/// default) and that has no listener is stopped the next time a monitor is asked for.
public final class TopologyMonitors: Sendable {
    private let monitors = LockedValue<[String: ClusterTopologyMonitor]>([:])
    /// How long an unused monitor lives.
    public let disposalTime: Duration

    /// Creates an empty set.
    public init(disposalTime: Duration = .seconds(900)) { self.disposalTime = disposalTime }

    /// The monitor for `key`, created by `make` on first use.
    public func monitor(for key: String, make: () throws -> ClusterTopologyMonitor) rethrows -> ClusterTopologyMonitor {
        let (monitor, idle) = try monitors.withLock { monitors -> (ClusterTopologyMonitor, [ClusterTopologyMonitor]) in
            let idleKeys = monitors.filter { $0.key != key && $0.value.isIdle(for: disposalTime) }.map(\.key)
            let idle = idleKeys.compactMap { monitors.removeValue(forKey: $0) }
            if let existing = monitors[key] {
                existing.touch()  // under the lock, so no sweep can take it from the caller
                return (existing, idle)
            }
            let created = try make()
            monitors[key] = created
            return (created, idle)
        }
        // Stopped off the caller's path: shutting down waits for the loop.
        if !idle.isEmpty { DispatchQueue.global().async { idle.forEach { $0.shutdown() } } }
        return monitor
    }

    /// Stops and forgets `monitor` if no connection listens to it any more (a dialect guess that
    /// detection replaced).
    public func disposeIfUnused(_ monitor: ClusterTopologyMonitor) {
        let removed = monitors.withLock { monitors -> Bool in
            guard monitor.isIdle(for: .zero), let key = monitors.first(where: { $0.value === monitor })?.key else { return false }
            monitors[key] = nil
            return true
        }
        if removed { monitor.shutdown() }
    }

    /// How many monitors run.
    public var count: Int { monitors.withLock { $0.count } }

    /// Stops every monitor.
    public func shutdown() {
        let all = monitors.withLock { monitors -> [ClusterTopologyMonitor] in
            defer { monitors.removeAll() }
            return Array(monitors.values)
        }
        all.forEach { $0.shutdown() }
    }
}
