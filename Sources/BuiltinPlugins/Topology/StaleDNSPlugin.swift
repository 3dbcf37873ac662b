import Logging
import Synchronization
import WrapperCore

/// `stale_dns`: after connecting through a writer cluster endpoint, compares the address the
/// endpoint resolved to with the topology writer's; when they differ, or the connection landed on a
/// reader, it reconnects straight to the writer instance. Aurora's cluster DNS lags a failover by
/// 15-20 s; without this a connection made in that window writes to a reader.
public struct StaleDNSPlugin: Plugin {
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Creates the plugin.
    public init() {}

    public var subscribedMethods: PluginMethods { [.connect] }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let connection = try next(request, service)
        let type = RdsURL.type(of: request.host.host)
        guard type == .writerCluster || type == .globalWriterCluster, !service.isStaticHostListProvider else { return connection }
        let role = (try? service.hostRole(connection: connection)) ?? .unknown
        if role == .reader { try? service.forceRefreshHostList(connection: connection) } else { try? service.refreshHostList(connection: connection) }
        guard let writer = service.allHosts.first(where: { $0.role == .writer }), !RdsURL.type(of: writer.host).isRdsCluster else {
            return connection
        }
        let resolver = service.runtime.resolver
        // Names that do not resolve prove nothing: keep the connection.
        guard let endpointAddress = resolver.addresses(of: request.host.host).first,
            let writerAddress = resolver.addresses(of: writer.host).first
        else { return connection }
        guard endpointAddress != writerAddress || role == .reader else { return connection }
        guard service.hosts.contains(where: { $0.host == writer.host }) else { return connection }

        service.state(Counter.self, create: Counter.init).value.add(1, ordering: .relaxed)
        service.logger.info("Stale DNS: the cluster endpoint points at a host that is not the writer; connecting to the writer", metadata: [
            "endpoint": "\(request.host.host)", "endpointAddress": "\(endpointAddress)", "writer": "\(writer.hostAndPort)",
        ])
        var writerRequest = request
        writerRequest.host = writer
        let writerConnection: any DriverConnection
        do {
            writerConnection = try service.connect(to: writer, properties: request.properties, skipping: StaleDNSPlugin.self)
        } catch {
            // The writer could not be reached: a stale connection is still better than none.
            service.logger.info("Could not connect to the writer; keeping the endpoint's connection", metadata: [
                "error": "\(WrapperError.redactedDescription(of: error))"
            ])
            return connection
        }
        if request.isInitialConnection { service.initialConnectionHostInfo = writer }
        service.driver.close(connection)
        return writerConnection
    }

    /// How often stale DNS was detected on a connection.
    public static func detections(of connection: WrapperConnection) -> Int {
        connection.service.state(Counter.self, create: Counter.init).value.load(ordering: .relaxed)
    }
}
