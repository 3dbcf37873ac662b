import WrapperCore

/// Factories of the plugins this module provides, with the reference's codes and weights.
public enum BuiltinPluginFactories {
    /// `execute_time`, `connect_time`, `dev`, `log_query` and `data_cache`; the `data_cache`
    /// factory shares one ``QueryCache`` per `data_cache_max_entries` value between the connections of the registry it is added to.
    public static func make() -> [PluginFactory] {
        let caches = QueryCaches()
        return stateless + [
            PluginFactory(code: "data_cache", weight: ReferencePluginCodes.weight(of: "data_cache")!) { context in
                try DataCachePlugin(properties: context.properties, caches: caches)
            },
        ]
    }

    static let stateless: [PluginFactory] = [
        PluginFactory(code: "execute_time", weight: ReferencePluginCodes.weight(of: "execute_time")!) { _ in
            ExecuteTimePlugin()
        },
        PluginFactory(code: "connect_time", weight: ReferencePluginCodes.weight(of: "connect_time")!) { _ in
            ConnectTimePlugin()
        },
        PluginFactory(code: "dev", weight: ReferencePluginCodes.weight(of: "dev")!) { _ in DeveloperPlugin() },
        PluginFactory(code: "log_query", weight: ReferencePluginCodes.weight(of: "log_query")!) { context in
            try LogQueryPlugin(properties: context.properties)
        },
    ]
}

extension PluginRegistry {
    /// The shared registry holding every built-in plugin: the one explicit default instance.
    /// Register your own plugins on it, or build a separate registry.
    public static let `default`: PluginRegistry = {
        let registry = PluginRegistry()
        for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + AuthPluginFactories.make()
            + FailoverPluginFactories.make()
        {
            // Codes of the built-ins are distinct by construction; the tests check the list.
            try? registry.register(factory)
        }
        registry.addOrReplaceProfile(FailoverPluginFactories.fastFailoverProfile)
        return registry
    }()
}
