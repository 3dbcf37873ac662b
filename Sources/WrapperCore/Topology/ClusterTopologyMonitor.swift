import Foundation
import Logging

/// Watches one cluster's topology for every connection of the process that belongs to it.
///
/// Normal mode: a refresh every `topology_refresh_ms` over a connection to the verified writer.
/// When the writer is lost (the query fails, or the host is no longer the writer), the monitor
/// enters high-rate mode: one long-lived probe per known host, in parallel, keeps a connection and
/// asks "are you the writer?" every `failover_probe_interval_ms` (10 ms) until one answers yes; the
/// first writer found becomes the monitoring connection, and the topology is refreshed every
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
        /// How often each probe asks its host whether it became the writer, while none is known.
        public var probeInterval: Duration = .milliseconds(10)
        /// At most this many probes (threads) run at once, whatever the topology's size; hosts
        /// beyond it are probed as earlier probes end.
        public var maxProbes = 16
        /// Asked after each pass: removes the monitor from its registry when nobody used it for
        /// the registry's disposal time and answers whether it did, so the loop ends.
        public var retireIfIdle: (@Sendable (ClusterTopologyMonitor) -> Bool)?

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
        /// The hosts the probes should cover in this search.
        var probeTargets: Set<String> = []
        var abortable: (any DriverConnection)?
        var listeners: [ListenerToken: @Sendable (HostListChanges, [HostInfo]) -> Void] = [:]
        /// Listeners that keep the monitor alive (connections); others (the tracker) only listen.
        var keepAliveListeners: Set<ListenerToken> = []
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
    // Written by the loop thread only; `abortable` mirrors it so another thread can abort a
    // refresh that hangs on a frozen writer.
    private var monitoringConnection: (any DriverConnection)? {
        didSet { let connection = monitoringConnection; locked { $0.abortable = connection } }
    }
    /// A writer found by any probe, even one that outlived its pass; the loop adopts it.
    private let foundWriter = LockedValue<(connection: (any DriverConnection)?, host: HostInfo?, checkedAt: ContinuousClock.Instant?, readerView: [HostInfo])>(
        (nil, nil, nil, []))
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
        locked { $0.keepAliveListeners.isEmpty && ContinuousClock.now - $0.lastUsed > idle }
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
        let deadline = Date(timeIntervalSinceNow: timeout.timeInterval)
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

    /// The writer, verified by a connection the monitor opened at or after `since`; starts a
    /// search when the current verification is older. Waits at most `timeout`; `nil` when no
    /// writer was verified in time. Failover asks this after its connection failed at `since`,
    /// so that a writer verified before the failure is never trusted blindly.
    public func verifiedWriter(since: ContinuousClock.Instant, timeout: Duration) -> HostInfo? {
        let deadline = Date(timeIntervalSinceNow: timeout.timeInterval)
        condition.lock()
        defer { condition.unlock() }
        state.lastUsed = .now
        func fresh() -> HostInfo? {
            guard state.writerVerified, let found = state.lastWriterFound, found >= since else { return nil }
            return state.hosts.first { $0.role == .writer }
        }
        while !state.stopping {
            if let writer = fresh() { return writer }
            // A writer verified before `since` (also one a search found by a check that predates
            // it) does not count: search again.
            if state.writerVerified, !state.dropMonitoringConnection {
                state.dropMonitoringConnection = true
                // A refresh blocked on a frozen writer would hold the search back until its timeout.
                // Aborted outside the lock: it may wait on a concurrent close's socket I/O.
                if let connection = state.abortable {
                    condition.unlock()
                    driver.abort(connection)
                    condition.lock()
                }
                condition.broadcast()
            }
            if !condition.wait(until: deadline) { return fresh() }
        }
        return nil
    }

    /// Calls `listener` with each change of the topology, on the monitor's thread. A listener that
    /// `keepsAlive` (a connection's) keeps the monitor from being retired while it is registered;
    /// one that does not (shared machinery such as the connection tracker) only listens.
    public func addListener(
        keepsAlive: Bool = true, _ listener: @escaping @Sendable (HostListChanges, [HostInfo]) -> Void
    ) -> ListenerToken {
        locked { state in
            state.nextToken += 1
            state.listeners[state.nextToken] = listener
            if keepsAlive { state.keepAliveListeners.insert(state.nextToken) }
            return state.nextToken
        }
    }

    /// Whether the loop ended (shutdown or retirement).
    public var isStopped: Bool { locked { $0.stopping } }

    /// Stops calling a listener.
    public func removeListener(_ token: ListenerToken) {
        locked { state in
            state.listeners[token] = nil
            state.keepAliveListeners.remove(token)
        }
    }

    /// Stops the loop and waits for it and for the probes still running (at most 15 s); a writer
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
        // Probes end after their current attempt (bounded by the monitoring connect timeout):
        // waited for, so no probe thread outlives the runtime (it could run inside libpq and
        // OpenSSL while the process exits).
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: 15)
        while !state.probesInFlight.isEmpty {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
    }

    private func locked<Result>(_ body: (inout State) -> Result) -> Result {
        condition.lock()
        defer { condition.unlock() }
        return body(&state)
    }

    // MARK: The loop

    private func run() {
        while !locked({ $0.stopping }) {
            var searching = false
            do {
                if locked({ $0.dropMonitoringConnection }) {
                    dropMonitoringConnection()
                    locked { $0.dropMonitoringConnection = false }
                }
                if monitoringConnection == nil || !locked({ $0.writerVerified }) {
                    try findWriter()
                    // The search waits for the probes itself; no pause between its passes.
                    searching = !locked { $0.writerVerified }
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
            if !searching { sleepUntilNextRefresh() }
            // Unused for the disposal time: leave the registry and end, with the thread and connection.
            if let retire = settings.retireIfIdle, retire(self) { locked { $0.stopping = true } }
        }
        dropMonitoringConnection()
        if let late = foundWriter.withLock({ $0.connection }) { driver.close(late) }
    }

    private func sleepUntilNextRefresh() {
        condition.lock()
        defer { condition.unlock() }
        let highRate = !state.writerVerified || (state.highRateUntil.map { ContinuousClock.now < $0 } ?? false)
        let interval = highRate ? settings.highRefreshInterval : settings.refreshInterval
        let deadline = Date(timeIntervalSinceNow: interval.timeInterval)
        while !state.refreshRequested, !state.stopping, !state.dropMonitoringConnection {
            if !condition.wait(until: deadline) { break }
        }
        state.refreshRequested = false
    }

    private func dropMonitoringConnection() {
        if let connection = monitoringConnection {
            // Forgotten first, so no other thread starts an abort on it while it closes.
            monitoringConnection = nil
            driver.close(connection)
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

    /// Makes sure every known host has a probe (a long-lived thread that asks it "are you the
    /// writer?" every `probeInterval`), then waits up to a second for one to find the writer, and
    /// adopts it at once. A host that hangs holds back nobody: each probe runs on its own.
    private func findWriter() throws {
        var candidates = locked { $0.hosts }
        if candidates.isEmpty { candidates = [settings.initialHost] }
        let targets = Set(candidates.map(\.hostAndPort))
        locked { state in
            state.probeTargets = targets
            state.refreshRequested = false  // this search is the refresh that was asked for
        }
        // The writer (listed first) always gets a probe; the others in turn when over the cap.
        let ordered = candidates.prefix(1) + candidates.dropFirst().shuffled()
        for host in ordered {
            let key = host.hostAndPort
            let start = locked { state -> Bool in
                guard state.probesInFlight.count < settings.maxProbes else { return false }
                return state.probesInFlight.insert(key).inserted
            }
            guard start else { continue }  // this host's probe still runs
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
        // A pass lasts until a writer is found or a second passed (the probes run on meanwhile);
        // reader views are published between passes.
        let deadline = Date(timeIntervalSinceNow: 1)
        condition.lock()
        while foundWriter.withLock({ $0.connection == nil }), !state.stopping, !state.refreshRequested, !state.dropMonitoringConnection {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()

        let (connection, writer, checkedAt, readerView) = foundWriter.withLock { found in
            defer { found = (nil, nil, nil, []) }
            return (found.connection, found.host, found.checkedAt, found.readerView)
        }
        if let connection, let writer {
            monitoringConnection = connection
            var hosts = try queries.hosts(connection: connection, driver: driver, pattern: settings.pattern, defaultPort: defaultPort, logger: logger)
            if hosts.isEmpty { hosts = [writer] }
            // The topology and the verification change together, so a waiting failover never
            // pairs the new verification with the old writer.
            publish(hosts, writerCheckedAt: checkedAt ?? .now)
            logger.info("Found the writer", metadata: ["writer": "\(writer.hostAndPort)"])
        } else if !readerView.isEmpty {
            // No writer answered yet, but a reader's view of the topology is better than none.
            let current = locked { $0.hosts }
            let known = current.first { $0.role == .writer }?.hostID
            let seen = readerView.first { $0.role == .writer }?.hostID
            if current.isEmpty || known != seen { publish(readerView) }
        }
    }

    /// Whether the probe of `key` should go on: the search is on and the host is still a target.
    private func keepProbing(_ key: String) -> Bool {
        locked { !$0.stopping && !$0.writerVerified && $0.probeTargets.contains(key) }
            && foundWriter.withLock { $0.connection == nil }
    }

    /// One host's probe: keeps a connection and asks "are you the writer?" until it is, the search
    /// ends, or the monitor stops. A writer connection is handed to the loop; readers' views of the
    /// topology are kept (read once per connection) for when no writer answers.
    private func probe(_ host: HostInfo) {
        var connection: (any DriverConnection)?
        var failures = 0
        defer { if let connection { driver.close(connection) } }
        while keepProbing(host.hostAndPort) {
            do {
                if connection == nil {
                    let opened = try openConnection(to: host)
                    connection = opened
                    if let view = try? queries.hosts(
                        connection: opened, driver: driver, pattern: settings.pattern, defaultPort: defaultPort, logger: logger),
                        !view.isEmpty, !view.contains(where: { $0.role == .writer && $0.hostAndPort == host.hostAndPort })
                    {
                        foundWriter.withLock { $0.readerView = view }
                    }
                }
                guard let open = connection else { continue }
                let isWriter = try queries.writerID(connection: open, driver: driver) != nil
                    && !(try driver.query(dialect.isReaderQuery, on: open).rows.first?.first?.truthy ?? true)
                if isWriter {
                    let checkedAt = ContinuousClock.now
                    // Under the monitor's lock: never after shutdown (nobody would close it) and
                    // never once a writer is verified (it would be adopted later unchecked).
                    let adopted = locked { state -> Bool in
                        guard !state.stopping, !state.writerVerified else { return false }
                        return foundWriter.withLock { found -> Bool in
                            guard found.connection == nil else { return false }
                            found.connection = open
                            found.host = host
                            found.checkedAt = checkedAt
                            return true
                        }
                    }
                    if adopted {
                        connection = nil  // the loop owns it now
                        locked { _ in condition.broadcast() }
                        return
                    }
                }
            } catch {
                let opening = connection == nil
                if let broken = connection { driver.close(broken) }
                connection = nil
                logger.trace("Probe failed", metadata: ["host": "\(host.hostAndPort)", "error": "\(WrapperError.redactedDescription(of: error))"])
                let classification = driver.classify(error)
                if classification.contains(.login) {
                    // Credentials will not fix themselves; retrying would only hammer the server
                    // (and the credential services behind the authentication plugins).
                    logger.info("Probe login refused; not probing this host in this search", metadata: ["host": "\(host.hostAndPort)"])
                    return
                }
                failures += 1
                // A host that refuses connections is asked again after 100 ms, other errors back off.
                let pause = classification.contains(.network) && opening
                    ? Duration.milliseconds(100) : min(Duration.seconds(1), .milliseconds(100) * (1 << min(failures, 4)))
                sleep(pause)
                continue
            }
            failures = 0
            sleep(settings.probeInterval)
        }
    }

    /// Waits `duration`, or less when the monitor stops.
    private func sleep(_ duration: Duration) {
        let deadline = Date(timeIntervalSinceNow: duration.timeInterval)
        condition.lock()
        defer { condition.unlock() }
        while !state.stopping, Date() < deadline {
            if !condition.wait(until: deadline) { break }
        }
    }

    /// Publishes a topology; with `writerCheckedAt`, also marks its writer verified as of then
    /// (when the probe asked, not when the loop took it over).
    private func publish(_ hosts: [HostInfo], writerCheckedAt: ContinuousClock.Instant? = nil) {
        let (changes, listeners) = locked { state -> (HostListChanges, [@Sendable (HostListChanges, [HostInfo]) -> Void]) in
            state.lastRead = .now
            if let writerCheckedAt {
                state.writerVerified = true
                state.lastWriterFound = writerCheckedAt
                state.highRateUntil = .now + settings.highRateWindow
                condition.broadcast()
            }
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
    public init(disposalTime: Duration = .seconds(900), maxMonitors: Int = 256) {
        self.disposalTime = disposalTime
        self.maxMonitors = maxMonitors
    }

    /// Removes `monitor` if nobody used it for ``disposalTime``; decided under the registry's lock,
    /// so a caller that just got it from ``monitor(for:make:)`` (which marks it used) keeps it.
    @Sendable public func retireIfIdle(_ monitor: ClusterTopologyMonitor) -> Bool {
        monitors.withLock { monitors in
            guard monitor.isIdle(for: disposalTime) else { return false }
            if let key = monitors.first(where: { $0.value === monitor })?.key { monitors[key] = nil }
            return true
        }
    }

    /// The most monitors (clusters) one runtime runs: cluster ids come from users and servers.
    public let maxMonitors: Int

    /// The monitor for `key`, created by `make` on first use.
    ///
    /// - Throws: ``WrapperError/Code/unsupportedOperation`` when ``maxMonitors`` clusters are
    ///   monitored already, or what `make` throws.
    public func monitor(for key: String, make: () throws -> ClusterTopologyMonitor) throws -> ClusterTopologyMonitor {
        let (monitor, idle) = try monitors.withLock { monitors -> (ClusterTopologyMonitor, [ClusterTopologyMonitor]) in
            let idleKeys = monitors.filter { $0.key != key && ($0.value.isIdle(for: disposalTime) || $0.value.isStopped) }.map(\.key)
            let idle = idleKeys.compactMap { monitors.removeValue(forKey: $0) }
            if let existing = monitors[key], !existing.isStopped {
                existing.touch()  // under the lock, so no sweep can take it from the caller
                return (existing, idle)
            }
            guard monitors.count < maxMonitors else {
                throw WrapperError(
                    .unsupportedOperation,
                    "This runtime already monitors \(maxMonitors) clusters; close connections to clusters you no longer use, or check that cluster_id is not set per connection.")
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
        // Forgotten at once; stopped off the caller's thread, since stopping waits for the loop's pass.
        if removed { DispatchQueue.global().async { monitor.shutdown() } }
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
