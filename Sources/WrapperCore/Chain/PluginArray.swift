/// Plugins of one type repeated, from a `for` loop in a builder; element `0` is outermost.
public struct PluginArray<Element: Plugin>: Plugin {
    @usableFromInline let elements: [Element]
    @usableFromInline let subscribed: PluginMethods

    /// Wraps the plugins.
    @inlinable
    public init(_ elements: [Element]) {
        self.elements = elements
        self.subscribed = elements.reduce(PluginMethods.none) { $0.union($1.subscribedMethods) }
    }

    @inlinable
    public var subscribedMethods: PluginMethods { subscribed }

    @inlinable
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        try executeFrom(0, call, service, next)
    }

    @inlinable
    func executeFrom(_ index: Int, _ call: MethodCall, _ service: PluginService, _ next: ExecuteNext) throws -> CallResult {
        if index == elements.count { return try next(call, service) }
        return try elements[index]._execute(call, service) { call, service in
            try executeFrom(index + 1, call, service, next)
        }
    }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try connectFrom(0, request, service, force: false, next)
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try connectFrom(0, request, service, force: true, next)
    }

    func connectFrom(
        _ index: Int, _ request: ConnectRequest, _ service: PluginService, force: Bool, _ next: ConnectNext
    ) throws -> any DriverConnection {
        if index == elements.count { return try next(request, service) }
        if force {
            return try elements[index]._forceConnect(request, service) { request, service in
                try connectFrom(index + 1, request, service, force: force, next)
            }
        }
        return try elements[index]._connect(request, service) { request, service in
            try connectFrom(index + 1, request, service, force: force, next)
        }
    }

    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try initFrom(0, properties, service, next)
    }

    func initFrom(_ index: Int, _ properties: Properties, _ service: PluginService, _ next: InitHostProviderNext) throws {
        if index == elements.count { return try next(service) }
        try elements[index]._initHostProvider(properties, service) { service in try initFrom(index + 1, properties, service, next) }
    }

    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        elements.reduce(.noOpinion) { $0.merged(with: $1._notifyConnectionChanged(changes, service)) }
    }

    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        for element in elements { element._notifyHostListChanged(changes, service) }
    }

    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        elements.contains { $0._acceptsStrategy(strategy, role, service) }
    }

    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        for element in elements {
            if let host = try element._hostInfo(strategy, role, hosts, service) { return host }
        }
        return nil
    }

    public func releaseResources() { elements.forEach { $0.releaseResources() } }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? {
        if let match = self as? P { return match }
        for element in elements { if let found = element.plugin(ofType: type) { return found } }
        return nil
    }
}

/// A type-erased plugin.
///
/// Erasing costs one indirect call per hook and loses the specialisation of a static chain; use it
/// where types must be uniform (a builder's `if #available`), not on a hot path that can stay generic.
public struct AnyPlugin: Plugin {
    /// The wrapped plugin.
    public let base: any Plugin

    /// Erases a plugin; an ``AnyPlugin`` is not boxed twice.
    public init(_ base: any Plugin) {
        if let erased = base as? AnyPlugin { self = erased } else { self.base = base }
    }

    public var subscribedMethods: PluginMethods { base.subscribedMethods }
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        try base._execute(call, service, next)
    }
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try base._connect(request, service, next)
    }
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try base._forceConnect(request, service, next)
    }
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try base._initHostProvider(properties, service, next)
    }
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        base._notifyConnectionChanged(changes, service)
    }
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        base._notifyHostListChanged(changes, service)
    }
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        base._acceptsStrategy(strategy, role, service)
    }
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        try base._hostInfo(strategy, role, hosts, service)
    }
    public func releaseResources() { base.releaseResources() }
    public func plugin<P: Plugin>(ofType type: P.Type) -> P? { (self as? P) ?? base.plugin(ofType: type) }
}
