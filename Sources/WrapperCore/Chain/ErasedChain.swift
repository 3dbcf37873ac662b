/// A chain behind closures that were specialised when it was erased, so a connection can hold any
/// chain without losing the static chain's inlining (the swift-parsing `AnyParser` technique).
public struct ErasedChain: Sendable {
    @usableFromInline let _execute: @Sendable (MethodCall, PluginService, ExecuteNext) throws -> CallResult
    /// The erased plugin, for the hooks that are not on the hot path.
    public let plugin: any Plugin

    /// Erases a chain; call it where the chain's type is concrete.
    @inlinable
    public init<P: Plugin>(_ chain: P) {
        self.plugin = chain
        self._execute = { call, service, next in
            try chain.execute(call, service: service, next: next)
        }
    }

    /// Runs the execute pipeline of the chain.
    @inlinable @inline(__always)
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        try _execute(call, service, next)
    }
}
