/// The properties the core reads, with the reference's names and defaults.
///
/// Plugins define their own properties next to their code; ``all`` lists the core's for documentation.
public enum WrapperProperties {
    /// The reference's default plugin list, used when `plugins` is absent.
    public static let defaultPluginList = "initial_connection,aurora_connection_tracker,failover_v2,host_monitoring_v2"

    /// The default list for drivers that cannot abort a connection: without `host_monitoring_v2`.
    public static let defaultPluginListWithoutAbort = "initial_connection,aurora_connection_tracker,failover_v2"

    /// Comma-separated plugin codes; absent means ``defaultPluginList``, empty means no plugins.
    public static let plugins = PropertyDefinition<String?>.optionalString(
        "plugins", "Comma separated list of connection plugin codes.")
    /// A configuration profile to use instead of `plugins`.
    public static let profileName = PropertyDefinition<String?>.optionalString(
        "profile_name", "Driver configuration profile name.")
    /// Whether the registry sorts plugins by weight.
    public static let autoSortPluginOrder = PropertyDefinition<Bool>.bool(
        "auto_sort_wrapper_plugin_order", default: true,
        "This flag is enabled by default, meaning that the plugins order will be automatically adjusted. Disable it at your own risk.")

    /// The database user.
    public static let user = PropertyDefinition<String?>.optionalString("user", "Driver user name.")
    /// The database password.
    public static let password = PropertyDefinition<String?>.optionalString("password", "Driver password.")
    /// The database name.
    public static let database = PropertyDefinition<String?>.optionalString("database", "Driver database name.")
    /// Host name(s), comma-separated for several hosts.
    public static let host = PropertyDefinition<String?>.optionalString("host", "Database host name(s), comma separated.")
    /// Port(s), comma-separated, one for every host or one for all.
    public static let port = PropertyDefinition<String?>.optionalString("port", "Database port(s), comma separated.")

    /// Connect timeout.
    public static let connectTimeout = PropertyDefinition<Double?>.optionalSeconds(
        "connect_timeout", "Max number of seconds to wait for a connection to be established before timing out.")
    /// The connect deadline when `connect_timeout` is absent or 0: 10 seconds, pgjdbc's default. A
    /// TLS handshake across regions takes well under a second and a load balancer gives up after 30
    /// to 60; a frozen server or a name that resolves to one must not hold an open forever.
    public static let defaultConnectTimeout: Double = 10

    /// The connect deadline in seconds: `connect_timeout`, or ``defaultConnectTimeout`` when it is
    /// absent or 0.
    public static func connectDeadlineSeconds(_ properties: Properties) throws -> Double {
        let given = try properties.value(connectTimeout) ?? 0
        return given > 0 ? given : defaultConnectTimeout
    }

    /// Statement (socket) timeout.
    public static let socketTimeout = PropertyDefinition<Double?>.optionalSeconds(
        "socket_timeout", "Max number of seconds to wait for a SQL query to complete before timing out.")
    /// TCP keepalive.
    public static let tcpKeepalive = PropertyDefinition<Bool?>.optionalBool(
        "tcp_keepalive", "Enable TCP keepalive functionality.")
    /// Seconds before the first keepalive probe.
    public static let tcpKeepaliveTime = PropertyDefinition<Int?>.optionalInt(
        "tcp_keepalive_time", in: 0...Int(Int32.max), "Number of seconds to wait before sending an initial keepalive probe.")
    /// Seconds between keepalive probes.
    public static let tcpKeepaliveInterval = PropertyDefinition<Int?>.optionalInt(
        "tcp_keepalive_interval", in: 0...Int(Int32.max),
        "Number of seconds to wait before sending additional keepalive probes after the initial probe has been sent.")
    /// Keepalive probes before the connection is dead.
    public static let tcpKeepaliveProbes = PropertyDefinition<Int?>.optionalInt(
        "tcp_keepalive_probes", in: 0...Int(Int32.max),
        "Number of keepalive probes to send before concluding that the connection is invalid.")

    /// Carry session state to a new connection on a switch.
    public static let transferSessionStateOnSwitch = PropertyDefinition<Bool>.bool(
        "transfer_session_state_on_switch", default: true, "Enables session state transfer to a new connection.")
    /// Restore the pristine session state before closing a replaced connection.
    public static let resetSessionStateOnClose = PropertyDefinition<Bool>.bool(
        "reset_session_state_on_close", default: true, "Enables to reset connection session state before closing it.")
    /// Roll back an open transaction on the old connection when switching.
    public static let rollbackOnSwitch = PropertyDefinition<Bool>.bool(
        "rollback_on_switch", default: true,
        "Enables to rollback a current transaction being in progress when switching to a new connection.")

    /// Weight of hosts not listed in `round_robin_host_weight_pairs`.
    public static let roundRobinDefaultWeight = PropertyDefinition<Int>.int(
        "round_robin_default_weight", default: 1, in: 1...1_000_000,
        "The default weight for any hosts that have not been configured with the `round_robin_host_weight_pairs` parameter.")
    /// `host:weight` pairs for the round-robin strategy.
    public static let roundRobinHostWeightPairs = PropertyDefinition<String>.string(
        "round_robin_host_weight_pairs", default: "",
        "Comma separated list of database host-weight pairs in the format of `<host>:<weight>`.")
    /// Weight of hosts not listed in `weighted_random_host_weight_pairs`.
    public static let weightedRandomDefaultWeight = PropertyDefinition<Int>.int(
        "weighted_random_default_weight", default: 1, in: 1...1_000_000,
        "The default weight for any hosts that have not been configured with the `weighted_random_host_weight_pairs` parameter.")
    /// `host:weight` pairs for the weighted-random strategy.
    public static let weightedRandomHostWeightPairs = PropertyDefinition<String>.string(
        "weighted_random_host_weight_pairs", default: "",
        "Comma separated list of database host-weight pairs in the format of `<host>:<weight>`.")

    /// Forces a database dialect by code.
    public static let wrapperDialect = PropertyDefinition<String?>.optionalString(
        "wrapper_dialect", "A unique identifier for the supported database dialect.")
    /// Forces a driver dialect by code.
    public static let wrapperDriverDialect = PropertyDefinition<String?>.optionalString(
        "wrapper_driver_dialect", "A unique identifier for the target driver dialect.")
    /// Connections with the same id share topology.
    public static let clusterID = PropertyDefinition<String>.string(
        "cluster_id", default: "1",
        "A unique identifier for the cluster. Connections with the same cluster id share a cluster topology cache.")
    /// Timeout of the wrapper's own queries.
    public static let auxiliaryQueryTimeoutSec = PropertyDefinition<Int>.int(
        "auxiliary_query_timeout_sec", default: 5, in: 1...86_400,
        "Network timeout, in seconds, used for auxiliary queries to the database.")

    /// Every core property, for documentation.
    /// The core properties with typed values, validated by every connection when it opens.
    public static let validated: [any PropertyValidating] = [
        autoSortPluginOrder, connectTimeout, socketTimeout, tcpKeepalive, tcpKeepaliveTime, tcpKeepaliveInterval,
        tcpKeepaliveProbes, transferSessionStateOnSwitch, resetSessionStateOnClose, rollbackOnSwitch,
        roundRobinDefaultWeight, weightedRandomDefaultWeight, auxiliaryQueryTimeoutSec,
    ]

    public static var all: [(name: String, description: String)] {
        [
            (plugins.name, plugins.description), (profileName.name, profileName.description),
            (autoSortPluginOrder.name, autoSortPluginOrder.description), (user.name, user.description),
            (password.name, password.description), (database.name, database.description),
            (host.name, host.description), (port.name, port.description),
            (connectTimeout.name, connectTimeout.description), (socketTimeout.name, socketTimeout.description),
            (tcpKeepalive.name, tcpKeepalive.description), (tcpKeepaliveTime.name, tcpKeepaliveTime.description),
            (tcpKeepaliveInterval.name, tcpKeepaliveInterval.description),
            (tcpKeepaliveProbes.name, tcpKeepaliveProbes.description),
            (transferSessionStateOnSwitch.name, transferSessionStateOnSwitch.description),
            (resetSessionStateOnClose.name, resetSessionStateOnClose.description),
            (rollbackOnSwitch.name, rollbackOnSwitch.description),
            (roundRobinDefaultWeight.name, roundRobinDefaultWeight.description),
            (roundRobinHostWeightPairs.name, roundRobinHostWeightPairs.description),
            (weightedRandomDefaultWeight.name, weightedRandomDefaultWeight.description),
            (weightedRandomHostWeightPairs.name, weightedRandomHostWeightPairs.description),
            (wrapperDialect.name, wrapperDialect.description),
            (wrapperDriverDialect.name, wrapperDriverDialect.description), (clusterID.name, clusterID.description),
            (auxiliaryQueryTimeoutSec.name, auxiliaryQueryTimeoutSec.description),
        ]
    }
}
