import Logging
import Synchronization

/// A database connection whose every call flows through a plugin chain before it reaches the driver.
///
/// Open one from a URL or keyword/value string carrying wrapper properties, with plugins named in
/// `plugins` (through a ``PluginRegistry``) or declared as a static ``PluginChain``.
///
/// **Threading.** A connection serves one caller at a time: a call made while another is running
/// fails at once with ``WrapperError/Code/concurrentUse`` instead of corrupting the C library's
/// state. ``abort()`` is the exception: it may be called from any thread to interrupt a running call.
public final class WrapperConnection: Sendable {
    /// The per-connection service the plugins see.
    public let service: PluginService
    @usableFromInline let chain: ErasedChain
    @usableFromInline let busy = Atomic<Bool>(false)
    @usableFromInline let closed = Atomic<Bool>(false)

    /// Opens a connection with the plugins named in its properties (`plugins` or `profile_name`).
    ///
    /// - Parameters:
    ///   - connectionString: a URL (`postgresql://user@host/db?plugins=...`) or keyword/value pairs.
    ///   - properties: more properties; they override the string's.
    ///   - driver: the driver dialect to connect with.
    ///   - registry: where plugin codes are looked up.
    ///   - logger: where the wrapper and its plugins log.
    public static func open(
        _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
        registry: PluginRegistry, logger: Logger = .wrapperNoOp
    ) throws -> WrapperConnection {
        let merged = try registry.effectiveProperties(ConnectionString.properties(from: connectionString).merging(properties))
        let chain = try registry.chain(for: merged, driver: driver, logger: logger)
        return try WrapperConnection(properties: merged, driver: driver, chain: ErasedChain(chain),
                                     runtime: registry.runtime, logger: logger)
    }

    /// Opens a connection whose plugins are declared with a result builder. The `plugins` property
    /// is ignored; embed `registry.chain(for:driver:)` in the builder to add plugins by name.
    @inlinable
    public static func open<Body: Plugin>(
        _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
        registry: PluginRegistry, logger: Logger = .wrapperNoOp, @PluginChainBuilder plugins: () throws -> Body
    ) throws -> WrapperConnection {
        let chain = try PluginChain(plugins)
        return try open(connectionString, properties: properties, driver: driver, chain: chain,
                        runtime: registry.runtime, logger: logger)
    }

    /// Opens a connection with a chain declared beforehand; one chain value may serve many connections.
    @inlinable
    public static func open<Body: Plugin>(
        _ connectionString: String, properties: Properties = Properties(), driver: any DriverDialect,
        chain: PluginChain<Body>, runtime: WrapperRuntime, logger: Logger = .wrapperNoOp
    ) throws -> WrapperConnection {
        let merged = try ConnectionString.properties(from: connectionString).merging(properties)
        return try WrapperConnection(properties: merged, driver: driver, chain: ErasedChain(chain),
                                     runtime: runtime, logger: logger)
    }

    /// Opens a connection: sets up the host list provider through the chain, refreshes the hosts,
    /// connects to the initial host through the connect pipeline and makes it current.
    public init(
        properties: Properties, driver: any DriverDialect, chain: ErasedChain, runtime: WrapperRuntime,
        logger: Logger = .wrapperNoOp
    ) throws {
        // A typo in a core setting fails the open here, whatever the driver reads later.
        for property in WrapperProperties.validated { try property.validate(in: properties) }
        let service = try PluginService(
            driver: driver, chain: chain, properties: properties, runtime: runtime, logger: logger)
        self.service = service
        self.chain = chain
        let firstHost = try properties.hosts(defaultPort: driver.defaultPort)[0]
        try service.setInitialDialect(host: firstHost)
        try chain.plugin.initHostProvider(properties, service: service) { _ in }
        try service.refreshHostList()
        guard let initialHost = service.initialConnectionHostInfo ?? service.hosts.first else {
            throw WrapperError(.noHostAvailable, "No host to connect to: give host=<name> or a URL with a host.")
        }
        let request = ConnectRequest(host: initialHost, properties: properties, isInitialConnection: true)
        let connection = try chain.plugin.connect(request, service: service) { request, service in
            try service.openOnDriver(request)
        }
        // A plugin may have connected to another host (an instance behind a cluster endpoint).
        let connectedHost = service.initialConnectionHostInfo ?? initialHost
        try service.setCurrentConnection(connection, host: connectedHost)
    }

    // MARK: Calls

    /// Runs any call through the chain. The typed methods below are shorthands for it.
    @inlinable
    public func perform(_ call: MethodCall) throws -> CallResult {
        try withExclusiveAccess { try runChain(call) }
    }

    /// Runs `body` as the connection's one caller; a concurrent caller gets ``WrapperError/Code/concurrentUse``.
    @inlinable
    func withExclusiveAccess<Result>(_ body: () throws -> Result) throws -> Result {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw WrapperError(
                .concurrentUse,
                "The connection is already running a call on another thread; use one connection per thread or a pool.")
        }
        defer { busy.store(false, ordering: .releasing) }
        return try body()
    }

    @inlinable
    func runChain(_ call: MethodCall) throws -> CallResult {
        guard !closed.load(ordering: .relaxed) else {
            throw WrapperError(.connectionClosed, "The connection is closed; open a new one.")
        }
        service.refreshHostListIfStale()
        return try chain.execute(call, service: service) { call, service in try service.performOnDriver(call) }
    }

    /// Runs a statement whose interpolated values are bound, never spliced, and returns its result.
    ///
    /// ```swift
    /// let rows = try connection.execute("SELECT name FROM users WHERE id = \(id)")
    /// ```
    /// Only string literals convert to ``SQLQuery``: SQL text held in a `String` goes through
    /// ``execute(unsafeSQL:binds:)``, whose name says that the text is trusted.
    @discardableResult
    public func execute(_ query: SQLQuery) throws -> QueryResult {
        let (sql, binds) = query.render(placeholder: service.driver.bindPlaceholder(at:))
        return try execute(unsafeSQL: sql, binds: binds)
    }

    /// Runs SQL text as it is, with `binds` for its placeholders (`$1` on PostgreSQL, `?` on MySQL).
    ///
    /// The text is sent to the server unchanged: never build it from values you did not write
    /// yourself. Interpolate them into ``execute(_:)`` instead, which binds them.
    @discardableResult
    public func execute(unsafeSQL sql: String, binds: [DatabaseValue] = []) throws -> QueryResult {
        try perform(MethodCall(.cursorExecute, sql: sql, binds: binds)).queryResult()
    }

    /// Commits the open transaction.
    public func commit() throws { _ = try perform(MethodCall(.connectionCommit)) }

    /// Rolls back the open transaction.
    public func rollback() throws { _ = try perform(MethodCall(.connectionRollback)) }

    /// Whether autocommit is on.
    public func autocommit() throws -> Bool { try perform(MethodCall(.connectionAutocommit)).boolValue() }

    /// Turns autocommit on or off; the setting is carried to a new connection after a switch.
    public func setAutocommit(_ on: Bool) throws { try changeSession(.autocommit(on), .connectionAutocommitSetter) }

    /// Whether the connection is read-only.
    public func isReadOnly() throws -> Bool { try perform(MethodCall(.connectionIsReadOnly)).boolValue() }

    /// Makes the connection read-only or read-write; carried to a new connection after a switch.
    public func setReadOnly(_ on: Bool) throws { try changeSession(.readOnly(on), .connectionSetReadOnly) }

    /// The transaction isolation level.
    public func isolationLevel() throws -> IsolationLevel {
        guard case .session(.isolation(let level)) = try perform(MethodCall(.connectionIsolationLevel)) else {
            throw WrapperError(.internalError, "The driver did not return an isolation level.")
        }
        return level
    }

    /// Sets the transaction isolation level; carried to a new connection after a switch.
    public func setIsolationLevel(_ level: IsolationLevel) throws {
        try changeSession(.isolation(level), .connectionSetIsolationLevel)
    }

    /// The current schema (PostgreSQL) or database (MySQL).
    public func schema() throws -> String {
        guard case .session(.schema(let schema)) = try perform(MethodCall(.connectionSchema)) else {
            throw WrapperError(.internalError, "The driver did not return a schema.")
        }
        return schema
    }

    /// Sets the current schema or database; carried to a new connection after a switch.
    public func setSchema(_ schema: String) throws { try changeSession(.schema(schema), .connectionSetSchema) }

    /// Checks that the server answers.
    public func ping() throws { _ = try perform(MethodCall(.connectionPing)) }

    private func changeSession(_ value: SessionValue, _ method: PluginMethod) throws {
        try withExclusiveAccess {
            try service.capturePristine(value.kind)
            _ = try runChain(MethodCall(method, argument: value))
            service.recordSessionChange(value)
        }
    }

    /// Whether a transaction is open, from the state of the last reply (no round trip).
    public var isInTransaction: Bool { service.isInTransaction }

    /// The host of the current connection.
    public var currentHost: HostInfo? { service.currentHostInfo }

    // MARK: Lifecycle

    /// Closes the connection through the chain and releases the plugins' resources. Closing twice
    /// does nothing. The physical connection is closed even when a plugin's close hook fails.
    public func close() throws {
        try withExclusiveAccess {
            guard !closed.load(ordering: .acquiring) else { return }
            let current = service.currentConnection
            defer {
                closed.store(true, ordering: .releasing)
                chain.plugin.releaseResources()
                // Also an aborted or broken handle: closing frees it on this, the owning, thread.
                if let current { service.driver.close(current) }
                service.clearCurrentConnection()
                service.detachFromMonitor()
            }
            _ = try runChain(MethodCall(.connectionClose))
        }
    }

    /// Whether ``close()`` was called or the driver reports the connection closed (no round trip).
    public var isClosed: Bool {
        guard !closed.load(ordering: .acquiring), let connection = service.currentConnection else { return true }
        return service.driver.isClosed(connection)
    }

    /// Interrupts the running call from any thread by shutting the socket down; the call fails with
    /// a network error and the owning thread finishes the connection.
    public func abort() {
        guard let connection = service.currentConnection else { return }
        service.driver.abort(connection)
    }

    /// The first plugin of `type` in the chain, if there is one.
    public func plugin<P: Plugin>(_ type: P.Type) -> P? { chain.plugin.plugin(ofType: type) }
}
