import Logging
import Metrics
import Synchronization
import WrapperCore

/// Running totals of a timing plugin for one connection.
public final class TimingFigures: Sendable {
    private let totalNanoseconds = Atomic<UInt64>(0)
    private let calls = Atomic<UInt64>(0)

    /// Creates empty figures.
    public init() {}

    /// Adds one measurement.
    public func record(nanoseconds: UInt64) {
        totalNanoseconds.add(nanoseconds, ordering: .relaxed)
        calls.add(1, ordering: .relaxed)
    }

    /// The sum of all measurements, in nanoseconds.
    public var total: UInt64 { totalNanoseconds.load(ordering: .relaxed) }
    /// How many measurements were taken.
    public var count: UInt64 { calls.load(ordering: .relaxed) }
    /// Clears the figures.
    public func reset() {
        totalNanoseconds.store(0, ordering: .relaxed)
        calls.store(0, ordering: .relaxed)
    }
}

@inline(__always)
func nanoseconds(since start: ContinuousClock.Instant) -> UInt64 {
    let elapsed = ContinuousClock.now - start
    let (seconds, attoseconds) = elapsed.components
    return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
}

/// `execute_time`: measures every call through the chain.
///
/// Figures are kept per connection (``figures(of:)``) and, when a metrics backend is bootstrapped,
/// recorded in a swift-metrics `Timer` labelled ``metricLabel`` with a `method` dimension.
public struct ExecuteTimePlugin: Plugin {
    /// The label of the swift-metrics timer.
    public static let metricLabel = "aws.wrapper.execute_time"

    private final class State: Sendable {
        let figures = TimingFigures()
    }

    private let timers: [Metrics.Timer]

    /// Creates the plugin, recording into `metricsFactory` (by default the bootstrapped backend).
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        // One timer per method, created up front so the hot path only records.
        var timers: [Metrics.Timer] = []
        for id in 0..<64 {
            let name = PluginMethod.allKnown.first { $0.id == id }?.name ?? "unknown"
            timers.append(Metrics.Timer(label: Self.metricLabel, dimensions: [("method", name)], factory: metricsFactory))
        }
        self.timers = timers
    }

    public var subscribedMethods: PluginMethods { .all }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        let start = ContinuousClock.now
        defer {
            let elapsed = nanoseconds(since: start)
            service.state(State.self, create: State.init).figures.record(nanoseconds: elapsed)
            timers[Int(call.method.id)].recordNanoseconds(elapsed)
            service.logger.trace("Executed", metadata: ["method": "\(call.method.name)", "nanoseconds": "\(elapsed)"])
        }
        return try next(call, service)
    }

    /// The figures of one connection: zero until it runs a call.
    public static func figures(of connection: WrapperConnection) -> TimingFigures {
        connection.service.state(State.self, create: State.init).figures
    }
}

/// `connect_time`: measures every connect and force-connect through the chain.
///
/// Figures are kept per connection (``figures(of:)``) and recorded in a swift-metrics `Timer`
/// labelled ``metricLabel``.
public struct ConnectTimePlugin: Plugin {
    /// The label of the swift-metrics timer.
    public static let metricLabel = "aws.wrapper.connect_time"

    private final class State: Sendable {
        let figures = TimingFigures()
    }

    private let timer: Metrics.Timer

    /// Creates the plugin, recording into `metricsFactory` (by default the bootstrapped backend).
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        timer = Metrics.Timer(label: Self.metricLabel, factory: metricsFactory)
    }

    public var subscribedMethods: PluginMethods { .connectMethods }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try measure(request, service) { try next(request, service) }
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try measure(request, service) { try next(request, service) }
    }

    private func measure(
        _ request: ConnectRequest, _ service: PluginService, _ body: () throws -> any DriverConnection
    ) throws -> any DriverConnection {
        let start = ContinuousClock.now
        defer {
            let elapsed = nanoseconds(since: start)
            service.state(State.self, create: State.init).figures.record(nanoseconds: elapsed)
            timer.recordNanoseconds(elapsed)
            service.logger.debug("Connected", metadata: ["host": "\(request.host.hostAndPort)", "nanoseconds": "\(elapsed)"])
        }
        return try body()
    }

    /// The figures of one connection.
    public static func figures(of connection: WrapperConnection) -> TimingFigures {
        connection.service.state(State.self, create: State.init).figures
    }
}
