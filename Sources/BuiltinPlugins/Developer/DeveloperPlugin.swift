import Synchronization
import WrapperCore

/// Injects errors into a connection on demand, to test how an application and the other plugins
/// react to failures.
///
/// Arm it to raise an error on the next connect, on the next call (of any method or of one chosen
/// method), or let a callback decide per call. Each armed error fires once.
public final class ErrorSimulator: Sendable {
    /// Decides, per call, whether to raise an error.
    public typealias CallCallback = @Sendable (MethodCall) -> (any Error)?
    /// Decides, per connect, whether to raise an error.
    public typealias ConnectCallback = @Sendable (ConnectRequest) -> (any Error)?

    private struct State {
        var nextConnectError: (any Error)?
        var nextCallError: (error: any Error, method: PluginMethod?)?
        var callCallback: CallCallback?
        var connectCallback: ConnectCallback?
    }

    private let state = LockedValue(State())

    /// Creates an unarmed simulator.
    public init() {}

    /// Raises `error` on the next connect or force-connect.
    public func raiseOnNextConnect(_ error: any Error) { state.withLock { $0.nextConnectError = error } }

    /// Raises `error` on the next call of `method`, or of any method when `method` is `nil`.
    public func raiseOnNextCall(_ error: any Error, method: PluginMethod? = nil) {
        state.withLock { $0.nextCallError = (error, method) }
    }

    /// Asks `callback` before every call; the error it returns is raised.
    public func setCallCallback(_ callback: CallCallback?) { state.withLock { $0.callCallback = callback } }

    /// Asks `callback` before every connect; the error it returns is raised.
    public func setConnectCallback(_ callback: ConnectCallback?) { state.withLock { $0.connectCallback = callback } }

    /// Disarms everything.
    public func reset() { state.withLock { $0 = State() } }

    func errorForConnect(_ request: ConnectRequest) -> (any Error)? {
        let (armed, callback) = state.withLock { state -> ((any Error)?, ConnectCallback?) in
            defer { state.nextConnectError = nil }
            return (state.nextConnectError, state.connectCallback)
        }
        return armed ?? callback?(request)
    }

    func errorForCall(_ call: MethodCall) -> (any Error)? {
        let (armed, callback) = state.withLock { state -> ((any Error)?, CallCallback?) in
            if let pending = state.nextCallError, pending.method == nil || pending.method == call.method {
                state.nextCallError = nil
                return (pending.error, state.callCallback)
            }
            return (nil, state.callCallback)
        }
        return armed ?? callback?(call)
    }
}

/// `dev`: raises errors armed on an ``ErrorSimulator``.
///
/// Each connection has its own simulator, reached with ``simulator(of:)``. A simulator given to
/// ``init(sharedSimulator:)`` is consulted by every connection using this plugin value, which is
/// how to fail the *initial* connect, before a connection object exists.
public struct DeveloperPlugin: Plugin {
    private let sharedSimulator: ErrorSimulator?

    /// Creates the plugin; `sharedSimulator` applies to every connection using this value.
    public init(sharedSimulator: ErrorSimulator? = nil) { self.sharedSimulator = sharedSimulator }

    public var subscribedMethods: PluginMethods { .all }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try raiseIfArmed(request, service)
        return try next(request, service)
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try raiseIfArmed(request, service)
        return try next(request, service)
    }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        if let error = sharedSimulator?.errorForCall(call) ?? service.existingState(ErrorSimulator.self)?.errorForCall(call) {
            throw error
        }
        return try next(call, service)
    }

    private func raiseIfArmed(_ request: ConnectRequest, _ service: PluginService) throws {
        if let error = sharedSimulator?.errorForConnect(request)
            ?? service.existingState(ErrorSimulator.self)?.errorForConnect(request)
        {
            throw error
        }
    }

    /// The simulator of one connection, or `nil` when its chain has no ``DeveloperPlugin``.
    public static func simulator(of connection: WrapperConnection) -> ErrorSimulator? {
        guard connection.plugin(DeveloperPlugin.self) != nil else { return nil }
        return connection.service.state(ErrorSimulator.self, create: ErrorSimulator.init)
    }
}
