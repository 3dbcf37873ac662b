import Foundation
import Logging
import Metrics
import WrapperCore

/// `failover_v2` (and `failover`): when the connection's host fails, moves the connection to the
/// cluster's new writer (or a reader, by `failover_mode`) and tells the caller what happened with a
/// ``FailoverError``: ``FailoverError/Code/succeeded`` (no transaction was open: run the statement
/// again), ``FailoverError/Code/transactionResolutionUnknown`` (a transaction was open, or the
/// failing call was a commit: check, then redo it) or ``FailoverError/Code/failed``. A statement is
/// never re-executed by the wrapper.
///
/// Triggers: a network error on a network-bound call; in `strict_writer` mode also a read-only
/// error (the host was demoted under the connection). Writer failover asks the cluster's shared
/// topology monitor for a writer it verified *after* the failure (its probes ask every host "are
/// you the writer?" every `failover_probe_interval_ms`), connects to it through the chain (so
/// authentication plugins apply) and checks its role; reader failover tries the readers with
/// `failover_reader_host_selector_strategy`, then the writer unless `strict_reader`. Both give up
/// after `failover_timeout_sec`. With `enable_connect_failover`, a first connection that fails
/// with a network error fails over too.
///
/// Failover needs a cluster topology (an Aurora or Multi-AZ dialect); with a static host list the
/// plugin passes errors through unchanged.
///
/// `failover` (the reference's v1) is the same plugin: v1's two writer tasks (reconnect to the old
/// writer; wait for a new one through a reader) are both covered by the monitor's probes, which
/// ask every host, the old writer included, in parallel; and v1's handlers carried state from one
/// failover into the next (the reference's own bug). Its v1-only properties are accepted and ignored.
public struct FailoverPlugin: Plugin {
    /// Every property the plugin reads, validated when a connection opens.
    public static let properties: [any PropertyValidating] = [
        timeoutProperty, readerStrategyProperty, connectFailoverProperty, enabledProperty, FailoverMode.property,
        RdsHostListProvider.probeIntervalProperty, RdsHostListProvider.refreshProperty,
        RdsHostListProvider.highRefreshProperty, InstanceHostPattern.validatingProperty,
    ]

    /// Overall time limit of one failover.
    public static let timeoutProperty = PropertyDefinition<Int>.int(
        "failover_timeout_sec", default: 300, in: 1...86_400, "Maximum allowed time for the failover process, in seconds.")
    /// How a reader is chosen during reader failover.
    public static let readerStrategyProperty = PropertyDefinition<String>.string(
        "failover_reader_host_selector_strategy", default: "random",
        "The strategy that should be used to select a new reader host while opening a new connection.")
    /// Whether a failing first connection fails over.
    public static let connectFailoverProperty = PropertyDefinition<Bool>.bool(
        "enable_connect_failover", default: false,
        "Enable/disable cluster-aware failover if the initial connection to the database fails due to a network exception.")
    /// Whether failover is on at all.
    public static let enabledProperty = PropertyDefinition<Bool>.bool(
        "enable_failover", default: true, "Enable/disable cluster-aware failover logic.")
    /// How often probes ask their host whether it became the writer (read by the topology monitor).
    public static let probeIntervalProperty = RdsHostListProvider.probeIntervalProperty

    /// The calls a failover can follow: network-bound calls, not close.
    public static let triggeringMethods: PluginMethods = [
        .connectionCommit, .connectionRollback, .connectionAutocommit, .connectionAutocommitSetter, .connectionIsReadOnly,
        .connectionSetReadOnly, .connectionIsolationLevel, .connectionSetIsolationLevel, .connectionSchema,
        .connectionSetSchema, .connectionPing, .cursorExecute, .cursorExecuteMany, .cursorFetchOne, .cursorFetchMany,
        .cursorFetchAll, .cursorCallProc, .cursorNextSet,
    ]

    /// Creates the plugin.
    public init() {}

    public var subscribedMethods: PluginMethods {
        var methods = Self.triggeringMethods
        methods.insert(.connect)
        return methods
    }

    /// What the plugin read from the properties, once per connection.
    final class Settings: Sendable {
        let enabled: Bool
        let mode: FailoverMode
        let timeout: Duration
        let readerStrategy: String
        let connectFailover: Bool

        init(_ properties: Properties, initialHost: String?) throws {
            enabled = try properties.value(FailoverPlugin.enabledProperty)
            mode = try FailoverMode.of(properties, initialHost: initialHost)
            timeout = .seconds(try properties.value(FailoverPlugin.timeoutProperty))
            readerStrategy = try properties.value(FailoverPlugin.readerStrategyProperty)
            connectFailover = try properties.value(FailoverPlugin.connectFailoverProperty)
            _ = try properties.value(FailoverPlugin.probeIntervalProperty)
        }
    }

    func settings(_ service: PluginService) throws -> Settings {
        if let existing = service.existingState(Settings.self) { return existing }
        let parsed = try Settings(service.properties, initialHost: try? service.properties.hosts(defaultPort: service.driver.defaultPort).first?.host)
        return service.state(Settings.self) { parsed }
    }

    // MARK: Hooks

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        // Settings are read here, so an invalid failover_mode fails the open rather than a failover.
        let settings = try settings(service)
        do {
            return try next(request, service)
        } catch {
            guard request.isInitialConnection, settings.enabled, settings.connectFailover, service.isNetworkError(error),
                !service.isStaticHostListProvider
            else { throw error }
            service.logger.info("The first connection failed; failing over", metadata: ["host": "\(request.host.hostAndPort)"])
            service.setAvailability(.unavailable, forAliases: request.host.allAliases)
            let (connection, host) = try failover(
                settings, failedHost: request.host, service: service, trigger: error, since: .now)
            // The connection becomes current on this host, not on the one that failed.
            service.initialConnectionHostInfo = host
            return connection
        }
    }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        // A call that began inside a transaction, or a commit, may have changed data before the
        // host failed: the caller must learn that the outcome is unknown.
        let inTransaction = call.method == .connectionCommit || service.isInTransaction
        let started = ContinuousClock.now
        do {
            return try next(call, service)
        } catch {
            guard let settings = try? settings(service), settings.enabled, !service.isStaticHostListProvider,
                shouldFailOver(on: error, mode: settings.mode, service: service)
            else { throw error }
            // A writer the monitor found by searching after this call began is trusted; an older
            // verification is not (it may be the host that just failed).
            let failedAt = started
            let failedHost = service.currentHostInfo
            if let old = service.currentConnection { service.driver.abort(old) }
            if let failedHost { service.setAvailability(.unavailable, forAliases: failedHost.allAliases) }
            let (connection, host) = try failover(settings, failedHost: failedHost, service: service, trigger: error, since: failedAt)
            do { try service.setCurrentConnection(connection, host: host) } catch {
                throw FailoverError(.failed, "Reconnected to \(host.hostAndPort) but could not restore the session state.", trigger: error)
            }
            Counter(label: "failover.connect.success.count").increment()
            if inTransaction {
                throw FailoverError(
                    .transactionResolutionUnknown,
                    "The host failed during a transaction; it may or may not have committed. Check, then run the transaction again.",
                    newHost: host, trigger: error)
            }
            throw FailoverError(.succeeded, "The connection moved to a new host; run the statement again.", newHost: host, trigger: error)
        }
    }

    func shouldFailOver(on error: any Error, mode: FailoverMode, service: PluginService) -> Bool {
        if error is FailoverError { return false }
        let classification = service.classify(error)
        return classification.contains(.network) || (mode == .strictWriter && classification.contains(.readOnly))
    }

    // MARK: Failover

    /// A new connection and its host, or ``FailoverError/Code/failed``.
    func failover(
        _ settings: Settings, failedHost: HostInfo?, service: PluginService, trigger: any Error, since: ContinuousClock.Instant
    ) throws -> (any DriverConnection, HostInfo) {
        let started = ContinuousClock.now
        let deadline = started + settings.timeout
        service.logger.info("Failover started", metadata: [
            "mode": "\(settings.mode.rawValue)", "failed_host": "\(failedHost?.hostAndPort ?? "?")",
            "trigger": "\(WrapperError.redactedDescription(of: trigger))",
        ])
        let result: (any DriverConnection, HostInfo)?
        if settings.mode == .strictWriter {
            result = try writerFailover(service: service, since: since, deadline: deadline, trigger: trigger)
        } else {
            result = try readerFailover(settings, failedHost: failedHost, service: service, deadline: deadline, trigger: trigger)
        }
        guard let result else {
            Counter(label: "failover.connect.failed.count").increment()
            throw FailoverError(
                .failed,
                "No \(settings.mode == .strictWriter ? "writer" : "host") could be reached within failover_timeout_sec (\(settings.timeout)).",
                trigger: trigger)
        }
        service.logger.info("Failover reconnected", metadata: [
            "host": "\(result.1.hostAndPort)", "elapsed_ms": "\(Int((ContinuousClock.now - started).timeInterval * 1000))",
        ])
        return result
    }

    private func monitor(_ service: PluginService) -> ClusterTopologyMonitor? {
        (service.hostListProvider as? RdsHostListProvider)?.monitor
    }

    /// Connects to the writer the monitor verified after `since`; repeats with a fresh verification
    /// until the deadline.
    func writerFailover(
        service: PluginService, since: ContinuousClock.Instant, deadline: ContinuousClock.Instant, trigger: any Error
    ) throws -> (any DriverConnection, HostInfo)? {
        guard let monitor = monitor(service) else { return nil }
        var since = since
        while ContinuousClock.now < deadline {
            guard let writer = monitor.verifiedWriter(since: since, timeout: deadline - .now) else { return nil }
            try? service.refreshHostList()
            guard service.hosts.contains(where: { $0.hostAndPort == writer.hostAndPort }) else {
                throw FailoverError(
                    .failed, "The new writer \(writer.hostAndPort) is not among the allowed hosts.", trigger: trigger)
            }
            var target = writer
            target.availability = .available
            if let connection = try tryAttempt(target, wanted: .writer, service: service, deadline: deadline, trigger: trigger) {
                return (connection, target)
            }
            since = .now
            pause(until: deadline)
        }
        return nil
    }

    /// Readers first (by the strategy), then the writer unless `strict_reader` and a reader exists.
    func readerFailover(
        _ settings: Settings, failedHost: HostInfo?, service: PluginService, deadline: ContinuousClock.Instant, trigger: any Error
    ) throws -> (any DriverConnection, HostInfo)? {
        if let monitor = monitor(service) { _ = monitor.forceRefresh(verifyWriter: false, timeout: .zero) }
        while ContinuousClock.now < deadline {
            try? service.refreshHostList()
            let hosts = service.hosts
            var readers = hosts.filter { $0.role == .reader && $0.hostAndPort != failedHost?.hostAndPort }
            while !readers.isEmpty, ContinuousClock.now < deadline {
                let pick = (try? service.hostInfo(byStrategy: settings.readerStrategy, role: .reader, hosts: readers)) ?? readers[0]
                readers.removeAll { $0.hostAndPort == pick.hostAndPort }
                if let connection = try tryAttempt(
                    pick, wanted: settings.mode == .strictReader ? .reader : nil, service: service, deadline: deadline, trigger: trigger)
                {
                    return (connection, pick)
                }
            }
            let readersExist = hosts.contains { $0.role == .reader }
            if settings.mode != .strictReader || !readersExist, let writer = hosts.first(where: { $0.role == .writer }),
                writer.hostAndPort != failedHost?.hostAndPort || settings.mode != .strictReader,
                let connection = try tryAttempt(writer, wanted: nil, service: service, deadline: deadline, trigger: trigger)
            {
                return (connection, writer)
            }
            pause(until: deadline)
        }
        return nil
    }

    /// Connects to `host` through the chain (without this plugin) and checks its role.
    /// One try: `nil` when `host` cannot be used now; a ``FailoverError`` (login refused) ends the failover.
    private func tryAttempt(
        _ host: HostInfo, wanted: HostRole?, service: PluginService, deadline: ContinuousClock.Instant, trigger: any Error
    ) throws -> (any DriverConnection)? {
        do {
            return try attempt(host, wanted: wanted, service: service, deadline: deadline, trigger: trigger)
        } catch let error as FailoverError {
            throw error
        } catch {
            service.logger.debug("Failover candidate unusable", metadata: [
                "host": "\(host.hostAndPort)", "error": "\(WrapperError.redactedDescription(of: error))",
            ])
            return nil
        }
    }

    /// Connects to `host` through the chain (without this plugin) and checks its role, never
    /// waiting past the failover's deadline: a candidate that hangs must not hold the failover.
    private func attempt(
        _ host: HostInfo, wanted: HostRole?, service: PluginService, deadline: ContinuousClock.Instant, trigger: any Error
    ) throws -> any DriverConnection {
        // The connect is bounded by the deadline. (The socket timeout stays the user's: it lives on
        // with the connection failover hands over.)
        var properties = service.properties
        let remaining = max(0.001, (deadline - .now).timeInterval)
        let configured = properties["connect_timeout"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }
        properties["connect_timeout"] = String(min(configured ?? remaining, remaining))
        let connection: any DriverConnection
        do {
            connection = try service.connect(to: host, properties: properties, skipping: FailoverPlugin.self)
        } catch {
            // Wrong credentials will not fix themselves within the failover.
            if service.isLoginError(error) {
                throw FailoverError(.failed, "Login to \(host.hostAndPort) failed during failover.", trigger: error)
            }
            throw error
        }
        guard let wanted else { return connection }
        do {
            let role = try service.hostRole(connection: connection)
            if role == wanted { return connection }
        } catch {}
        service.driver.close(connection)
        throw WrapperError(.noHostAvailable, "\(host.hostAndPort) is not a \(wanted).")
    }

    private func pause(until deadline: ContinuousClock.Instant) {
        let wait = min(Duration.milliseconds(100), deadline - .now)
        if wait > .zero { Thread.sleep(forTimeInterval: wait.timeInterval) }
    }
}
