import Foundation

/// The dedicated threads of the async API: the C libraries' calls block, so async callers never
/// run them on the Swift concurrency pool.
///
/// **Model.** A thread per running call, started on demand up to ``maxThreads`` and ended after
/// ``idleTimeout`` without work, so a hung call (a frozen server) holds one thread and nothing that
/// other connections need. When ``maxThreads`` calls run at once, further calls wait in a queue for
/// at most ``queueTimeout`` and then fail with ``WrapperError/Code/timeout`` (back-pressure instead
/// of an unbounded queue). Each connection serves one caller at a time, so ``maxThreads`` is the
/// number of connections that can run async calls at the same moment.
public final class BlockingExecutor: @unchecked Sendable {
    private struct Job {
        let id: UInt64
        let run: @Sendable () -> Void
        let expire: @Sendable () -> Void
    }

    // Guarded by `condition`.
    private var queue: [Job] = []
    private var nextID: UInt64 = 0
    private var threads = 0
    private var idle = 0
    private var stopping = false
    private let condition = NSCondition()
    /// The most threads that run calls at once.
    public let maxThreads: Int
    /// How long a thread waits for work before it ends.
    public let idleTimeout: Duration
    /// How long a call waits for a thread when all are busy.
    public let queueTimeout: Duration

    /// Creates an executor; threads start on first use.
    public init(maxThreads: Int = 64, idleTimeout: Duration = .seconds(30), queueTimeout: Duration = .seconds(30)) {
        self.maxThreads = max(1, maxThreads)
        self.idleTimeout = idleTimeout
        self.queueTimeout = queueTimeout
    }

    /// How many threads run now (busy or idle).
    public var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    /// Runs `body` on one of the executor's threads and returns its result.
    ///
    /// - Throws: what `body` throws; ``WrapperError/Code/timeout`` when no thread was free within
    ///   ``queueTimeout``; ``WrapperError/Code/connectionClosed`` after ``shutdown()``.
    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let limit = maxThreads
            let job = { (id: UInt64) in
                Job(id: id, run: { continuation.resume(with: Swift.Result { try body() }) }, expire: {
                    continuation.resume(throwing: WrapperError(
                        .timeout, "All \(limit) threads of the async API were busy for the queue timeout; use fewer connections at once or raise maxThreads."))
                })
            }
            switch enqueue(job) {
            case .rejected:
                continuation.resume(throwing: WrapperError(.connectionClosed, "The blocking executor was shut down."))
            case .running:
                break
            case .queued(let id):
                DispatchQueue.global().asyncAfter(deadline: .now() + queueTimeout.timeInterval) { [weak self] in
                    self?.expireIfQueued(id)
                }
            }
        }
    }

    /// Starts `job` on one of the executor's threads without waiting for it, for callers that must
    /// not depend on the concurrency pool to get going. `expired` runs instead when no thread was
    /// free within ``queueTimeout``.
    ///
    /// - Returns: `false` after ``shutdown()``; neither closure runs then.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void, expired: @escaping @Sendable () -> Void) -> Bool {
        switch enqueue({ Job(id: $0, run: job, expire: expired) }) {
        case .rejected:
            return false
        case .running:
            return true
        case .queued(let id):
            DispatchQueue.global().asyncAfter(deadline: .now() + queueTimeout.timeInterval) { [weak self] in
                self?.expireIfQueued(id)
            }
            return true
        }
    }

    private enum Admission {
        case rejected
        case running
        case queued(UInt64)
    }

    private func enqueue(_ make: (UInt64) -> Job) -> Admission {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return .rejected }
        nextID += 1
        queue.append(make(nextID))
        if queue.count > idle, threads < maxThreads {
            threads += 1
            let thread = Thread { [self] in work() }
            thread.name = "wrapper-blocking"
            thread.start()
        }
        condition.signal()
        // Every thread is busy: the call waits, under the queue timeout.
        return queue.count > idle && threads >= maxThreads ? .queued(nextID) : .running
    }

    private func expireIfQueued(_ id: UInt64) {
        condition.lock()
        let index = queue.firstIndex { $0.id == id }
        let job = index.map { queue.remove(at: $0) }
        condition.unlock()
        job?.expire()
    }

    private func work() {
        while true {
            condition.lock()
            let idleDeadline = Date(timeIntervalSinceNow: idleTimeout.timeInterval)
            while queue.isEmpty, !stopping {
                idle += 1
                let signalled = condition.wait(until: idleDeadline)
                idle -= 1
                if !signalled, queue.isEmpty { break }
            }
            guard !queue.isEmpty else {
                threads -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            condition.unlock()
            job.run()
        }
    }

    /// Lets queued work finish, then stops the threads; later calls fail. Waits up to `timeout`
    /// for the threads to end and returns whether they all did (a call hung on a frozen server
    /// ends at its own deadline).
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(5)) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout.timeInterval)
        while threads > 0 {
            if !condition.wait(until: deadline) { break }
        }
        return threads == 0
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
