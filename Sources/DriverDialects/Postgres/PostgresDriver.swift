import CLibPQ
import Foundation
import Synchronization
import WrapperCore

/// The PostgreSQL driver dialect over libpq.
///
/// Connects with `PQconnectStartParams`/`PQconnectPoll` under its own deadline (`connect_timeout`,
/// fractions allowed, unlike libpq's whole seconds), runs statements through the extended protocol
/// (`PQsendQueryParams`: bound parameters, an unnamed prepared statement) under `socket_timeout`,
/// streams rows in single-row mode, and aborts from any thread by shutting the socket down.
public struct PostgresDriver: DriverDialect {
    /// Creates the dialect.
    public init() {}

    public var code: String { "libpq" }
    public var defaultPort: Int { 5432 }
    public var supportsAbort: Bool { true }

    public var networkBoundMethods: PluginMethods {
        [.connectionCommit, .connectionAutocommit, .connectionAutocommitSetter, .connectionIsReadOnly,
         .connectionSetReadOnly, .connectionRollback, .connectionClose, .connectionCursor, .cursorClose,
         .cursorCallProc, .cursorExecute, .cursorExecuteMany, .cursorFetchOne, .cursorFetchMany, .cursorFetchAll,
         .connectionIsolationLevel, .connectionSetIsolationLevel, .connectionSchema, .connectionSetSchema, .connectionPing]
    }

    // MARK: Connecting

    public func applyAuthenticationToken(_ token: String, to properties: inout Properties) {
        DriverProperties.applyToken(token, to: &properties)
    }

    /// The libpq keywords for a host and the wrapper properties.
    func connectionKeywords(host: HostInfo, properties: Properties) throws -> [(String, String)] {
        var keywords: [(String, String)] = [
            ("host", host.host), ("port", String(try host.connectPort(default: defaultPort))),
            // The decoders rely on UTF-8 text, ISO dates and round-trip float precision.
            ("client_encoding", "UTF8"), ("options", "-c DateStyle=ISO -c extra_float_digits=3"),
        ]
        // An address needs no name lookup, which libpq's connect timeout would not cover; a name
        // the wrapper resolved keeps `host` for TLS verification.
        if let address = properties[PluginService.resolvedAddressKey] {
            keywords.append(("hostaddr", address))
            // libpq pairs hosts with addresses one to one.
            let count = address.split(separator: ",").count
            if count > 1 { keywords[0].1 = Array(repeating: host.host, count: count).joined(separator: ",") }
        } else if RdsURL.isIPAddress(host.host) {
            keywords.append(("hostaddr", host.host))
        }
        if let user = try properties.value(WrapperProperties.user) { keywords.append(("user", user)) }
        if let password = try properties.value(WrapperProperties.password) { keywords.append(("password", password)) }
        if let database = try properties.value(WrapperProperties.database) { keywords.append(("dbname", database)) }
        if let keepalive = try properties.value(WrapperProperties.tcpKeepalive) {
            keywords.append(("keepalives", keepalive ? "1" : "0"))
        }
        if let idle = try properties.value(WrapperProperties.tcpKeepaliveTime) { keywords.append(("keepalives_idle", String(idle))) }
        if let interval = try properties.value(WrapperProperties.tcpKeepaliveInterval) {
            keywords.append(("keepalives_interval", String(interval)))
        }
        if let count = try properties.value(WrapperProperties.tcpKeepaliveProbes) { keywords.append(("keepalives_count", String(count))) }
        let mode = try properties.value(DriverProperties.sslMode)
        keywords.append(("sslmode", mode.rawValue))
        if let ca = try properties.value(DriverProperties.sslCA) { keywords.append(("sslrootcert", ca)) }
        if let cert = try properties.value(DriverProperties.sslCert) { keywords.append(("sslcert", cert)) }
        if let key = try properties.value(DriverProperties.sslKey) { keywords.append(("sslkey", key)) }
        if (mode == .verifyCA || mode == .verifyFull), try properties.value(DriverProperties.sslCA) == nil {
            throw WrapperError(.invalidProperty, "ssl_mode=\(mode.rawValue) needs ssl_ca: the path of the CA certificate that signed the server's.")
        }
        keywords.append(("application_name", try properties.value(DriverProperties.applicationName)))
        // The wrapper enforces the connect deadline itself; libpq's own is a floor of 2 s.
        return keywords
    }

    public func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection {
        let deadline = SocketWait.deadline(after: try WrapperProperties.connectDeadlineSeconds(properties))
        var properties = properties
        // The name is resolved under the deadline too; libpq then connects to the address and
        // keeps the name for TLS verification.
        // Every address is given, so libpq still tries the next one when the first is unreachable.
        if properties[PluginService.resolvedAddressKey] == nil, let addresses = try DeadlineResolver.addresses(of: host.host, until: deadline) {
            properties[PluginService.resolvedAddressKey] = addresses.joined(separator: ",")
        }
        let keywords = try connectionKeywords(host: host, properties: properties)
        let statementTimeout = try properties.value(WrapperProperties.socketTimeout)
        let auxiliaryTimeout = Double(try properties.value(WrapperProperties.auxiliaryQueryTimeoutSec))
        let handle = try withCStrings(keywords.map(\.0)) { keys in
            try withCStrings(keywords.map(\.1)) { values -> OpaquePointer in
                guard let handle = PQconnectStartParams(keys, values, 0) else {
                    throw WrapperError(.driver, "libpq could not allocate a connection (out of memory).")
                }
                return handle
            }
        }
        do {
            try completeConnect(handle, host: host, deadline: deadline)
        } catch {
            PQfinish(handle)
            throw error
        }
        // Non-blocking, so that sending a large statement to a frozen server also obeys the deadline.
        PQsetnonblocking(handle, 1)
        return PostgresConnection(handle: handle, host: host, statementTimeout: statementTimeout, auxiliaryTimeout: auxiliaryTimeout)
    }

    private func completeConnect(_ handle: OpaquePointer, host: HostInfo, deadline: ContinuousClock.Instant?) throws {
        if PQstatus(handle) == CONNECTION_BAD { throw connectError(handle, host) }
        var status = PGRES_POLLING_WRITING
        while true {
            switch status {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_FAILED:
                throw connectError(handle, host)
            case PGRES_POLLING_READING, PGRES_POLLING_WRITING:
                do {
                    try SocketWait.wait(PQsocket(handle), for: status == PGRES_POLLING_READING ? .read : .write,
                                        until: deadline, what: "Connecting to \(host.hostAndPort)")
                } catch let error as WrapperError where error.code == .timeout {
                    throw WrapperError(.timeout, "\(error.message) Raise connect_timeout if the server is slow to answer.")
                }
            default:
                break
            }
            status = PQconnectPoll(handle)
        }
    }

    private func connectError(_ handle: OpaquePointer, _ host: HostInfo) -> WrapperError {
        let message = SecretRedactor.redact(String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))
        let lower = message.lowercased()
        if lower.contains("password authentication failed") || lower.contains("no password supplied")
            || lower.contains("pam authentication failed") || lower.contains("no pg_hba.conf entry")
            || (lower.contains("does not exist") && lower.contains("role"))
        {
            return WrapperError(.login, "Login to \(host.hostAndPort) failed: \(message)", sqlState: "28P01")
        }
        if lower.contains("does not exist") && lower.contains("database") {
            return WrapperError(.driver, "Could not open the database on \(host.hostAndPort): \(message)", sqlState: "3D000")
        }
        if lower.contains("certificate") || lower.contains("sslmode") || lower.contains("ssl is not enabled")
            || lower.contains("server does not support ssl")
        {
            return WrapperError(.driver, "TLS with \(host.hostAndPort) failed: \(message)", sqlState: "08001")
        }
        return WrapperError(.network, "Could not connect to \(host.hostAndPort): \(message)", sqlState: "08001")
    }

    // MARK: Calls

    public func perform(_ call: MethodCall, on driverConnection: any DriverConnection) throws -> CallResult {
        let connection = try own(driverConnection)
        if let result = try performSessionCall(call, on: connection) { return result }
        switch call.method {
        case .cursorExecute, .cursorExecuteMany, .cursorFetchAll:
            try beginIfNeeded(connection)
            return .rows(try run(connection, call.sql, call.binds))
        case .connectionCommit:
            let status = connection.transactionStatus
            if status == PQTRANS_INERROR {
                // COMMIT would silently roll back: say so instead.
                _ = try run(connection, "ROLLBACK", [])
                throw WrapperError(.driver, "The transaction was aborted by an earlier error and has been rolled back; nothing was committed.", sqlState: "25P02")
            }
            if status != PQTRANS_IDLE { _ = try run(connection, "COMMIT", []) }
            return .void
        case .connectionRollback:
            if connection.transactionStatus != PQTRANS_IDLE { _ = try run(connection, "ROLLBACK", []) }
            return .void
        case .connectionPing:
            _ = try run(connection, "SELECT 1", [])
            return .void
        case .connectionClose:
            connection.finish()
            return .void
        case .connectionIsClosed:
            return .bool(connection.isClosed)
        default:
            throw WrapperError(.unsupportedOperation, "The PostgreSQL driver does not implement \(call.method).")
        }
    }

    public func bindPlaceholder(at index: Int) -> String { "$\(index)" }

    /// Runs a statement in single-row mode, calling `onRow` for each row as it arrives.
    public func stream(
        _ call: MethodCall, on driverConnection: any DriverConnection, onRow: ([DatabaseValue]) throws -> Void
    ) throws -> QueryResult {
        let (sql, binds) = (call.sql, call.binds)
        let connection = try own(driverConnection)
        try beginIfNeeded(connection)
        var result = try withoutActuallyEscaping(onRow) { onRow in try run(connection, sql, binds, onRow: onRow) }
        result.isStreamed = true
        return result
    }

    private func beginIfNeeded(_ connection: PostgresConnection) throws {
        if !connection.autocommit, connection.transactionStatus == PQTRANS_IDLE {
            _ = try run(connection, "BEGIN", [])
        }
    }

    /// Runs a statement. `auxiliary` statements are the wrapper's own (session state, checks, the
    /// dialects' and monitors' queries): they wait `auxiliary_query_timeout_sec` for the server, not
    /// the user's `socket_timeout`, so a server that accepts and then freezes cannot hold them.
    func run(
        _ connection: PostgresConnection, _ sql: String, _ binds: [DatabaseValue], auxiliary: Bool = false,
        onRow: (([DatabaseValue]) throws -> Void)? = nil
    ) throws -> QueryResult {
        guard !connection.wasAborted else { throw abortedError(connection) }
        // libpq takes the statement as a C string: a NUL would silently drop the rest of it.
        guard !sql.utf8.contains(0) else {
            throw WrapperError(.invalidBind, "The SQL text contains a NUL character (U+0000), which PostgreSQL cannot receive; remove it.")
        }
        let handle = connection.handle
        // Without parameters the simple protocol does the same in fewer messages.
        let sent = binds.isEmpty
            ? PQsendQuery(handle, sql)
            : try PostgresBinds.withParameters(binds) { count, values, lengths, formats in
                PQsendQueryParams(handle, sql, count, nil, values, lengths, formats, 0)
            }
        guard sent == 1 else { throw failure(connection, result: nil) }
        let limit = auxiliary ? connection.auxiliaryTimeout : connection.statementTimeout
        let deadline = SocketWait.deadline(after: limit)
        func waitForServer(_ direction: SocketWait.Direction) throws {
            do {
                // Auxiliary statements have one deadline for the whole statement; user statements
                // get socket_timeout for each wait, not for the time the caller spends on rows.
                try SocketWait.wait(connection.socket, for: direction, until: auxiliary ? deadline : SocketWait.deadline(after: limit),
                                    what: "The statement")
            } catch let error as WrapperError where error.code == .timeout {
                // The server may be gone: give up on the connection rather than block on a cancel request.
                connection.abort()
                let setting = auxiliary ? "auxiliary_query_timeout_sec" : "socket_timeout"
                throw WrapperError(.timeout, "The server did not answer within \(setting) (\(limit ?? 0) s); the connection was closed.")
            }
        }
        while true {
            let flushed = PQflush(handle)
            if flushed == 0 { break }
            if flushed < 0 { throw failure(connection, result: nil) }
            try waitForServer(.write)
            if PQconsumeInput(handle) == 0 { throw failure(connection, result: nil) }
        }
        if onRow != nil { PQsetSingleRowMode(handle) }

        var result = QueryResult()
        var firstError: (any Error)?
        var sawRows = false
        // Of several statements, only the first one's result is kept, as the MariaDB driver does.
        var completed = 0
        while true {
            while PQisBusy(handle) == 1 {
                try waitForServer(.read)
                if PQconsumeInput(handle) == 0 { throw failure(connection, result: nil) }
            }
            guard let pgResult = PQgetResult(handle) else { break }
            defer { PQclear(pgResult) }
            switch PQresultStatus(pgResult) {
            case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
                if completed > 0 { continue }
                if PQresultStatus(pgResult) == PGRES_TUPLES_OK { completed += 1 }
                if !sawRows {
                    result.columns = (0..<PQnfields(pgResult)).map { String(cString: PQfname(pgResult, $0)) }
                    sawRows = true
                }
                let columnCount = Int(PQnfields(pgResult))
                for row in 0..<PQntuples(pgResult) {
                    let values = [DatabaseValue](unsafeUninitializedCapacity: columnCount) { buffer, initialized in
                        for column in 0..<columnCount {
                            let index = Int32(column)
                            (buffer.baseAddress! + column).initialize(
                                to: PostgresValues.decode(pgResult, row: row, column: index, type: PQftype(pgResult, index)))
                        }
                        initialized = columnCount
                    }
                    if let onRow {
                        // Keep draining after a failing handler so the connection stays usable.
                        if firstError == nil { do { try onRow(values) } catch { firstError = error } }
                    } else {
                        result.rows.append(values)
                    }
                }
                if PQresultStatus(pgResult) == PGRES_TUPLES_OK { result.affectedRows = PostgresValues.integer(PQcmdTuples(pgResult)) ?? 0 }
            case PGRES_COMMAND_OK:
                if completed == 0 { result.affectedRows = PostgresValues.integer(PQcmdTuples(pgResult)) ?? 0 }
                completed += 1
            case PGRES_EMPTY_QUERY:
                break
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                if firstError == nil {
                    firstError = WrapperError(.unsupportedOperation, "COPY is not supported through execute; use INSERT or a file-free alternative.")
                }
            default:
                if firstError == nil { firstError = failure(connection, result: pgResult) }
            }
        }
        if let firstError { throw firstError }
        return result
    }

    private func abortedError(_ connection: PostgresConnection) -> WrapperError {
        WrapperError(.network, "The connection to \(connection.host.hostAndPort) was aborted.", sqlState: "08006")
    }

    /// The error of a failed result or of the connection.
    private func failure(_ connection: PostgresConnection, result: OpaquePointer?) -> WrapperError {
        if connection.wasAborted { return abortedError(connection) }
        guard let result else {
            let message = SecretRedactor.redact(String(cString: PQerrorMessage(connection.handle)).trimmingCharacters(in: .whitespacesAndNewlines))
            // No result: libpq could not send or read (older libpq leaves the status OK after a
            // keepalive timeout or an unreachable host), so the connection is lost.
            let code: WrapperError.Code = .network
            return WrapperError(code, message.isEmpty ? "The connection to \(connection.host.hostAndPort) failed." : message,
                                sqlState: code == .network ? "08006" : nil)
        }
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var message = field("M") ?? String(cString: PQresultErrorMessage(result))
        if let detail = field("D") { message += " (\(detail))" }
        message = SecretRedactor.redact(message)
        let connectionBad = PQstatus(connection.handle) == CONNECTION_BAD
        var classification = sqlState.map(PostgresErrorClassifier.classify(sqlState:))
            ?? PostgresErrorClassifier.classifyClientError(connectionBad: connectionBad)
        // A connection-class state at ERROR severity on a live connection ended one statement (a
        // user's RAISE ... USING ERRCODE = '08006'): the server ends a session with FATAL or PANIC.
        let severity = field("V")
        if classification.contains(.network), severity == "ERROR", !connectionBad { classification = [] }
        // FATAL or PANIC ends the session (and PANIC the instance) whatever the state says.
        if severity == "FATAL" || severity == "PANIC", !classification.contains(.login) { classification = .network }
        let code: WrapperError.Code =
            classification.contains(.network) ? .network
            : classification.contains(.login) ? .login : classification.contains(.readOnly) ? .readOnly : .driver
        return WrapperError(code, message, sqlState: sqlState)
    }

    // MARK: State

    public func isClosed(_ connection: any DriverConnection) -> Bool {
        (connection as? PostgresConnection)?.isClosed ?? true
    }

    public func isInTransaction(_ connection: any DriverConnection) -> Bool {
        // The last status libpq knew, also after an abort from another thread: failover must
        // learn that a transaction was open on a connection the monitor already cut.
        guard let connection = connection as? PostgresConnection else { return false }
        let status = connection.transactionStatus
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    public func close(_ connection: any DriverConnection) { (connection as? PostgresConnection)?.finish() }

    public func abort(_ connection: any DriverConnection) { (connection as? PostgresConnection)?.abort() }

    private func readOnly(_ connection: PostgresConnection) throws -> Bool {
        try scalar(connection, "SHOW default_transaction_read_only") == "on"
    }

    public func sessionValue(_ kind: SessionValueKind, of driverConnection: any DriverConnection) throws -> SessionValue {
        let connection = try own(driverConnection)
        switch kind {
        case .autocommit:
            return .autocommit(connection.autocommit)
        case .readOnly:
            return .readOnly(try readOnly(connection))
        case .isolation:
            return .isolation(try IsolationLevel(serverText: scalar(connection, "SHOW default_transaction_isolation")))
        case .schema:
            return .schema(try scalar(connection, "SELECT current_schema()"))
        }
    }

    public func apply(_ value: SessionValue, to driverConnection: any DriverConnection) throws {
        let connection = try own(driverConnection)
        switch value {
        case .autocommit(let on):
            // Turning autocommit on commits the open transaction, as JDBC does.
            if on, !connection.autocommit, connection.transactionStatus != PQTRANS_IDLE {
                _ = try run(connection, "COMMIT", [])
            }
            connection.autocommit = on
        case .readOnly(let on):
            try requireNoTransaction(connection, "read-only")
            _ = try run(connection, "SET SESSION CHARACTERISTICS AS TRANSACTION \(on ? "READ ONLY" : "READ WRITE")", [], auxiliary: true)
        case .isolation(let level):
            try requireNoTransaction(connection, "the isolation level")
            _ = try run(connection, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL \(level.rawValue)", [], auxiliary: true)
        case .schema(let schema):
            try requireNoTransaction(connection, "the schema")
            _ = try run(connection, "SELECT pg_catalog.set_config('search_path', $1, false)", [.text(quoteIdentifier(schema))], auxiliary: true)
        }
    }

    /// Session settings made inside a transaction would be undone by its rollback.
    private func requireNoTransaction(_ connection: PostgresConnection, _ what: String) throws {
        if connection.transactionStatus != PQTRANS_IDLE {
            throw WrapperError(.unsupportedOperation, "Change \(what) outside a transaction: commit or roll back first.")
        }
    }

    private func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func scalar(_ connection: PostgresConnection, _ sql: String) throws -> String {
        let result = try run(connection, sql, [], auxiliary: true)
        guard let value = result.rows.first?.first else {
            throw WrapperError(.driver, "'\(sql)' returned no value.")
        }
        return value.isNull ? "" : value.description
    }

    public func auxiliaryQuery(_ sql: String, on driverConnection: any DriverConnection) throws -> QueryResult {
        try run(try own(driverConnection), sql, [], auxiliary: true)
    }

    public func classify(_ error: any Error) -> ErrorClassification {
        guard let error = error as? WrapperError else { return [] }
        switch error.code {
        case .network, .timeout: return .network
        case .login: return .login
        case .readOnly: return .readOnly
        // The code was settled when the error was made, with what only the live connection knew.
        default: return []
        }
    }

    private func own(_ connection: any DriverConnection) throws -> PostgresConnection {
        guard let connection = connection as? PostgresConnection else {
            throw WrapperError(.internalError, "A connection of another driver was passed to the PostgreSQL driver.")
        }
        return connection
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> Result) rethrows -> Result {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    var array = pointers.map { UnsafePointer($0) }
    array.append(nil)
    return try array.withUnsafeBufferPointer { try body($0.baseAddress!) }
}
