/// A connect request as it flows through the connect pipelines.
public struct ConnectRequest: Sendable {
    /// The host to connect to.
    public var host: HostInfo
    /// The properties to connect with; a plugin may change them (a token for a password, say).
    public var properties: Properties
    /// Whether this is the first connection of the wrapper connection.
    public var isInitialConnection: Bool
    /// A plugin type whose hooks this request skips, so a plugin can connect through the chain
    /// without re-entering itself.
    public var pluginToSkip: ObjectIdentifier?

    /// Creates a request.
    public init(host: HostInfo, properties: Properties, isInitialConnection: Bool, pluginToSkip: ObjectIdentifier? = nil) {
        self.host = host
        self.properties = properties
        self.isInitialConnection = isInitialConnection
        self.pluginToSkip = pluginToSkip
    }
}

/// The next step of a connect pipeline.
public typealias ConnectNext = (ConnectRequest, PluginService) throws -> any DriverConnection
/// The next step of an execute pipeline.
public typealias ExecuteNext = (MethodCall, PluginService) throws -> CallResult
/// The next step of the host-provider set-up pipeline. Use the name in a conformance: a hook
/// spelled with another closure type is an unrelated overload that the chain never calls.
public typealias InitHostProviderNext = (PluginService) throws -> Void

/// A plugin: a value that intercepts the calls of a connection.
///
/// Conform a struct and override only the hooks you need; every hook has a pass-through default
/// (the way swift-nio's channel handlers forward to the next handler). State what you subscribe to
/// in ``subscribedMethods``: a hook is only called for subscribed methods (``PluginMethods/all`` is
/// the reference's `"*"`), and a call nobody subscribes to skips the chain entirely.
///
/// A plugin value may be declared once and used by many connections, so it holds configuration
/// only. Per-connection state lives in the ``PluginService`` handed to every hook (see
/// ``PluginService/state(_:create:)``); shared machinery lives in long-lived services.
///
/// ```swift
/// struct AuditPlugin: Plugin {
///     var subscribedMethods: PluginMethods { [.cursorExecute] }
///     func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
///         print("SQL:", call.sql)
///         return try next(call, service)
///     }
/// }
/// ```
public protocol Plugin: Sendable {
    /// The methods whose hooks this plugin wants to see.
    var subscribedMethods: PluginMethods { get }

    /// Intercepts opening a connection (subscription key `connect`).
    func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection
    /// Intercepts opening a connection that must bypass connection pools (key `force_connect`);
    /// monitors and failover use it.
    func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection
    /// Intercepts a network-bound call (keys such as `Cursor.execute`, `Connection.commit`).
    func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult
    /// Runs once when the connection is set up, to install a host list provider (key `init_host_provider`).
    func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws
    /// Hears that the current connection changed, and suggests what to do with the old one.
    func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction
    /// Hears that the host list changed.
    func notifyHostListChanged(_ changes: HostListChanges, service: PluginService)
    /// Whether this plugin implements the host selection strategy `strategy` for `role`.
    func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool
    /// A host chosen by `strategy`, or `nil` when this plugin does not implement it.
    func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo?
    /// Releases shared resources the plugin holds; called when the wrapper connection is closed.
    func releaseResources()
    /// The first plugin of type `type` in this plugin (itself, or one nested in a chain).
    func plugin<P: Plugin>(ofType type: P.Type) -> P?
}

extension Plugin {
    @inlinable
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try next(request, service)
    }

    @inlinable
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try next(request, service)
    }

    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        try next(call, service)
    }

    @inlinable
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try next(service)
    }

    @inlinable
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        .noOpinion
    }

    @inlinable
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {}

    @inlinable
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool { false }

    @inlinable
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        nil
    }

    @inlinable
    public func releaseResources() {}

    @inlinable
    public func plugin<P: Plugin>(ofType type: P.Type) -> P? { self as? P }
}

// Subscription-aware dispatch. Composite plugins call these on their parts, so a part that is not
// subscribed (or is the plugin to skip) is stepped over without entering its hook.
extension Plugin {
    @inlinable @inline(__always)
    func _execute(_ call: MethodCall, _ service: PluginService, _ next: ExecuteNext) throws -> CallResult {
        if subscribedMethods.contains(call.method) {
            return try execute(call, service: service, next: next)
        }
        return try next(call, service)
    }

    @inlinable
    func _connect(_ request: ConnectRequest, _ service: PluginService, _ next: ConnectNext) throws -> any DriverConnection {
        if subscribedMethods.contains(.connect), request.pluginToSkip != ObjectIdentifier(Self.self) {
            return try connect(request, service: service, next: next)
        }
        return try next(request, service)
    }

    @inlinable
    func _forceConnect(_ request: ConnectRequest, _ service: PluginService, _ next: ConnectNext) throws -> any DriverConnection {
        if subscribedMethods.contains(.forceConnect), request.pluginToSkip != ObjectIdentifier(Self.self) {
            return try forceConnect(request, service: service, next: next)
        }
        return try next(request, service)
    }

    @inlinable
    func _initHostProvider(_ properties: Properties, _ service: PluginService, _ next: InitHostProviderNext) throws {
        if subscribedMethods.contains(.initHostProvider) {
            return try initHostProvider(properties, service: service, next: next)
        }
        return try next(service)
    }

    @inlinable
    func _notifyConnectionChanged(_ changes: Set<ConnectionEvent>, _ service: PluginService) -> OldConnectionSuggestedAction {
        subscribedMethods.contains(.notifyConnectionChanged) ? notifyConnectionChanged(changes, service: service) : .noOpinion
    }

    @inlinable
    func _notifyHostListChanged(_ changes: HostListChanges, _ service: PluginService) {
        if subscribedMethods.contains(.notifyHostListChanged) { notifyHostListChanged(changes, service: service) }
    }

    @inlinable
    func _acceptsStrategy(_ strategy: String, _ role: HostRole, _ service: PluginService) -> Bool {
        subscribedMethods.contains(.acceptsStrategy) && acceptsStrategy(strategy, role: role, service: service)
    }

    @inlinable
    func _hostInfo(_ strategy: String, _ role: HostRole, _ hosts: [HostInfo]?, _ service: PluginService) throws -> HostInfo? {
        subscribedMethods.contains(.getHostInfoByStrategy)
            ? try hostInfo(byStrategy: strategy, role: role, hosts: hosts, service: service) : nil
    }
}
