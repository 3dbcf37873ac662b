/// Supplies the hosts of the cluster a connection belongs to.
///
/// A connection has one provider; the last plugin to set one in
/// ``Plugin/initHostProvider(_:service:next:)`` wins.
public protocol HostListProvider: Sendable {
    /// The hosts, possibly from a cache.
    func refresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo]
    /// The hosts, bypassing any cache.
    func forceRefresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo]
    /// Connections with the same cluster id share topology.
    var clusterID: String { get }
    /// Whether the host list never changes (it comes from the connection string).
    var isStatic: Bool { get }
}

/// The hosts written in the connection string: the first is the writer, the others readers.
public struct ConnectionStringHostListProvider: HostListProvider {
    /// The parsed hosts.
    public let hosts: [HostInfo]

    /// Reads the hosts from `host` and `port`.
    ///
    /// - Throws: ``WrapperError`` when `host` is missing or `port` does not match it.
    public init(properties: Properties, defaultPort: Int) throws {
        hosts = try properties.hosts(defaultPort: defaultPort)
    }

    public func refresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] { hosts }
    public func forceRefresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] { hosts }
    public var clusterID: String { "<none>" }
    public var isStatic: Bool { true }
}
