import Logging
import WrapperCore

/// The connections opened to each instance, so that they can be invalidated when their instance
/// stops being the writer. Shared by the connections of a registry (or of one plugin value).
public final class OpenedConnectionTracker: Sendable {
    private final class WeakConnection: @unchecked Sendable {
        weak var connection: (any DriverConnection)?
        let driver: any DriverDialect
        init(_ connection: any DriverConnection, _ driver: any DriverDialect) {
            self.connection = connection
            self.driver = driver
        }
    }

    private final class WeakMonitor: @unchecked Sendable {
        weak var monitor: ClusterTopologyMonitor?
        init(_ monitor: ClusterTopologyMonitor) { self.monitor = monitor }
    }

    private struct State {
        var byHost: [String: [WeakConnection]] = [:]
        /// Monitors listened to, held weakly: a retired monitor goes away with its listener, and a
        /// new one at the same address is not mistaken for it.
        var monitors: [ObjectIdentifier: WeakMonitor] = [:]
        /// The writer each watched monitor last reported.
        var writers: [ObjectIdentifier: String] = [:]
    }

    private let state = LockedValue(State())

    /// Creates an empty tracker.
    public init() {}

    /// Remembers a connection to `host` (`host:port`).
    public func track(_ connection: any DriverConnection, host: String, driver: any DriverDialect) {
        state.withLock { state in
            var list = state.byHost[host, default: []].filter { $0.connection != nil }
            list.append(WeakConnection(connection, driver))
            state.byHost[host] = list
        }
    }

    /// Aborts every live connection to `host` (safe from any thread: the socket is shut down and
    /// each owner finishes its connection), and returns how many there were.
    @discardableResult
    public func invalidate(host: String) -> Int {
        let victims = state.withLock { state -> [WeakConnection] in
            defer { state.byHost[host] = nil }
            return state.byHost[host] ?? []
        }
        var count = 0
        for entry in victims {
            guard let connection = entry.connection, !entry.driver.isClosed(connection) else { continue }
            entry.driver.abort(connection)
            count += 1
        }
        return count
    }

    /// How many live connections are tracked for `host`.
    public func count(host: String) -> Int {
        state.withLock { $0.byHost[host]?.filter { $0.connection != nil }.count ?? 0 }
    }

    /// Listens to a cluster's monitor once, invalidating connections of a demoted writer as soon as
    /// the monitor sees it (no connection has to make a call first).
    func watch(_ monitor: ClusterTopologyMonitor) {
        let id = ObjectIdentifier(monitor)
        let isNew = state.withLock { state -> Bool in
            for (key, entry) in state.monitors where entry.monitor == nil {
                state.monitors[key] = nil
                state.writers[key] = nil
            }
            guard state.monitors[id]?.monitor !== monitor else { return false }
            state.monitors[id] = WeakMonitor(monitor)
            state.writers[id] = monitor.hosts.first { $0.role == .writer }?.hostAndPort
            return true
        }
        guard isNew else { return }
        // Listening does not keep the monitor alive: it ends when its last connection is gone.
        _ = monitor.addListener(keepsAlive: false) { [weak self] changes, hosts in
            guard let self else { return }
            var demoted = Set(changes.filter { $0.value.contains(.convertedToReader) }.map { String($0.key.dropLast()) })
            // A writer that vanished from the topology, or was replaced while frozen, is as gone
            // as a demoted one.
            let newWriter = hosts.first { $0.role == .writer }?.hostAndPort
            let oldWriter = self.state.withLock { state -> String? in
                defer { if newWriter != nil { state.writers[id] = newWriter } }
                return state.writers[id]
            }
            if let oldWriter, let newWriter, oldWriter != newWriter { demoted.insert(oldWriter) }
            for host in demoted { self.invalidate(host: host) }
        }
    }
}

/// `aurora_connection_tracker`: tracks every connection per instance and, when the writer changes,
/// aborts the connections to the old writer, so that none of them keeps writing to a host that is
/// now a reader (or gone). Invalidation happens as soon as the cluster's topology monitor sees the
/// change, and again when a connection hears it.
public struct AuroraConnectionTrackerPlugin: Plugin {
    /// The shared tracker.
    public let tracker: OpenedConnectionTracker

    /// Creates the plugin around a tracker shared by the connections that use it.
    public init(tracker: OpenedConnectionTracker = OpenedConnectionTracker()) { self.tracker = tracker }

    public var subscribedMethods: PluginMethods { [.connect, .forceConnect, .notifyHostListChanged] }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let connection = try next(request, service)
        track(connection, request, service)
        return connection
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let connection = try next(request, service)
        track(connection, request, service)
        return connection
    }

    private func track(_ connection: any DriverConnection, _ request: ConnectRequest, _ service: PluginService) {
        var host = request.host.hostAndPort
        if RdsURL.type(of: request.host.host).isRdsCluster || request.host.host == service.initialConnectionHostInfo?.host,
            let instance = identify(connection, service)
        {
            host = instance.hostAndPort
        }
        tracker.track(connection, host: host, driver: service.driver)
        if let rds = service.hostListProvider as? RdsHostListProvider { tracker.watch(rds.monitor) }
    }

    /// The topology host a connection landed on, asked of the server.
    private func identify(_ connection: any DriverConnection, _ service: PluginService) -> HostInfo? {
        guard let query = service.databaseDialect?.hostIDQuery,
            let id = (try? service.driver.query(query, on: connection))?.rows.first?.first?.description
        else { return nil }
        return service.allHosts.first { $0.hostID == id || $0.host == id }
    }

    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        for (url, events) in changes where events.contains(.convertedToReader) {
            let count = tracker.invalidate(host: String(url.dropLast()))
            if count > 0 {
                service.logger.info("Aborted connections to the old writer", metadata: ["host": "\(url)", "count": "\(count)"])
            }
        }
    }
}

/// Factories of the topology plugins.
public enum TopologyPluginFactories {
    /// `initial_connection`, `stale_dns` and `aurora_connection_tracker` (one tracker per call).
    public static func make() -> [PluginFactory] {
        let tracker = OpenedConnectionTracker()
        return [
            PluginFactory(code: "initial_connection", weight: ReferencePluginCodes.weight(of: "initial_connection")!,
                          properties: InitialConnectionPlugin.properties) { _ in
                InitialConnectionPlugin()
            },
            PluginFactory(code: "stale_dns", weight: ReferencePluginCodes.weight(of: "stale_dns")!) { _ in StaleDNSPlugin() },
            PluginFactory(code: "aurora_connection_tracker", weight: ReferencePluginCodes.weight(of: "aurora_connection_tracker")!) { _ in
                AuroraConnectionTrackerPlugin(tracker: tracker)
            },
        ]
    }
}
