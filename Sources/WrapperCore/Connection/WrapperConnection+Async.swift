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
        public func open(
            _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
            registry: PluginRegistry, logger: Logger = .wrapperNoOp
        ) async throws -> WrapperConnection {
            try Task.checkCancellation()
            return try await registry.runtime.executor.run {
                try WrapperConnection.open(connectionString, properties: properties, driver: driver, registry: registry, logger: logger)
            }
        }
    }
}
