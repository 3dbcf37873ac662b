import WrapperCore

/// Factories of `failover`, `failover_v2`, `host_monitoring` and `host_monitoring_v2`.
public enum FailoverPluginFactories {
    /// The factories, with the reference's weights.
    public static func make() -> [PluginFactory] {
        [
            PluginFactory(code: "failover_v2", weight: ReferencePluginCodes.weight(of: "failover_v2")!) { _ in FailoverPlugin() },
            // v1 is served by the v2 implementation; see FailoverPlugin's documentation for why.
            PluginFactory(code: "failover", weight: ReferencePluginCodes.weight(of: "failover")!) { _ in FailoverPlugin() },
            PluginFactory(code: "host_monitoring_v2", weight: ReferencePluginCodes.weight(of: "host_monitoring_v2")!) { _ in
                HostMonitoringPlugin(rule: .v2)
            },
            PluginFactory(code: "host_monitoring", weight: ReferencePluginCodes.weight(of: "host_monitoring")!) { _ in
                HostMonitoringPlugin(rule: .v1)
            },
        ]
    }
}
