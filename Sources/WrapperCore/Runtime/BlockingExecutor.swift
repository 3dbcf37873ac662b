import Foundation

/// A small pool of dedicated threads for the C libraries' blocking calls, so that async callers
/// never block the Swift concurrency pool.
///
/// Threads start on first use and stop on ``shutdown()``.
public final class BlockingExecutor: @unchecked Sendable {
    // Guarded by `condition`.
    private var queue: [@Sendable () -> Void] = []
    private var started = false
    private var stopping = false
    private let condition = NSCondition()
    /// How many threads run blocking calls.
    public let threadCount: Int

    /// Creates an executor with `threadCount` threads.
    public init(threadCount: Int = 8) {
        self.threadCount = max(1, threadCount)
    }

    /// Runs `body` on one of the executor's threads and returns its result.
    ///
    /// - Throws: what `body` throws, or ``WrapperError/Code/connectionClosed`` after ``shutdown()``.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = enqueue {
                continuation.resume(with: Swift.Result { try body() })
            }
            if !accepted {
                continuation.resume(throwing: WrapperError(.connectionClosed, "The blocking executor was shut down."))
            }
        }
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        if !started {
            started = true
            for index in 0..<threadCount {
                let thread = Thread { [unowned self] in self.work() }
                thread.name = "wrapper-blocking-\(index)"
                thread.start()
            }
        }
        queue.append(job)
        condition.signal()
        return true
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty, !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Lets queued work finish, then stops the threads; later calls fail.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Long-lived resources shared by the connections of a registry: host selection strategies (with
/// their round-robin positions), the executor of the async API, the name resolver, and the
/// topology monitors (one per cluster id).
public final class WrapperRuntime: Sendable {
    /// Host selection strategies by name.
    public let hostSelectors: HostSelectors
    /// Threads for the async API.
    public let executor: BlockingExecutor
    /// How host names become addresses.
    public let resolver: any HostResolver
    /// Topology monitors, one per cluster id.
    public let topologyMonitors: TopologyMonitors
    /// Database dialects, and what detection learned about endpoints.
    public let databaseDialects: DatabaseDialects
    /// Other shared machinery, one instance per type (token and secret caches, host monitors).
    public let services: RuntimeServices

    /// Creates a runtime.
    ///
    /// - Parameter topologyMonitorDisposal: how long a cluster's topology monitor (its thread and
    ///   monitoring connection) outlives the last connection that used it (15 minutes; tests set seconds).
    public init(
        hostSelectors: HostSelectors = HostSelectors(), executor: BlockingExecutor = BlockingExecutor(),
        resolver: any HostResolver = SystemResolver(), topologyMonitorDisposal: Duration = .seconds(900)
    ) {
        self.hostSelectors = hostSelectors
        self.executor = executor
        self.resolver = resolver
        self.topologyMonitors = TopologyMonitors(disposalTime: topologyMonitorDisposal)
        self.databaseDialects = DatabaseDialects()
        self.services = RuntimeServices()
    }

    /// Stops the runtime's threads and monitors.
    public func shutdown() {
        services.shutdown()
        topologyMonitors.shutdown()
        executor.shutdown()
    }
}
