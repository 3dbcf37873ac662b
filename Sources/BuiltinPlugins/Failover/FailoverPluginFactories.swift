import WrapperCore

/// Factories of `failover`, `failover_v2`, `host_monitoring` and `host_monitoring_v2`.
public enum FailoverPluginFactories {
    /// The factories, with the reference's weights.
    public static func make() -> [PluginFactory] {
        [
            PluginFactory(code: "failover_v2", weight: ReferencePluginCodes.weight(of: "failover_v2")!,
                          properties: FailoverPlugin.properties) { _ in FailoverPlugin() },
            // v1 is served by the v2 implementation; see FailoverPlugin's documentation for why.
            PluginFactory(code: "failover", weight: ReferencePluginCodes.weight(of: "failover")!,
                          properties: FailoverPlugin.properties) { _ in FailoverPlugin() },
            PluginFactory(code: "host_monitoring_v2", weight: ReferencePluginCodes.weight(of: "host_monitoring_v2")!,
                          properties: HostMonitoringPlugin.properties) { _ in
                HostMonitoringPlugin(rule: .v2)
            },
            PluginFactory(code: "host_monitoring", weight: ReferencePluginCodes.weight(of: "host_monitoring")!,
                          properties: HostMonitoringPlugin.properties) { _ in
                HostMonitoringPlugin(rule: .v1)
            },
        ]
    }

    /// `fast_failover`: the default plugins, plus a topology monitor that re-reads the topology
    /// every 500 ms and gives a silent writer 0.5 s. A writer that freezes is then replaced in
    /// about a second without aggressive failure-detection settings: the monitor's refresh times
    /// out, its probes find the promoted writer, and `aurora_connection_tracker` aborts every
    /// connection to the old writer at once (calls in flight included), so each fails over.
    /// Costs one topology query per cluster every 500 ms. Select it with `profile_name=fast_failover`.
    public static let fastFailoverProfile = ConfigurationProfile(
        name: "fast_failover",
        plugins: ["initial_connection", "aurora_connection_tracker", "failover_v2", "host_monitoring_v2"],
        properties: [
            "topology_refresh_ms": "500", "topology-monitoring-socket_timeout": "0.5",
            "topology-monitoring-connect_timeout": "0.5",
        ])
}
