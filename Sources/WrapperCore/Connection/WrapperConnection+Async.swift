extension WrapperConnection {
    /// Runs a blocking operation on the runtime's dedicated threads, never on the Swift
    /// concurrency pool. Cancelling the task aborts the running statement: the connection's socket
    /// is shut down, the call fails with a network error and the connection must be replaced.
    public func async<Result: Sendable>(_ operation: @escaping @Sendable (WrapperConnection) throws -> Result) async throws -> Result {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await service.runtime.executor.run { try operation(self) }
        } onCancel: {
            self.abort()
        }
    }

    /// Async ``execute(_:_:)``.
    @discardableResult
    public func execute(_ sql: String, _ binds: [DatabaseValue] = []) async throws -> QueryResult {
        try await async { try $0.execute(sql, binds) }
    }

    /// Async ``execute(_:)-(SQLQuery)``.
    @discardableResult
    public func execute(_ query: SQLQuery) async throws -> QueryResult {
        try await async { try $0.execute(query) }
    }

    /// Async ``commit()``.
    public func commit() async throws { try await async { try $0.commit() } }

    /// Async ``rollback()``.
    public func rollback() async throws { try await async { try $0.rollback() } }

    /// Async ``close()``.
    public func close() async throws { try await async { try $0.close() } }

    /// Opens a connection on the runtime's threads.
    public static func open(
        _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
        registry: PluginRegistry
    ) async throws -> WrapperConnection {
        try await registry.runtime.executor.run {
            try WrapperConnection.open(connectionString, properties: properties, driver: driver, registry: registry)
        }
    }
}
