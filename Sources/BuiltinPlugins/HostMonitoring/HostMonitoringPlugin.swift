import Foundation
import Logging
import WrapperCore

/// `host_monitoring_v2` and `host_monitoring`: enhanced failure monitoring. While a network-bound
/// call runs longer than `failure_detection_time_ms`, a monitor shared by every connection to the
/// host checks it every `failure_detection_interval_ms`; after `failure_detection_count` failed
/// checks the call's connection is aborted (its socket shut down), so the call fails with a
/// network error at once instead of hanging, and failover can act. See ``HostMonitor``.
///
/// The monitoring connections are opened through the chain's force-connect pipeline with the
/// connection's properties, overridden by those prefixed `monitoring-` (`monitoring-connect_timeout`
/// ...). Works with every driver that can abort (PostgreSQL and MariaDB both can).
///
/// The two codes differ only in the health rule: `host_monitoring_v2` declares the host unhealthy
/// after `interval × (count − 1)` of failures, `host_monitoring` (v1) after more than
/// `interval × count`, as the reference's two versions do.
public struct HostMonitoringPlugin: Plugin {
    /// Every property the plugin reads, validated when a connection opens (the `monitoring-`
    /// prefixed timeouts as well: a typo there must not make every check fail).
    public static let properties: [any PropertyValidating] = [
        enabledProperty, timeProperty, intervalProperty, countProperty, disposalProperty,
        PrefixedProperty(prefix: "monitoring-", WrapperProperties.connectTimeout),
        PrefixedProperty(prefix: "monitoring-", WrapperProperties.socketTimeout),
    ]

    /// Whether monitoring is on.
    public static let enabledProperty = PropertyDefinition<Bool>.bool(
        "failure_detection_enabled", default: true, "Enable enhanced failure detection logic.")
    /// Grace time before a call is monitored.
    public static let timeProperty = PropertyDefinition<Int>.int(
        "failure_detection_time_ms", default: 30_000, in: 0...86_400_000,
        "Interval in milliseconds between sending SQL to the server and the first connection check.")
    /// Time between checks.
    public static let intervalProperty = PropertyDefinition<Int>.int(
        "failure_detection_interval_ms", default: 5000, in: 100...3_600_000, "Interval in milliseconds between connection checks.")
    /// Failed checks before the host is unhealthy.
    public static let countProperty = PropertyDefinition<Int>.int(
        "failure_detection_count", default: 3, in: 1...1000, "Number of failed connection checks before considering the database host unavailable.")
    /// Idle time after which a monitor's thread ends.
    public static let disposalProperty = PropertyDefinition<Int>.int(
        "monitor_disposal_time_ms", default: 600_000, in: 1000...86_400_000,
        "Interval in milliseconds for a monitor to be considered inactive and to be disposed.")

    /// The calls that are monitored: the network-bound ones, not close.
    public static let monitoredMethods: PluginMethods = FailoverPlugin.triggeringMethods

    let rule: HostMonitor.Settings.Rule

    /// Creates the plugin with the health rule of `host_monitoring_v2` (`.v2`) or `host_monitoring` (`.v1`).
    public init(rule: HostMonitor.Settings.Rule = .v2) { self.rule = rule }

    public var subscribedMethods: PluginMethods { Self.monitoredMethods.union([.initHostProvider]) }

    /// Per connection: the parsed settings and the monitor of the current host.
    final class ConnectionState: @unchecked Sendable {
        let enabled: Bool
        let grace: Duration
        let interval: Duration
        let count: Int
        let disposal: Duration
        let monitoringProperties: Properties
        // Touched by the connection's caller only (one at a time).
        var monitor: HostMonitor?
        var hostKey = ""

        init(_ properties: Properties) throws {
            enabled = try properties.value(HostMonitoringPlugin.enabledProperty)
            grace = .milliseconds(try properties.value(HostMonitoringPlugin.timeProperty))
            interval = .milliseconds(try properties.value(HostMonitoringPlugin.intervalProperty))
            count = try properties.value(HostMonitoringPlugin.countProperty)
            disposal = .milliseconds(try properties.value(HostMonitoringPlugin.disposalProperty))
            var monitoring = properties.overridden(byPrefix: "monitoring-")
            // The connection's own timeouts do not bound a check; the check's limit does, unless
            // `monitoring-connect_timeout` / `monitoring-socket_timeout` say otherwise.
            for key in ["connect_timeout", "socket_timeout"] where properties["monitoring-\(key)"] == nil {
                monitoring[key] = nil
            }
            monitoringProperties = monitoring
        }
    }

    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        guard service.driver.supportsAbort else {
            throw WrapperError(
                .unsupportedOperation,
                "Host monitoring needs a driver that can abort a connection; \(service.driver.code) cannot. Remove host_monitoring from plugins.")
        }
        _ = try connectionState(service)  // invalid settings fail the open
        try next(service)
    }

    func connectionState(_ service: PluginService) throws -> ConnectionState {
        if let existing = service.existingState(ConnectionState.self) { return existing }
        let parsed = try ConnectionState(service.properties)
        return service.state(ConnectionState.self) { parsed }
    }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        guard service.driver.networkBoundMethods.contains(call.method), case let state = try connectionState(service), state.enabled,
            let connection = service.currentConnection, let host = service.currentHostInfo
        else { return try next(call, service) }
        var monitor = monitor(for: host, state: state, service: service, reuse: true)
        var context = monitor.startMonitoring(connection)
        if context == nil {
            // The cached monitor ended (idle disposal); a running one replaces it.
            monitor = self.monitor(for: host, state: state, service: service, reuse: false)
            context = monitor.startMonitoring(connection)
        }
        defer { if let context { monitor.stopMonitoring(context) } }
        return try next(call, service)
    }

    private func monitor(for host: HostInfo, state: ConnectionState, service: PluginService, reuse: Bool) -> HostMonitor {
        if reuse, let monitor = state.monitor, state.hostKey == host.hostAndPort { return monitor }
        let settings = HostMonitor.Settings(
            host: host, gracePeriod: state.grace, interval: state.interval, count: state.count, rule: rule,
            connectionProperties: state.monitoringProperties)
        let monitor = HostMonitors.of(service.runtime).monitor(for: settings) {
            HostMonitor(
                settings: settings, driver: service.driver, connector: service.monitoringConnector, logger: service.logger,
                disposalTime: state.disposal)
        }
        state.monitor = monitor
        state.hostKey = host.hostAndPort
        return monitor
    }
}
