import Dispatch
import Foundation
import Logging
import Metrics
import WrapperCore

/// Watches one host for every connection that runs a call on it (enhanced failure monitoring).
///
/// One thread per monitored host, shared by all connections with the same settings. While calls
/// are in flight and past their grace time (`failure_detection_time_ms`), the thread checks the
/// host every `failure_detection_interval_ms` with `SELECT 1` on its own monitoring connection,
/// each check limited to `(interval − 100 ms) / 2` (at least 100 ms; opening the monitoring
/// connection counts as a check and has the same limit). Once the host is unhealthy, every
/// monitored call on it is aborted by shutting its socket down, and the call fails with a
/// network error that failover acts on. A call that comes out of its grace time while the host is
/// already unhealthy is aborted at once.
///
/// Health rules: `v2` (the default): unhealthy once the failures have lasted `interval × (count − 1)`;
/// `v1`: once they lasted longer than `interval × count`. A success resets the count.
public final class HostMonitor: @unchecked Sendable {
    /// What identifies a monitor: connections with equal settings share it.
    public struct Settings: Hashable, Sendable {
        /// The monitored host.
        public var host: HostInfo
        /// Grace time of a call before it is monitored.
        public var gracePeriod: Duration
        /// Time between checks.
        public var interval: Duration
        /// Failed checks before the host is unhealthy.
        public var count: Int
        /// Which health rule applies.
        public var rule: Rule
        /// Properties of the monitoring connection (`monitoring-` applied).
        public var connectionProperties: Properties

        /// The health rules of the reference's two versions.
        public enum Rule: String, Hashable, Sendable {
            /// `host_monitoring`: unhealthy after more than `interval × count` of failures.
            case v1
            /// `host_monitoring_v2`: unhealthy after `interval × (count − 1)` of failures.
            case v2
        }

        /// The time limit of one check.
        public var checkTimeout: Duration {
            max(.milliseconds(100), (interval - .milliseconds(100)) / 2)
        }

        /// Creates settings.
        public init(host: HostInfo, gracePeriod: Duration, interval: Duration, count: Int, rule: Rule, connectionProperties: Properties) {
            self.host = host
            self.gracePeriod = gracePeriod
            self.interval = interval
            self.count = count
            self.rule = rule
            self.connectionProperties = connectionProperties
        }

        /// One monitor per host *and* per way of checking it: connections with other monitoring
        /// settings or credentials get their own (the first connection's must not apply to all).
        /// In memory only; never logged.
        var key: String {
            let connection = connectionProperties.entries.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return "\(gracePeriod):\(interval):\(count):\(rule.rawValue):\(host.hostAndPort)\u{1E}" + connection.joined(separator: "\u{1F}")
        }
    }

    /// One monitored call.
    public final class Context: @unchecked Sendable {
        let connection: any DriverConnection
        let activeAt: ContinuousClock.Instant
        // Guarded by the monitor's condition.
        var aborted = false

        init(connection: any DriverConnection, activeAt: ContinuousClock.Instant) {
            self.connection = connection
            self.activeAt = activeAt
        }
    }

    /// The settings.
    public let settings: Settings
    private let driver: any DriverDialect
    private let connector: MonitoringConnector
    private let logger: Logger
    private let disposalTime: Duration
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var contexts: [ObjectIdentifier: Context] = [:]
    private var idleSince = ContinuousClock.now
    private var stopping = false
    private var running = true
    private var waitingIdle = false
    /// When the waiting thread means to wake up; a call activated earlier must wake it.
    private var plannedWake: ContinuousClock.Instant?
    private var unhealthy = false
    private var lastCheckFinished: ContinuousClock.Instant?
    private var checks: UInt64 = 0
    private var abortedCount = 0
    private var loopErrors = 0
    // Loop thread only.
    private var monitoringConnection: (any DriverConnection)?
    private var firstFailure: ContinuousClock.Instant?
    private let finished = DispatchSemaphore(value: 0)

    init(settings: Settings, driver: any DriverDialect, connector: MonitoringConnector, logger: Logger, disposalTime: Duration) {
        self.settings = settings
        self.driver = driver
        self.connector = connector
        var logger = logger
        logger[metadataKey: "aws.wrapper.monitored_host"] = "\(settings.host.hostAndPort)"
        self.logger = logger
        self.disposalTime = disposalTime
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "wrapper-host-monitor"
        thread.start()
    }

    // MARK: Monitored calls

    /// Starts monitoring a call on `connection`; pair with ``stopMonitoring(_:)``. `nil` when the
    /// monitor has stopped (idle disposal or shutdown): ask ``HostMonitors`` for a running one.
    public func startMonitoring(_ connection: any DriverConnection) -> Context? {
        let context = Context(connection: connection, activeAt: .now + settings.gracePeriod)
        return register(context) ? context : nil
    }

    private func register(_ context: Context) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard running, !stopping else { return false }
        contexts[ObjectIdentifier(context)] = context
        // Wake the thread only if it would otherwise sleep past this call's activation.
        if waitingIdle || plannedWake.map({ context.activeAt < $0 }) == true { condition.signal() }
        return true
    }

    /// Stops monitoring a call; `true` when the monitor aborted its connection.
    @discardableResult
    public func stopMonitoring(_ context: Context) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        contexts[ObjectIdentifier(context)] = nil
        if contexts.isEmpty { idleSince = .now }
        return context.aborted
    }

    /// Whether the thread still runs (it ends after `disposalTime` without calls, or on shutdown).
    public var isRunning: Bool { locked { $0.running } }
    /// How many calls are monitored now.
    public var monitoredCalls: Int { locked { $0.contexts.count } }
    /// How many connections the monitor aborted.
    public var abortedConnections: Int { locked { $0.abortedCount } }
    /// How many checks ran.
    public var checkCount: UInt64 { locked { $0.checks } }
    /// Errors the loop survived.
    public var loopErrorCount: Int { locked { $0.loopErrors } }
    /// Whether the last checks found the host unhealthy.
    public var isHostUnhealthy: Bool { locked { $0.unhealthy } }

    /// Stops the thread and waits for it.
    public func shutdown() {
        let wasRunning = locked { monitor -> Bool in
            defer { monitor.stopping = true }
            return monitor.running && !monitor.stopping
        }
        condition.lock()
        condition.broadcast()
        condition.unlock()
        if wasRunning { finished.wait() }
    }

    private func locked<Result>(_ body: (HostMonitor) -> Result) -> Result {
        condition.lock()
        defer { condition.unlock() }
        return body(self)
    }

    // MARK: The loop

    private func run() {
        // `running` turns false under the lock on the way out (below), so no call registers with
        // a monitor that no longer checks; the monitoring connection is closed afterwards.
        defer {
            if let connection = monitoringConnection { driver.close(connection) }
            monitoringConnection = nil
        }
        var nextCheck = ContinuousClock.now
        while true {
            condition.lock()
            if stopping {
                running = false
                condition.unlock()
                return
            }
            let now = ContinuousClock.now
            if contexts.isEmpty {
                if now - idleSince >= disposalTime {
                    running = false
                    condition.unlock()
                    return
                }
                // Nothing to watch: drop the state of the last episode and wait for a call.
                unhealthy = false
                firstFailure = nil
                waitingIdle = true
                _ = condition.wait(until: date(idleSince + disposalTime))
                waitingIdle = false
                condition.unlock()
                continue
            }
            let pending = contexts.values.filter { !$0.aborted && $0.activeAt > now }.map(\.activeAt).min()
            let active = contexts.values.filter { !$0.aborted && $0.activeAt <= now }
            // A call out of its grace time on a host already found unhealthy is aborted at once.
            if unhealthy, !active.isEmpty, let last = lastCheckFinished, now - last <= settings.interval {
                let aborted = abort(active)
                condition.unlock()
                reportAborted(aborted)
                continue
            }
            if active.isEmpty || now < nextCheck {
                let wake = [pending, active.isEmpty ? nil : nextCheck].compactMap { $0 }.min() ?? now + settings.interval
                plannedWake = wake
                _ = condition.wait(until: date(wake))
                plannedWake = nil
                condition.unlock()
                continue
            }
            condition.unlock()

            let started = ContinuousClock.now
            let healthy = check()
            let finishedAt = ContinuousClock.now
            condition.lock()
            checks += 1
            lastCheckFinished = finishedAt
            if healthy {
                firstFailure = nil
                unhealthy = false
            } else {
                let first = firstFailure ?? started
                firstFailure = first
                let failing = finishedAt - first
                switch settings.rule {
                case .v2: unhealthy = failing >= settings.interval * (settings.count - 1)
                case .v1: unhealthy = failing > settings.interval * settings.count
                }
            }
            var aborted = 0
            if unhealthy {
                // Under the lock: a call that ended meanwhile has left `contexts`, so its
                // connection's next statement is never cut.
                aborted = abort(contexts.values.filter { !$0.aborted && $0.activeAt <= finishedAt })
            }
            condition.unlock()
            reportAborted(aborted)
            if unhealthy { Counter(label: "host_monitoring.host_unhealthy.count").increment() }
            nextCheck = Self.nextBoundary(after: finishedAt + .milliseconds(100), interval: settings.interval)
        }
    }

    /// Aborts the calls' connections (a socket shutdown, safe under the lock) and returns how
    /// many. Called with the lock held; the caller reports them after unlocking.
    private func abort(_ victims: [Context]) -> Int {
        guard !victims.isEmpty else { return 0 }
        for context in victims {
            context.aborted = true
            driver.abort(context.connection)
        }
        abortedCount += victims.count
        return victims.count
    }

    /// Logs and counts aborted calls, outside the lock: a log handler or metrics backend may block.
    private func reportAborted(_ count: Int) {
        guard count > 0 else { return }
        logger.info("Host unhealthy; aborted monitored connections", metadata: ["count": "\(count)"])
        Counter(label: "efm2.connections.aborted").increment(by: count)
    }

    /// One check: opens the monitoring connection if there is none (success counts as healthy),
    /// else runs `SELECT 1`; both within the check timeout.
    private func check() -> Bool {
        let timeout = settings.checkTimeout
        if monitoringConnection == nil {
            var properties = settings.connectionProperties
            let seconds = String(timeout.timeInterval)
            if properties["connect_timeout"] == nil { properties["connect_timeout"] = seconds }
            if properties["socket_timeout"] == nil { properties["socket_timeout"] = seconds }
            do {
                monitoringConnection = try connector.connect(to: settings.host, properties: properties)
                return true
            } catch {
                logger.debug("Monitoring connection failed", metadata: ["error": "\(WrapperError.redactedDescription(of: error))"])
                return false
            }
        }
        guard let connection = monitoringConnection else { return false }
        // The driver's own timeouts may be coarse (whole seconds for MariaDB); a watchdog aborts
        // the check at its limit whatever the driver.
        // `settled` is taken by whichever comes first: the check's end or the watchdog.
        let settled = LockedValue(false)
        let driver = self.driver
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout.timeInterval) {
            let fire = settled.withLock { settled -> Bool in
                defer { settled = true }
                return !settled
            }
            if fire { driver.abort(connection) }
        }
        var answered = true
        do { _ = try driver.query("SELECT 1", on: connection) } catch { answered = false }
        let inTime = settled.withLock { settled -> Bool in
            defer { settled = true }
            return !settled
        }
        if answered && inTime { return true }
        // Too late or failed: the connection may be cut; the next check opens a new one.
        driver.close(connection)
        monitoringConnection = nil
        return false
    }

    /// The first multiple of `interval` on the wall clock at or after `instant`. Checks keep this
    /// cadence (as the reference buckets its contexts by whole seconds), so their phase does not
    /// follow when the monitored calls began.
    static func nextBoundary(after instant: ContinuousClock.Instant, interval: Duration) -> ContinuousClock.Instant {
        let step = interval.timeInterval
        let now = ContinuousClock.now
        let lead = instant - now
        let wall = Date().timeIntervalSince1970 + lead.timeInterval
        let boundary = (wall / step).rounded(.up) * step
        return instant + .nanoseconds(Int64((boundary - wall) * 1e9))
    }

    private func date(_ instant: ContinuousClock.Instant) -> Date {
        let remaining = instant - .now
        return Date(timeIntervalSinceNow: remaining.timeInterval)
    }
}

/// The host monitors of a runtime, one per host and settings; stopped monitors are replaced.
public final class HostMonitors: RuntimeService {
    private let monitors = LockedValue<[String: HostMonitor]>([:])

    /// Creates an empty set.
    public init() {}

    /// The host monitors of `runtime`.
    public static func of(_ runtime: WrapperRuntime) -> HostMonitors {
        runtime.services.service(HostMonitors.self) { HostMonitors() }
    }

    /// The running monitor for `settings`, created with `make` when there is none.
    func monitor(for settings: HostMonitor.Settings, make: () -> HostMonitor) -> HostMonitor {
        monitors.withLock { monitors in
            let key = settings.key
            if let existing = monitors[key], existing.isRunning { return existing }
            // Drop monitors whose thread ended after their idle time.
            monitors = monitors.filter { $0.value.isRunning }
            let created = make()
            monitors[key] = created
            return created
        }
    }

    /// How many monitors run.
    public var count: Int { monitors.withLock { $0.values.filter(\.isRunning).count } }

    /// Every monitor, for inspection.
    public var all: [HostMonitor] { monitors.withLock { Array($0.values) } }

    public func shutdown() {
        let all = monitors.withLock { monitors -> [HostMonitor] in
            defer { monitors.removeAll() }
            return Array(monitors.values)
        }
        all.forEach { $0.shutdown() }
    }
}
