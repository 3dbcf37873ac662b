import WrapperCore

/// Factories of the plugins this module provides, with the reference's codes and weights.
public enum BuiltinPluginFactories {
    /// `execute_time`, `connect_time` and `dev`.
    public static let all: [PluginFactory] = [
        PluginFactory(code: "execute_time", weight: ReferencePluginCodes.weight(of: "execute_time")!) { _ in
            ExecuteTimePlugin()
        },
        PluginFactory(code: "connect_time", weight: ReferencePluginCodes.weight(of: "connect_time")!) { _ in
            ConnectTimePlugin()
        },
        PluginFactory(code: "dev", weight: ReferencePluginCodes.weight(of: "dev")!) { _ in DeveloperPlugin() },
    ]
}

extension PluginRegistry {
    /// The shared registry holding every built-in plugin: the one explicit default instance.
    /// Register your own plugins on it, or build a separate registry.
    public static let `default`: PluginRegistry = {
        let registry = PluginRegistry()
        for factory in BuiltinPluginFactories.all {
            // Codes of the built-ins are distinct by construction; the tests check the list.
            try? registry.register(factory)
        }
        return registry
    }()
}
