import Logging

/// Where a plugin sits in an auto-sorted chain.
public enum PluginWeight: Sendable, Hashable {
    /// A fixed weight; lower runs first (outermost).
    case fixed(Int)
    /// The reference's `-1`: the previous plugin's weight plus one.
    case relativeToPrior
}

/// What a factory gets to build its plugin.
public struct PluginFactoryContext: Sendable {
    /// The connection's properties (after any profile was applied).
    public var properties: Properties
    /// The driver dialect of the connection.
    public var driver: any DriverDialect
    /// The logger of the connection.
    public var logger: Logger

    /// Creates a context.
    public init(properties: Properties, driver: any DriverDialect, logger: Logger) {
        self.properties = properties
        self.driver = driver
        self.logger = logger
    }
}

/// A named way to build a plugin from properties: an entry of ``PluginRegistry``.
public struct PluginFactory: Sendable {
    /// The code users write in `plugins`.
    public let code: String
    /// The sort weight.
    public let weight: PluginWeight
    /// The properties the plugin reads; the registry validates them all before it builds the
    /// plugin, so an invalid value fails the open instead of quietly turning the plugin off.
    public let properties: [any PropertyValidating]
    /// Builds the plugin.
    public let make: @Sendable (PluginFactoryContext) throws -> any Plugin

    /// Creates a factory.
    public init(
        code: String, weight: PluginWeight, properties: [any PropertyValidating] = [],
        make: @escaping @Sendable (PluginFactoryContext) throws -> any Plugin
    ) {
        self.code = code
        self.weight = weight
        self.properties = properties
        self.make = make
    }
}

/// A named configuration: properties and a plugin list, selected with `profile_name`.
///
/// A profile's plugin list keeps its order (it is not auto-sorted), as in the reference. Its
/// properties are defaults: properties the user gives win.
public struct ConfigurationProfile: Sendable {
    /// The name users write in `profile_name`.
    public var name: String
    /// Plugin codes, outermost first.
    public var plugins: [String]
    /// Default properties of the profile.
    public var properties: Properties

    /// Creates a profile.
    public init(name: String, plugins: [String], properties: Properties = Properties()) {
        self.name = name
        self.plugins = plugins
        self.properties = properties
    }
}

/// The plugin codes and weights of the reference wrapper, `PLUGIN_FACTORY_WEIGHTS`.
///
/// A code listed here whose factory is not registered is reported as "not available in this
/// build", distinct from an unknown code.
public enum ReferencePluginCodes {
    /// Code and weight of every reference plugin, and of this library's additions.
    public static let weights: [(code: String, weight: PluginWeight)] = [
        ("custom_endpoint", .fixed(40)),
        ("initial_connection", .fixed(50)),
        ("aurora_connection_tracker", .fixed(100)),
        ("stale_dns", .fixed(200)),
        ("read_write_splitting", .fixed(300)),
        ("srw", .fixed(310)),
        ("gdb_rw", .fixed(320)),
        ("failover", .fixed(400)),
        ("failover_v2", .fixed(410)),
        ("gdb_failover", .fixed(420)),
        ("host_monitoring", .fixed(500)),
        ("host_monitoring_v2", .fixed(510)),
        ("bg", .fixed(550)),
        ("fastest_response_strategy", .fixed(600)),
        ("iam", .fixed(700)),
        ("aws_secrets_manager", .fixed(800)),
        ("federated_auth", .fixed(900)),
        ("limitless", .fixed(950)),
        ("okta", .fixed(1000)),
        ("connect_time", .relativeToPrior),
        ("execute_time", .relativeToPrior),
        ("dev", .relativeToPrior),
        ("log_query", .relativeToPrior),
        ("data_cache", .relativeToPrior),
    ]

    /// The weight of a reference code.
    public static func weight(of code: String) -> PluginWeight? {
        weights.first { $0.code == code }?.weight
    }
}
