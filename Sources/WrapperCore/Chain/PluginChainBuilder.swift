/// Composes plugins into a statically typed chain.
///
/// Plain sequences nest into ``Chain2``; `if` gives ``OptionalPlugin``; `if`/`else` gives
/// ``EitherPlugin`` (the branches may have different types); `for` gives ``PluginArray``. The first
/// plugin listed is the outermost: it sees a call first and its result last.
///
/// ```swift
/// let chain = PluginChain {
///     AuditPlugin()
///     if measure { ExecuteTimePlugin() }
///     if strict { StrictPlugin() } else { LenientPlugin() }
///     for tag in tags { TagPlugin(tag: tag) }
///     try registry.chain(for: properties)   // a registry-built part
/// }
/// ```
@resultBuilder
public enum PluginChainBuilder {
    /// An empty block.
    @inlinable
    public static func buildBlock() -> EmptyPlugin { EmptyPlugin() }

    /// One plugin.
    @inlinable
    public static func buildExpression<P: Plugin>(_ plugin: P) -> P { plugin }

    /// The first plugin of a block.
    @inlinable
    public static func buildPartialBlock<P: Plugin>(first: P) -> P { first }

    /// The next plugin of a block, wrapped by everything before it.
    @inlinable
    public static func buildPartialBlock<Accumulated: Plugin, Next: Plugin>(
        accumulated: Accumulated, next: Next
    ) -> Chain2<Accumulated, Next> {
        Chain2(accumulated, next)
    }

    /// `if` without `else`.
    @inlinable
    public static func buildOptional<P: Plugin>(_ plugin: P?) -> OptionalPlugin<P> { OptionalPlugin(plugin) }

    /// The `if` branch of `if`/`else`.
    @inlinable
    public static func buildEither<First: Plugin, Second: Plugin>(first: First) -> EitherPlugin<First, Second> {
        .first(first)
    }

    /// The `else` branch of `if`/`else`.
    @inlinable
    public static func buildEither<First: Plugin, Second: Plugin>(second: Second) -> EitherPlugin<First, Second> {
        .second(second)
    }

    /// A `for` loop.
    @inlinable
    public static func buildArray<P: Plugin>(_ plugins: [P]) -> PluginArray<P> { PluginArray(plugins) }

    /// `if #available`.
    public static func buildLimitedAvailability<P: Plugin>(_ plugin: P) -> AnyPlugin { AnyPlugin(plugin) }
}

/// A declared chain of plugins: the value users build with ``PluginChainBuilder``.
///
/// The chain caches the union of its plugins' subscriptions, so a call nobody subscribes to goes
/// straight to the driver. The terminal step that calls the driver is added by the library when a
/// connection runs the chain; users never write it. One chain value may serve many connections:
/// it holds no per-connection state.
public struct PluginChain<Body: Plugin>: Plugin {
    /// The composed plugins.
    public let body: Body
    @usableFromInline let subscribed: PluginMethods

    /// Declares a chain.
    @inlinable
    public init(@PluginChainBuilder _ content: () throws -> Body) rethrows {
        let body = try content()
        self.body = body
        self.subscribed = body.subscribedMethods
    }

    @inlinable
    public var subscribedMethods: PluginMethods { subscribed }

    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        // Nobody subscribed: skip the pipeline entirely.
        guard subscribed.contains(call.method) else { return try next(call, service) }
        return try body.execute(call, service: service, next: next)
    }

    @inlinable
    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try body._connect(request, service, next)
    }

    @inlinable
    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try body._forceConnect(request, service, next)
    }

    @inlinable
    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try body._initHostProvider(properties, service, next)
    }

    @inlinable
    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        body._notifyConnectionChanged(changes, service)
    }

    @inlinable
    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        body._notifyHostListChanged(changes, service)
    }

    @inlinable
    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        body._acceptsStrategy(strategy, role, service)
    }

    @inlinable
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        try body._hostInfo(strategy, role, hosts, service)
    }

    public func releaseResources() { body.releaseResources() }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? { (self as? P) ?? body.plugin(ofType: type) }
}
