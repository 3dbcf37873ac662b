/// An open physical connection of a C client library, opaque to plugins.
///
/// Plugins never see libpq or MariaDB types; they hold `any DriverConnection` and hand it back to
/// the ``DriverDialect`` that made it. Conformers are classes that own their C handle; every call
/// except ``DriverDialect/abort(_:)`` comes from one thread at a time.
public protocol DriverConnection: AnyObject, Sendable {
    /// Who the connection logged in as and which database it opened, as the driver connected
    /// (after authentication plugins replaced the user); `nil` when the driver does not know.
    var identity: ConnectionIdentity? { get }
}

extension DriverConnection {
    /// The driver does not know: callers fall back to the wrapper connection's properties.
    public var identity: ConnectionIdentity? { nil }
}

/// The user and database of an open physical connection.
public struct ConnectionIdentity: Sendable, Hashable {
    /// The user the connection authenticated as.
    public var user: String
    /// The database (PostgreSQL) or default schema (MySQL) it opened, if any.
    public var database: String?

    /// Creates an identity.
    public init(user: String, database: String?) {
        self.user = user
        self.database = database
    }
}

/// How the dialect classifies an error, so that plugins react without knowing the driver.
public struct ErrorClassification: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The host is unreachable or the connection broke: a failover trigger.
    public static let network = ErrorClassification(rawValue: 1)
    /// The credentials were rejected.
    public static let login = ErrorClassification(rawValue: 2)
    /// A write hit a read-only host.
    public static let readOnly = ErrorClassification(rawValue: 4)
}

/// A client library behind the wrapper: how to connect, run a call, read session state, classify
/// errors and abort a connection from another thread.
///
/// Requirements beyond the essentials have conservative defaults (the sql-kit `SQLDialect`
/// pattern), so adding one later breaks no conformer.
public protocol DriverDialect: Sendable {
    /// A short code: `libpq`, `mariadb`, `in-memory`.
    var code: String { get }
    /// The port used when a host has none.
    var defaultPort: Int { get }
    /// The calls that touch the network; failover and monitoring subscribe to these.
    var networkBoundMethods: PluginMethods { get }
    /// Whether ``abort(_:)`` can interrupt a call in progress.
    var supportsAbort: Bool { get }
    /// Which SQL the servers of this library speak.
    var databaseFamily: DatabaseFamily { get }

    /// Opens a connection to `host` with `properties` (wrapper properties already mapped by the dialect).
    func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection
    /// Runs one call: the terminal step of every execute pipeline.
    func perform(_ call: MethodCall, on connection: any DriverConnection) throws -> CallResult
    /// Whether the connection is closed.
    func isClosed(_ connection: any DriverConnection) -> Bool
    /// Whether a transaction is open.
    func isInTransaction(_ connection: any DriverConnection) -> Bool
    /// Closes the connection from its owning thread.
    func close(_ connection: any DriverConnection)
    /// Interrupts a connection from any thread by shutting its socket down; the owner finishes it.
    func abort(_ connection: any DriverConnection)
    /// Reads a session setting.
    func sessionValue(_ kind: SessionValueKind, of connection: any DriverConnection) throws -> SessionValue
    /// Applies a session setting.
    func apply(_ value: SessionValue, to connection: any DriverConnection) throws
    /// How an error should be treated.
    func classify(_ error: any Error) -> ErrorClassification
    /// The placeholder of the bound parameter at `index` (1-based): `$1` for PostgreSQL, `?` for MySQL.
    func bindPlaceholder(at index: Int) -> String
    /// Runs one of the wrapper's own queries (dialect detection, role checks, topology, monitoring
    /// checks) under `auxiliary_query_timeout_sec` rather than the user's `socket_timeout`.
    func auxiliaryQuery(_ sql: String, on connection: any DriverConnection) throws -> QueryResult
    /// Runs a statement, handing rows to `onRow` as they arrive instead of collecting them.
    func stream(
        _ call: MethodCall, on connection: any DriverConnection, onRow: ([DatabaseValue]) throws -> Void
    ) throws -> QueryResult
    /// Puts a short-lived authentication token (an RDS IAM token) in place of the password, with
    /// what the server needs to receive it safely: TLS at least, and for MySQL the cleartext
    /// authentication plugin that RDS IAM uses.
    func applyAuthenticationToken(_ token: String, to properties: inout Properties)
}

/// Which session setting to read.
public enum SessionValueKind: Sendable, Hashable, CaseIterable {
    /// Autocommit.
    case autocommit
    /// Read-only.
    case readOnly
    /// Isolation level.
    case isolation
    /// Schema or catalog.
    case schema
}

extension DriverDialect {
    /// Sets the token as the password; drivers with TLS options also raise the TLS mode.
    public func applyAuthenticationToken(_ token: String, to properties: inout Properties) {
        properties.set(WrapperProperties.password, token)
    }

    /// `?`, the placeholder of most drivers.
    public func bindPlaceholder(at index: Int) -> String { "?" }

    /// Runs the query as an ordinary statement: drivers with their own deadlines override it.
    public func auxiliaryQuery(_ sql: String, on connection: any DriverConnection) throws -> QueryResult {
        try perform(MethodCall(.cursorExecute, sql: sql), on: connection).queryResult()
    }

    /// Collects the whole result, then hands the rows over one by one.
    public func stream(
        _ call: MethodCall, on connection: any DriverConnection, onRow: ([DatabaseValue]) throws -> Void
    ) throws -> QueryResult {
        var result = try perform(call, on: connection).queryResult()
        for row in result.rows { try onRow(row) }
        result.rows = []
        result.isStreamed = true
        return result
    }

    /// Answers the session-state calls (getting and setting autocommit, read-only, isolation and
    /// schema) through ``sessionValue(_:of:)`` and ``apply(_:to:)``, so every dialect maps them the
    /// same way; `nil` for any other call.
    public func performSessionCall(_ call: MethodCall, on connection: any DriverConnection) throws -> CallResult? {
        switch call.method {
        case .connectionAutocommit:
            guard case .autocommit(let on) = try sessionValue(.autocommit, of: connection) else { return nil }
            return .bool(on)
        case .connectionIsReadOnly:
            guard case .readOnly(let on) = try sessionValue(.readOnly, of: connection) else { return nil }
            return .bool(on)
        case .connectionIsolationLevel:
            return .session(try sessionValue(.isolation, of: connection))
        case .connectionSchema:
            return .session(try sessionValue(.schema, of: connection))
        case .connectionAutocommitSetter, .connectionSetReadOnly, .connectionSetIsolationLevel, .connectionSetSchema:
            guard let value = call.argument else {
                throw WrapperError(.internalError, "\(call.method) was called without a value.")
            }
            try apply(value, to: connection)
            return .void
        default:
            return nil
        }
    }

    /// All methods are network-bound unless the dialect says otherwise.
    public var networkBoundMethods: PluginMethods { .all }
    /// PostgreSQL unless the dialect says otherwise.
    public var databaseFamily: DatabaseFamily { .postgres }

    /// Abort is not supported unless the dialect says so.
    public var supportsAbort: Bool { false }
    /// Nothing is classified unless the dialect knows better.
    public func classify(_ error: any Error) -> ErrorClassification {
        if let error = error as? WrapperError {
            switch error.code {
            case .network, .timeout: return .network
            case .login: return .login
            case .readOnly: return .readOnly
            default: return []
            }
        }
        return []
    }
}

extension SessionValue {
    /// Which kind of setting this is.
    public var kind: SessionValueKind {
        switch self {
        case .autocommit: .autocommit
        case .readOnly: .readOnly
        case .isolation: .isolation
        case .schema: .schema
        }
    }
}
