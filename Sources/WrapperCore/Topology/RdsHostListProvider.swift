/// The host list of a cluster, read from its shared ``ClusterTopologyMonitor``.
public struct RdsHostListProvider: HostListProvider {
    /// The cluster's monitor.
    public let monitor: ClusterTopologyMonitor
    /// What to return before the monitor has read the topology once.
    public let initialHosts: [HostInfo]

    /// Topology refresh properties.
    public static let refreshProperty = PropertyDefinition<Int>.int(
        "topology_refresh_ms", default: 30_000, in: 1...86_400_000, "Cluster topology refresh rate in milliseconds.")
    /// High-rate refresh while the writer is being searched for.
    public static let highRefreshProperty = PropertyDefinition<Int>.int(
        "cluster_topology_high_refresh_rate_ms", default: 100, in: 1...3_600_000, "Cluster topology high refresh rate in milliseconds.")

    /// How often, while no writer is known, each host's probe asks it whether it became the writer.
    public static let probeIntervalProperty = PropertyDefinition<Int>.int(
        "failover_probe_interval_ms", default: 10, in: 1...60_000,
        "While the writer is missing, how often each host's probe asks it whether it became the writer, in milliseconds.")

    /// Creates the provider.
    public init(monitor: ClusterTopologyMonitor, initialHosts: [HostInfo]) {
        self.monitor = monitor
        self.initialHosts = initialHosts
    }

    /// How long a topology read stays valid, as the reference's topology cache (5 minutes).
    public static let topologyExpiry: Duration = .seconds(300)

    public func refresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] {
        let hosts = monitor.hosts(maxAge: Self.topologyExpiry)
        if !hosts.isEmpty { return hosts }
        // Before the first connection, answer at once (as the reference does): opening it must not
        // wait for the monitor. With a connection, give the monitor a moment to read the topology.
        guard connection != nil else { return initialHosts }
        let waited = monitor.forceRefresh(verifyWriter: false, timeout: .seconds(5))
        return waited.isEmpty ? initialHosts : waited
    }

    public func forceRefresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] {
        let hosts = monitor.forceRefresh(verifyWriter: false, timeout: .seconds(5))
        return hosts.isEmpty ? initialHosts : hosts
    }

    public var clusterID: String { monitor.settings.clusterID }
    public var isStatic: Bool { false }
}

extension PluginService {
    /// The cluster id of a connection: `cluster_id` when given, else derived from the first host
    /// (the cluster part of an RDS name, or `host:port`), so that different clusters never share a
    /// topology by accident (the reference's default `"1"` made them share).
    public func clusterID(initialHost: HostInfo) -> String {
        if let explicit = properties["cluster_id"], !explicit.isEmpty { return explicit }
        // The cluster name with the DNS id that is unique to the account and region.
        if let cluster = RdsURL.clusterID(of: initialHost.host), let parts = RdsURL.parts(of: initialHost.host) {
            return "\(cluster).\(parts.domain)"
        }
        return initialHost.hostAndPort
    }

    /// A host list provider for `dialect`: the cluster's shared topology monitor for cluster
    /// dialects, the connection string's hosts otherwise.
    public func makeHostListProvider(for dialect: any DatabaseDialect) throws -> any HostListProvider {
        let staticProvider = try ConnectionStringHostListProvider(properties: properties, defaultPort: driver.defaultPort)
        guard dialect.topology != nil, let initialHost = staticProvider.hosts.first else { return staticProvider }
        let pattern: InstanceHostPattern? = try properties.value(InstanceHostPattern.property).map(InstanceHostPattern.init)
            ?? RdsURL.instanceHostPattern(of: initialHost.host).flatMap { try? InstanceHostPattern($0) }
        // Without a pattern the instances' names would be the raw topology ids: credentials would
        // go to whatever those resolve to. The JDBC wrapper refuses the same way.
        guard let pattern else {
            throw WrapperError(
                .missingProperty,
                "\(initialHost.host) is an IP address or not an RDS name, so the cluster's instance host names cannot be derived from it: set cluster_instance_host_pattern (for example ?.db.example.com or ?.db.example.com:5432).")
        }
        var monitoringProperties = properties.overridden(byPrefix: "topology-monitoring-")
        // Monitoring connections give up after 5 s unless told otherwise.
        for key in ["connect_timeout", "socket_timeout"] where monitoringProperties[key] == nil {
            monitoringProperties[key] = "5"
        }
        var settings = ClusterTopologyMonitor.Settings(
            clusterID: clusterID(initialHost: initialHost), initialHost: initialHost, pattern: pattern,
            connectionProperties: monitoringProperties,
            refreshInterval: .milliseconds(try properties.value(RdsHostListProvider.refreshProperty)),
            highRefreshInterval: .milliseconds(try properties.value(RdsHostListProvider.highRefreshProperty)))
        settings.connector = monitoringConnector
        settings.probeInterval = .milliseconds(try properties.value(RdsHostListProvider.probeIntervalProperty))
        let registry = runtime.topologyMonitors
        settings.retireIfIdle = { [weak registry] monitor in registry?.retireIfIdle(monitor) ?? true }
        // Keyed by dialect too: a wrong first guess must not hand its monitor to the right dialect.
        let monitor = try runtime.topologyMonitors.monitor(for: "\(settings.clusterID)|\(dialect.code)") {
            try ClusterTopologyMonitor(settings: settings, driver: driver, dialect: dialect, resolver: runtime.resolver, logger: logger)
        }
        return RdsHostListProvider(monitor: monitor, initialHosts: staticProvider.hosts)
    }
}
