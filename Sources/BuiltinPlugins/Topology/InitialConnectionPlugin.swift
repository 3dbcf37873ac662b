import Foundation
import Logging
import WrapperCore

/// `initial_connection`: when the first connection goes to a cluster endpoint, replaces the
/// DNS-resolved connection with a verified connection to an instance: the topology's writer for
/// the writer endpoint, a reader chosen by `reader_initial_connection_host_selector_strategy` for
/// the reader endpoint. Retries until `open_connection_retry_timeout_ms` (the reference used the
/// interval here by mistake), every `open_connection_retry_interval_ms`.
public struct InitialConnectionPlugin: Plugin {
    /// Every property the plugin reads, validated when a connection opens.
    public static let properties: [any PropertyValidating] = [readerStrategyProperty, retryTimeoutProperty, retryIntervalProperty]

    /// Strategy for the reader endpoint.
    public static let readerStrategyProperty = PropertyDefinition<String>.string(
        "reader_initial_connection_host_selector_strategy", default: "random",
        "The strategy that should be used to select a new reader host while opening a new connection.")
    /// How long to keep trying.
    public static let retryTimeoutProperty = PropertyDefinition<Int>.int(
        "open_connection_retry_timeout_ms", default: 30_000, in: 0...3_600_000, "Maximum allowed time for the retries opening a connection.")
    /// Pause between tries.
    public static let retryIntervalProperty = PropertyDefinition<Int>.int(
        "open_connection_retry_interval_ms", default: 1000, in: 0...600_000, "Time between each retry of opening a connection.")

    /// Creates the plugin.
    public init() {}

    public var subscribedMethods: PluginMethods { [.connect] }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let type = RdsURL.type(of: request.host.host)
        guard request.isInitialConnection, type == .writerCluster || type == .readerCluster,
            !service.isStaticHostListProvider
        else { return try next(request, service) }
        let properties = request.properties
        let timeout = Duration.milliseconds(try properties.value(Self.retryTimeoutProperty))
        let interval = Duration.milliseconds(try properties.value(Self.retryIntervalProperty))
        let strategy = try properties.value(Self.readerStrategyProperty)
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        repeat {
            do {
                if let connection = try attempt(request, type: type, strategy: strategy, service: service, next: next) {
                    return connection
                }
            } catch {
                // Only a host that cannot be reached may be reachable a moment later.
                guard service.isNetworkError(error) else { throw error }
                lastError = error
            }
            try? service.forceRefreshHostList()
            if ContinuousClock.now + interval >= deadline { break }
            Thread.sleep(forTimeInterval: interval.timeInterval)
        } while ContinuousClock.now < deadline
        // Fall back to the endpoint itself, as the reference does when no instance could be verified.
        service.logger.info("No verified instance connection; using the cluster endpoint", metadata: [
            "endpoint": "\(request.host.hostAndPort)", "error": "\(lastError.map(WrapperError.redactedDescription) ?? "none")",
        ])
        return try next(request, service)
    }

    /// One try: a connection to a verified instance, or `nil` to try again.
    private func attempt(
        _ request: ConnectRequest, type: RdsURLType, strategy: String, service: PluginService, next: ConnectNext
    ) throws -> (any DriverConnection)? {
        let wanted: HostRole = type == .writerCluster ? .writer : .reader
        // An instance of the topology; the endpoint itself (the static list before the topology is
        // read) is no instance.
        func isInstance(_ host: HostInfo) -> Bool { !RdsURL.type(of: host.host).isRdsCluster && host.host != request.host.host }
        func instance() -> HostInfo? {
            if wanted == .reader, let reader = try? service.hostInfo(byStrategy: strategy, role: .reader), isInstance(reader) {
                return reader
            }
            if let writer = service.hosts.first(where: { $0.role == .writer }), isInstance(writer) { return writer }
            return nil
        }
        var known = instance()
        if known == nil {
            // No topology yet: connect through the endpoint, which settles the dialect and starts
            // the right monitor; then go to the instance if the topology names it by now, else keep
            // the endpoint's connection if it has the wanted role.
            let connection = try next(request, service)
            let role: HostRole
            do { role = try service.hostRole(connection: connection) } catch {
                service.driver.close(connection)
                throw error
            }
            try? service.refreshHostList(connection: connection)  // gives the monitor a moment to read the topology
            known = instance()
            if known == nil {
                if role == wanted { return connection }
                service.driver.close(connection)
                return nil
            }
            service.driver.close(connection)
        }
        guard let target = known else { return nil }
        var instanceRequest = request
        instanceRequest.host = target
        let connection = try next(instanceRequest, service)
        let role: HostRole
        do { role = try service.hostRole(connection: connection) } catch {
            service.driver.close(connection)
            throw error
        }
        // A reader endpoint may land on the writer when the cluster has no reader left.
        let hasReaders = service.hosts.contains { $0.role == .reader }
        guard role == wanted || (wanted == .reader && role == .writer && !hasReaders) else {
            service.driver.close(connection)
            return nil
        }
        service.initialConnectionHostInfo = target
        return connection
    }
}
