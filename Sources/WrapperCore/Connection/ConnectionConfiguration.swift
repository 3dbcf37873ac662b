import Logging

/// A typed alternative to connection strings.
///
/// ```swift
/// var configuration = ConnectionConfiguration(host: "db1", port: 5432, user: "app", database: "shop")
/// configuration.password = secret
/// configuration.plugins = ["execute_time", "log_query"]
/// configuration.connectTimeout = .seconds(2)
/// let connection = try WrapperConnection.open(configuration, driver: PostgresDriver(), registry: .default)
/// ```
public struct ConnectionConfiguration: Sendable {
    /// A host and, optionally, its port.
    public struct Endpoint: Sendable, Hashable {
        /// Host name or address.
        public var host: String
        /// Port; `nil` uses the driver's default.
        public var port: Int?

        /// Creates an endpoint.
        public init(host: String, port: Int? = nil) {
            self.host = host
            self.port = port
        }
    }

    /// Hosts to connect to; the first is the writer.
    public var endpoints: [Endpoint]
    /// The database user.
    public var user: String?
    /// The password; never shown in descriptions.
    public var password: String?
    /// The database name.
    public var database: String?
    /// Plugin codes; `nil` means the reference's default list, `[]` means none.
    public var plugins: [String]?
    /// How long connecting may take.
    public var connectTimeout: Duration?
    /// How long one statement may take.
    public var socketTimeout: Duration?
    /// Any other wrapper or driver property (`ssl_mode`, `failover_timeout_sec`, ...).
    public var properties: Properties

    /// Creates a configuration for one host.
    public init(host: String, port: Int? = nil, user: String? = nil, password: String? = nil, database: String? = nil) {
        self.init(endpoints: [Endpoint(host: host, port: port)], user: user, password: password, database: database)
    }

    /// Creates a configuration for several hosts.
    public init(endpoints: [Endpoint], user: String? = nil, password: String? = nil, database: String? = nil) {
        self.endpoints = endpoints
        self.user = user
        self.password = password
        self.database = database
        self.properties = Properties()
    }

    /// The configuration as properties.
    ///
    /// - Throws: ``WrapperError`` when there is no host or the hosts mix given and default ports.
    public func asProperties() throws -> Properties {
        guard !endpoints.isEmpty else {
            throw WrapperError(.missingProperty, "The configuration has no host: give at least one endpoint.")
        }
        var result = properties
        result["host"] = endpoints.map(\.host).joined(separator: ",")
        let ports = endpoints.compactMap(\.port)
        if !ports.isEmpty {
            guard ports.count == endpoints.count else {
                throw WrapperError(.invalidProperty, "Give a port for every endpoint or for none.")
            }
            result["port"] = ports.map(String.init).joined(separator: ",")
        }
        if let user { result["user"] = user }
        if let password { result["password"] = password }
        if let database { result["database"] = database }
        if let plugins { result["plugins"] = plugins.joined(separator: ",") }
        func seconds(_ duration: Duration) -> String {
            let (whole, fraction) = duration.components
            return String(Double(whole) + Double(fraction) / 1e18)
        }
        if let connectTimeout { result["connect_timeout"] = seconds(connectTimeout) }
        if let socketTimeout { result["socket_timeout"] = seconds(socketTimeout) }
        return result
    }
}

extension WrapperConnection {
    /// Opens a connection from a typed configuration, with plugins from the registry.
    public static func open(
        _ configuration: ConnectionConfiguration, driver: any DriverDialect, registry: PluginRegistry,
        logger: Logging.Logger = .wrapperNoOp
    ) throws -> WrapperConnection {
        let properties = try registry.effectiveProperties(configuration.asProperties())
        let chain = try registry.chain(for: properties, driver: driver, logger: logger)
        return try WrapperConnection(
            properties: properties, driver: driver, chain: ErasedChain(chain), runtime: registry.runtime, logger: logger)
    }
}

extension ConnectionConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The endpoints, user, database and properties; the password shows as `***`.
    public var description: String {
        var parts = ["endpoints: " + endpoints.map { endpoint in endpoint.port.map { "\(endpoint.host):\($0)" } ?? endpoint.host }.joined(separator: ",")]
        if let user { parts.append("user: \(user)") }
        if password != nil { parts.append("password: ***") }
        if let database { parts.append("database: \(database)") }
        if let plugins { parts.append("plugins: \(plugins.joined(separator: ","))") }
        if let connectTimeout { parts.append("connectTimeout: \(connectTimeout)") }
        if let socketTimeout { parts.append("socketTimeout: \(socketTimeout)") }
        parts.append("properties: \(properties)")
        return SecretRedactor.redact("ConnectionConfiguration(" + parts.joined(separator: ", ") + ")")
    }

    /// The same as ``description``: `debugPrint` and `dump` never show the password either.
    public var debugDescription: String { description }

    /// A mirror without the password, for `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "endpoints": endpoints, "user": user as Any, "password": password == nil ? "nil" : "***",
            "database": database as Any, "plugins": plugins as Any, "connectTimeout": connectTimeout as Any,
            "socketTimeout": socketTimeout as Any, "properties": properties,
        ])
    }
}
