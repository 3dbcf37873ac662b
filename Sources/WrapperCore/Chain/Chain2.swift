/// Two plugins in sequence: `first` wraps `second`. Result builders nest these into a statically
/// typed chain (`Chain2<Chain2<A, B>, C>`) whose calls the compiler inlines away.
///
/// Plumbing of ``PluginChainBuilder``; you rarely name it.
public struct Chain2<First: Plugin, Second: Plugin>: Plugin {
    @usableFromInline let first: First
    @usableFromInline let second: Second
    @usableFromInline let subscribed: PluginMethods

    /// Composes two plugins.
    @inlinable
    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
        self.subscribed = first.subscribedMethods.union(second.subscribedMethods)
    }

    @inlinable
    public var subscribedMethods: PluginMethods { subscribed }

    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        try first._execute(call, service) { call, service in try second._execute(call, service, next) }
    }

    @inlinable
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try first._connect(request, service) { request, service in try second._connect(request, service, next) }
    }

    @inlinable
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try first._forceConnect(request, service) { request, service in try second._forceConnect(request, service, next) }
    }

    @inlinable
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try first._initHostProvider(properties, service) { service in try second._initHostProvider(properties, service, next) }
    }

    @inlinable
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        // Every subscribed plugin hears it, in chain order; suggestions are merged.
        let firstAction = first._notifyConnectionChanged(changes, service)
        return firstAction.merged(with: second._notifyConnectionChanged(changes, service))
    }

    @inlinable
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        first._notifyHostListChanged(changes, service)
        second._notifyHostListChanged(changes, service)
    }

    @inlinable
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        first._acceptsStrategy(strategy, role, service) || second._acceptsStrategy(strategy, role, service)
    }

    @inlinable
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        if let host = try first._hostInfo(strategy, role, hosts, service) { return host }
        return try second._hostInfo(strategy, role, hosts, service)
    }

    public func releaseResources() {
        first.releaseResources()
        second.releaseResources()
    }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? {
        if let match = self as? P { return match }
        return first.plugin(ofType: type) ?? second.plugin(ofType: type)
    }
}

/// A plugin that does nothing: the chain of an empty builder block.
public struct EmptyPlugin: Plugin {
    /// Creates the empty plugin.
    @inlinable public init() {}
    @inlinable public var subscribedMethods: PluginMethods { .none }
}

/// A plugin that is present or not, from an `if` without `else` in a builder.
public struct OptionalPlugin<Wrapped: Plugin>: Plugin {
    @usableFromInline let wrapped: Wrapped?

    /// Wraps an optional plugin.
    @inlinable public init(_ wrapped: Wrapped?) { self.wrapped = wrapped }

    @inlinable
    public var subscribedMethods: PluginMethods { wrapped?.subscribedMethods ?? .none }

    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        guard let wrapped else { return try next(call, service) }
        return try wrapped._execute(call, service, next)
    }

    @inlinable
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        guard let wrapped else { return try next(request, service) }
        return try wrapped._connect(request, service, next)
    }

    @inlinable
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        guard let wrapped else { return try next(request, service) }
        return try wrapped._forceConnect(request, service, next)
    }

    @inlinable
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        guard let wrapped else { return try next(service) }
        try wrapped._initHostProvider(properties, service, next)
    }

    @inlinable
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        wrapped?._notifyConnectionChanged(changes, service) ?? .noOpinion
    }

    @inlinable
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        wrapped?._notifyHostListChanged(changes, service)
    }

    @inlinable
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        wrapped?._acceptsStrategy(strategy, role, service) ?? false
    }

    @inlinable
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        try wrapped?._hostInfo(strategy, role, hosts, service)
    }

    public func releaseResources() { wrapped?.releaseResources() }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? {
        (self as? P) ?? wrapped?.plugin(ofType: type)
    }
}

/// One of two plugins of different types, from an `if`/`else` in a builder.
public enum EitherPlugin<First: Plugin, Second: Plugin>: Plugin {
    /// The `if` branch.
    case first(First)
    /// The `else` branch.
    case second(Second)

    @inlinable
    public var subscribedMethods: PluginMethods {
        switch self {
        case .first(let plugin): plugin.subscribedMethods
        case .second(let plugin): plugin.subscribedMethods
        }
    }

    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        switch self {
        case .first(let plugin): try plugin._execute(call, service, next)
        case .second(let plugin): try plugin._execute(call, service, next)
        }
    }

    @inlinable
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        switch self {
        case .first(let plugin): try plugin._connect(request, service, next)
        case .second(let plugin): try plugin._connect(request, service, next)
        }
    }

    @inlinable
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        switch self {
        case .first(let plugin): try plugin._forceConnect(request, service, next)
        case .second(let plugin): try plugin._forceConnect(request, service, next)
        }
    }

    @inlinable
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        switch self {
        case .first(let plugin): try plugin._initHostProvider(properties, service, next)
        case .second(let plugin): try plugin._initHostProvider(properties, service, next)
        }
    }

    @inlinable
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        switch self {
        case .first(let plugin): plugin._notifyConnectionChanged(changes, service)
        case .second(let plugin): plugin._notifyConnectionChanged(changes, service)
        }
    }

    @inlinable
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        switch self {
        case .first(let plugin): plugin._notifyHostListChanged(changes, service)
        case .second(let plugin): plugin._notifyHostListChanged(changes, service)
        }
    }

    @inlinable
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        switch self {
        case .first(let plugin): plugin._acceptsStrategy(strategy, role, service)
        case .second(let plugin): plugin._acceptsStrategy(strategy, role, service)
        }
    }

    @inlinable
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        switch self {
        case .first(let plugin): try plugin._hostInfo(strategy, role, hosts, service)
        case .second(let plugin): try plugin._hostInfo(strategy, role, hosts, service)
        }
    }

    public func releaseResources() {
        switch self {
        case .first(let plugin): plugin.releaseResources()
        case .second(let plugin): plugin.releaseResources()
        }
    }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? {
        if let match = self as? P { return match }
        switch self {
        case .first(let plugin): return plugin.plugin(ofType: type)
        case .second(let plugin): return plugin.plugin(ofType: type)
        }
    }
}
