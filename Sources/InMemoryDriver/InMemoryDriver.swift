import Synchronization
import WrapperCore

/// A driver dialect that keeps everything in memory, for unit tests of the plugin machinery and for
/// overhead benchmarks. It never stands in for a database in a test that claims to test one.
///
/// Hosts are reachable unless marked down. Statements are answered by a handler (default: `SELECT 1`
/// style statements return one row holding `1`; `BEGIN` opens a transaction). Every connection
/// tracks autocommit, read-only, isolation, schema and transaction state, and counts its calls.
public final class InMemoryDriver: DriverDialect {
    /// Answers a statement.
    public typealias StatementHandler = @Sendable (_ sql: String, _ binds: [DatabaseValue], _ host: HostInfo) throws -> QueryResult

    /// One open connection.
    public final class Connection: DriverConnection, @unchecked Sendable {
        /// The host it is connected to.
        public let host: HostInfo
        /// The properties it was opened with.
        public let properties: Properties
        fileprivate struct Flags {
            var closed = false
            var aborted = false
            var inTransaction = false
            var autocommit = true
            var readOnly = false
            var isolation = IsolationLevel.readCommitted
            var schema = "public"
            var callCount = 0
        }

        // The owner thread and an aborting or observing thread both touch these.
        fileprivate let flags = LockedValue(Flags())

        init(host: HostInfo, properties: Properties) {
            self.host = host
            self.properties = properties
        }

        /// Whether the connection was closed.
        public var isClosed: Bool { flags.withLock { $0.closed } }
        /// Whether the connection was aborted from another thread.
        public var wasAborted: Bool { flags.withLock { $0.aborted } }
        /// How many calls reached this connection.
        public var callCount: Int { flags.withLock { $0.callCount } }
        fileprivate func markClosed() { flags.withLock { $0.closed = true } }
        fileprivate func markAborted() { flags.withLock { $0.aborted = true; $0.closed = true } }
    }

    private struct State {
        var downHosts: Set<String> = []
        var opened: [Connection] = []
    }

    private let state = LockedValue(State())
    private let handler: StatementHandler
    /// The port used when a host has none.
    public let defaultPort: Int
    /// The methods treated as network-bound.
    public let networkBoundMethods: PluginMethods

    private let retainsConnections: Bool

    /// Creates a driver. With `retainsConnections` false, ``openedConnections`` stays empty, so a
    /// benchmark that connects millions of times does not grow.
    public init(
        defaultPort: Int = 5432, networkBoundMethods: PluginMethods = .all, retainsConnections: Bool = true,
        handler: StatementHandler? = nil
    ) {
        self.defaultPort = defaultPort
        self.retainsConnections = retainsConnections
        self.networkBoundMethods = networkBoundMethods
        let answer = handler ?? { _, _, _ in QueryResult(columns: ["?column?"], rows: [[.integer(1)]]) }
        self.handler = { sql, binds, host in
            // A plain server: the cluster catalogs that dialect detection probes do not exist.
            for marker in ["rds_tools", "aurora_", "rds_topology", "pg_settings", "replica_host_status", "pg_catalog.pg_proc", "VERSION()", "SHOW VARIABLES"] where sql.contains(marker) {
                throw WrapperError(.driver, "relation \"\(marker)\" does not exist", sqlState: "42P01")
            }
            return try answer(sql, binds, host)
        }
    }

    public var code: String { "in-memory" }
    public var supportsAbort: Bool { true }

    /// Makes a host refuse connections (network error) until ``bringUp(_:)``.
    public func takeDown(_ host: String) { state.withLock { _ = $0.downHosts.insert(host) } }
    /// Makes a host reachable again.
    public func bringUp(_ host: String) { state.withLock { _ = $0.downHosts.remove(host) } }
    /// Every connection opened so far.
    public var openedConnections: [Connection] { state.withLock { $0.opened } }

    public func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection {
        try state.withLock { state in
            if state.downHosts.contains(host.host) {
                throw WrapperError(.network, "Could not connect to \(host.hostAndPort): host is down.", sqlState: "08001")
            }
            if properties["password"] == "wrong" {
                throw WrapperError(.login, "Authentication failed for user '\(properties["user"] ?? "")'.", sqlState: "28P01")
            }
            let connection = Connection(host: host, properties: properties)
            if retainsConnections { state.opened.append(connection) }
            return connection
        }
    }

    public func perform(_ call: MethodCall, on driverConnection: any DriverConnection) throws -> CallResult {
        let connection = try own(driverConnection)
        if connection.wasAborted {
            throw WrapperError(.network, "The connection was aborted.", sqlState: "08006")
        }
        if connection.isClosed, call.method != .connectionClose, call.method != .connectionIsClosed {
            throw WrapperError(.connectionClosed, "The connection is closed.")
        }
        if state.withLock({ $0.downHosts.contains(connection.host.host) }) {
            throw WrapperError(.network, "Lost the connection to \(connection.host.hostAndPort).", sqlState: "08006")
        }
        connection.flags.withLock { $0.callCount += 1 }
        if let result = try performSessionCall(call, on: connection) { return result }
        switch call.method {
        case .cursorExecute, .cursorExecuteMany:
            let upper = call.sql.uppercased()
            if upper.hasPrefix("BEGIN") || upper.hasPrefix("START TRANSACTION") {
                connection.flags.withLock { $0.inTransaction = true }
                return .rows(.empty)
            }
            let flags = connection.flags.withLock { $0 }
            if flags.readOnly, upper.hasPrefix("INSERT") || upper.hasPrefix("UPDATE") || upper.hasPrefix("DELETE") {
                throw WrapperError(.readOnly, "cannot execute \(upper.prefix(6)) in a read-only transaction", sqlState: "25006")
            }
            if !flags.autocommit { connection.flags.withLock { $0.inTransaction = true } }
            return .rows(try handler(call.sql, call.binds, connection.host))
        case .connectionCommit, .connectionRollback:
            connection.flags.withLock { $0.inTransaction = false }
            return .void
        case .connectionIsClosed: return .bool(connection.isClosed)
        case .connectionClose:
            connection.markClosed()
            return .void
        case .connectionPing: return .void
        default:
            throw WrapperError(.unsupportedOperation, "The in-memory driver does not implement \(call.method).")
        }
    }

    public func isClosed(_ connection: any DriverConnection) -> Bool {
        (connection as? Connection)?.isClosed ?? true
    }

    public func isInTransaction(_ connection: any DriverConnection) -> Bool {
        (connection as? Connection)?.flags.withLock { $0.inTransaction } ?? false
    }

    public func close(_ connection: any DriverConnection) { (connection as? Connection)?.markClosed() }

    public func abort(_ connection: any DriverConnection) { (connection as? Connection)?.markAborted() }

    public func sessionValue(_ kind: SessionValueKind, of driverConnection: any DriverConnection) throws -> SessionValue {
        let flags = try live(driverConnection).flags.withLock { $0 }
        switch kind {
        case .autocommit: return .autocommit(flags.autocommit)
        case .readOnly: return .readOnly(flags.readOnly)
        case .isolation: return .isolation(flags.isolation)
        case .schema: return .schema(flags.schema)
        }
    }

    public func apply(_ value: SessionValue, to driverConnection: any DriverConnection) throws {
        try live(driverConnection).flags.withLock { flags in
            switch value {
            case .autocommit(let on): flags.autocommit = on
            case .readOnly(let on): flags.readOnly = on
            case .isolation(let level): flags.isolation = level
            case .schema(let schema): flags.schema = schema
            }
        }
    }

    private func own(_ connection: any DriverConnection) throws -> Connection {
        guard let connection = connection as? Connection else {
            throw WrapperError(.internalError, "A connection of another driver was passed to the in-memory driver.")
        }
        return connection
    }

    private func live(_ connection: any DriverConnection) throws -> Connection {
        let connection = try own(connection)
        if connection.wasAborted { throw WrapperError(.network, "The connection was aborted.", sqlState: "08006") }
        return connection
    }
}
