import Logging

/// How long-lived monitors (topology, host health) open their own connections: through the
/// force-connect pipeline of the chain of the connection that created them, on a fresh service
/// detached from that connection. Authentication plugins (`iam`, `aws_secrets_manager`) thus
/// supply credentials to monitoring connections as they do to the application's, and a monitor
/// never touches the state of a connection it outlives.
public struct MonitoringConnector: Sendable {
    let driver: any DriverDialect
    let chain: ErasedChain
    let runtime: WrapperRuntime
    let logger: Logger

    /// Opens a connection to `host` with `properties` (already prefixed-overridden for monitoring).
    public func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection {
        let service = try PluginService(driver: driver, chain: chain, properties: properties, runtime: runtime, logger: logger)
        let request = ConnectRequest(host: host, properties: properties, isInitialConnection: false)
        return try chain.plugin.forceConnect(request, service: service) { request, service in
            try service.openOnDriver(request)
        }
    }
}

extension PluginService {
    /// A connector for monitors created on behalf of this connection.
    public var monitoringConnector: MonitoringConnector {
        MonitoringConnector(driver: driver, chain: chain, runtime: runtime, logger: logger)
    }
}
