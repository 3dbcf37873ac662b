import Logging

extension WrapperConnection {
    /// The connection's async API: the same calls, run on the runtime's dedicated threads, never
    /// on the Swift concurrency pool.
    ///
    /// The async calls have their own spelling, so a synchronous call in an async function stays
    /// synchronous and an awaited one is visibly asynchronous:
    /// ```swift
    /// let connection = try await WrapperConnection.async.open(url, driver: PostgresDriver(), registry: .default)
    /// let count = try await connection.async.execute("SELECT count(*) FROM users WHERE team = \(team)")
    /// ```
    /// Cancelling the task aborts the running statement: the connection's socket is shut down, the
    /// call fails with a network error and the connection must be replaced.
    public var async: AsyncCalls { AsyncCalls(connection: self) }

    /// Opens connections asynchronously: `try await WrapperConnection.async.open(...)`.
    public static var async: AsyncOpener { AsyncOpener() }

    /// The async calls of one connection; see ``WrapperConnection/async-swift.property``.
    public struct AsyncCalls: Sendable {
        /// The connection the calls run on.
        public let connection: WrapperConnection

        /// Runs `operation` on the runtime's threads with the connection; cancelling the task aborts it.
        public func run<Result: Sendable>(
            _ operation: @escaping @Sendable (WrapperConnection) throws -> Result
        ) async throws -> Result {
            try Task.checkCancellation()
            let connection = connection
            return try await withTaskCancellationHandler {
                try await connection.service.runtime.executor.run { try operation(connection) }
            } onCancel: {
                connection.abort()
            }
        }

        /// Async ``WrapperConnection/execute(_:)``: interpolated values are bound.
        @discardableResult
        public func execute(_ query: SQLQuery) async throws -> QueryResult {
            try await run { try $0.execute(query) }
        }

        /// Async ``WrapperConnection/execute(unsafeSQL:binds:)``: the text is sent as it is.
        @discardableResult
        public func execute(unsafeSQL sql: String, binds: [DatabaseValue] = []) async throws -> QueryResult {
            try await run { try $0.execute(unsafeSQL: sql, binds: binds) }
        }

        /// Async ``WrapperConnection/withTransaction(_:)``.
        public func withTransaction<Result: Sendable>(
            _ body: @escaping @Sendable (WrapperConnection) throws -> Result
        ) async throws -> Result {
            try await run { try $0.withTransaction(body) }
        }

        /// Async ``WrapperConnection/commit()``.
        public func commit() async throws { try await run { try $0.commit() } }

        /// Async ``WrapperConnection/rollback()``.
        public func rollback() async throws { try await run { try $0.rollback() } }

        /// Async ``WrapperConnection/ping()``.
        public func ping() async throws { try await run { try $0.ping() } }

        /// Async ``WrapperConnection/close()``.
        public func close() async throws { try await run { try $0.close() } }
    }

    /// Opens connections on the runtime's threads; see ``WrapperConnection/async-swift.type.property``.
    public struct AsyncOpener: Sendable {
        /// Async ``WrapperConnection/open(_:properties:driver:registry:logger:)``.
        ///
        /// Cancelling the task returns at once with `CancellationError`. The open already under way
        /// cannot be interrupted inside the C library: it ends on its own thread within its connect
        /// deadline, and a connection it still makes is closed.
        public func open(
            _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
            registry: PluginRegistry, logger: Logger = .wrapperNoOp
        ) async throws -> WrapperConnection {
            try Task.checkCancellation()
            let race = OpenRace()
            let executor = registry.runtime.executor
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    guard race.start(continuation) else { return }
                    // Straight onto the executor's threads: the open must not wait for the concurrency pool.
                    let submitted = executor.submit({
                        do {
                            let connection = try WrapperConnection.open(
                                connectionString, properties: properties, driver: driver, registry: registry, logger: logger)
                            // Nobody waits for it any more: close it rather than leak it.
                            if !race.finish(.success(connection)) { try? connection.close() }
                        } catch {
                            _ = race.finish(.failure(error))
                        }
                    }, expired: {
                        _ = race.finish(.failure(WrapperError(
                            .timeout, "Every thread of the async API was busy for the queue timeout; the open did not start.")))
                    })
                    if !submitted {
                        _ = race.finish(.failure(WrapperError(.connectionClosed, "The runtime was shut down.")))
                    }
                }
            } onCancel: {
                race.cancel()
            }
        }
    }

    /// The outcome of an async open, delivered once: to the caller, or to nobody after a cancel.
    final class OpenRace: Sendable {
        private let state = LockedValue<(continuation: CheckedContinuation<WrapperConnection, any Error>?, cancelled: Bool)>((nil, false))

        /// Installs the caller's continuation; `false` (and the continuation resumed with
        /// `CancellationError`) when the task was cancelled already, so the open is not started.
        func start(_ continuation: CheckedContinuation<WrapperConnection, any Error>) -> Bool {
            let cancelled = state.withLock { state -> Bool in
                if !state.cancelled { state.continuation = continuation }
                return state.cancelled
            }
            if cancelled { continuation.resume(throwing: CancellationError()) }
            return !cancelled
        }

        /// Delivers the outcome; `false` when the caller had cancelled.
        func finish(_ result: Result<WrapperConnection, any Error>) -> Bool {
            let continuation = state.withLock { state -> CheckedContinuation<WrapperConnection, any Error>? in
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(with: result)
            return continuation != nil
        }

        func cancel() {
            let continuation = state.withLock { state -> CheckedContinuation<WrapperConnection, any Error>? in
                state.cancelled = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }
}
