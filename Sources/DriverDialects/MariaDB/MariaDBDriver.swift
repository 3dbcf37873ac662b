import CMariaDB
import Foundation
import Glibc
import WrapperCore

/// The MySQL and MariaDB driver dialect over MariaDB Connector/C.
///
/// Statements with parameters run as server-side prepared statements (`mysql_stmt_*`); those
/// without run through the text protocol. Rows are read one by one from the server
/// (`mysql_use_result` / unbuffered `mysql_stmt_fetch`), so large results are streamed. Timeouts are
/// Connector/C's whole seconds (rounded up); abort shuts the socket down from any thread.
public struct MariaDBDriver: DriverDialect {
    /// Creates the dialect.
    public init() {}

    public var code: String { "mariadb" }
    public var defaultPort: Int { 3306 }
    public var supportsAbort: Bool { true }
    public var databaseFamily: DatabaseFamily { .mysql }

    public func applyAuthenticationToken(_ token: String, to properties: inout Properties) {
        DriverProperties.applyToken(token, to: &properties)
        properties.set(DriverProperties.enableCleartextPlugin, true)
    }

    public var networkBoundMethods: PluginMethods {
        [.connectionCommit, .connectionAutocommit, .connectionAutocommitSetter, .connectionIsReadOnly,
         .connectionSetReadOnly, .connectionRollback, .connectionClose, .connectionCursor, .cursorClose,
         .cursorExecute, .cursorExecuteMany, .cursorFetchOne, .cursorFetchMany, .cursorFetchAll,
         .connectionIsolationLevel, .connectionSetIsolationLevel, .connectionSchema, .connectionSetSchema, .connectionPing]
    }

    // MARK: Connecting

    public func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection {
        guard let handle = mysql_init(nil) else {
            throw WrapperError(.driver, "MariaDB Connector/C could not allocate a connection (out of memory).")
        }
        do {
            try configure(handle, properties)
            let user = try properties.value(WrapperProperties.user)
            let password = try properties.value(WrapperProperties.password)
            let database = try properties.value(WrapperProperties.database)
            let port = UInt32(try host.connectPort(default: defaultPort))
            let deadline = SocketWait.deadline(after: try WrapperProperties.connectDeadlineSeconds(properties))
            // Resolved under the deadline, unless TLS verification needs the name itself: Connector/C
            // checks the certificate against what it was given.
            let verifiesName = [.verifyCA, .verifyFull].contains(try properties.value(DriverProperties.sslMode))
            var address = properties[PluginService.resolvedAddressKey] ?? host.host
            // `localhost` means the Unix socket to Connector/C: left as it is.
            if properties[PluginService.resolvedAddressKey] == nil, !verifiesName, host.host.lowercased() != "localhost",
                let resolved = try DeadlineResolver.addresses(of: host.host, until: deadline)?.first
            {
                address = resolved
            }
            // The library keeps these pointers until the connect completes: C copies that outlive it.
            let strings = [address, user, password, database].map { $0.map { strdup($0) } }
            defer { strings.forEach { $0.map { free($0) } } }
            try connectWithin(deadline, handle, host: host) { result in
                mysql_real_connect_start(&result, handle, strings[0] ?? nil, strings[1] ?? nil, strings[2] ?? nil, strings[3] ?? nil, port, nil, 0)
            }
            // Before the connection object owns the handle: the catch below closes it exactly once.
            try applyKeepalive(Int32(mysql_get_socket(handle)), properties)
            return MariaDBConnection(
                handle: handle, host: host, statementTimeout: try properties.value(WrapperProperties.socketTimeout),
                auxiliaryTimeout: Double(try properties.value(WrapperProperties.auxiliaryQueryTimeoutSec)),
                identity: user.map { ConnectionIdentity(user: $0, database: database) })
        } catch {
            mysql_close(handle)
            throw error
        }
    }

    /// Connects with Connector/C's non-blocking API, waiting on the socket under the wrapper's own
    /// deadline: `mysql_real_connect` alone would block a frozen server's connect for as long as
    /// the kernel retries, and its own timeout counts whole seconds per phase.
    private func connectWithin(
        _ deadline: ContinuousClock.Instant?, _ handle: UnsafeMutablePointer<MYSQL>, host: HostInfo,
        start: (inout UnsafeMutablePointer<MYSQL>?) -> Int32
    ) throws {
        var result: UnsafeMutablePointer<MYSQL>?
        var status = start(&result)
        while status != 0 {
            let events = try SocketWait.waitForLibrary(
                Int32(mysql_get_socket(handle)), status: status, libraryTimeoutMs: Int(mysql_get_timeout_value_ms(handle)),
                until: deadline, what: "Connecting to \(host.hostAndPort)")
            status = mysql_real_connect_cont(&result, handle, events)
        }
        guard result != nil else { throw connectError(handle, host) }
    }

    private func configure(_ handle: UnsafeMutablePointer<MYSQL>, _ properties: Properties) throws {
        // Whole seconds, rounded up; 0 means no timeout.
        func seconds(_ value: Double?) -> UInt32? {
            guard let value, value > 0 else { return nil }
            return UInt32(clamping: Int(value.rounded(.up)))
        }
        // The wrapper bounds the whole connect itself (connectWithin); the library's own limit is a floor.
        if var timeout = seconds(try WrapperProperties.connectDeadlineSeconds(properties)) {
            mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        }
        mysql_options(handle, MYSQL_OPT_NONBLOCK, nil)
        if var timeout = seconds(try properties.value(WrapperProperties.socketTimeout)) {
            mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &timeout)
            mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &timeout)
        }
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        // TIMESTAMP values are sent in the session time zone; UTC makes them mean what they say.
        mysql_options(handle, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'")
        mysql_options4(handle, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", try properties.value(DriverProperties.applicationName))
        let mode = try properties.value(DriverProperties.sslMode)
        let ca = try properties.value(DriverProperties.sslCA)
        switch mode {
        case .disable, .prefer:
            break
        case .require, .verifyCA, .verifyFull:
            var on: my_bool = 1
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            if mode != .require {
                guard let ca else {
                    throw WrapperError(.invalidProperty, "ssl_mode=\(mode.rawValue) needs ssl_ca: the path of the CA certificate that signed the server's.")
                }
                mysql_options(handle, MYSQL_OPT_SSL_CA, ca)
                // Connector/C checks the host name whenever it verifies, so verify-ca acts as verify-full.
                mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
            }
        }
        if try properties.value(DriverProperties.enableCleartextPlugin) {
            guard mode != .disable, mode != .prefer else {
                throw WrapperError(.invalidProperty, "enable_cleartext_plugin sends the password as it is: set ssl_mode to require, verify-ca or verify-full.")
            }
            var on: my_bool = 1
            mysql_options(handle, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &on)
        }
        if let cert = try properties.value(DriverProperties.sslCert) { mysql_options(handle, MYSQL_OPT_SSL_CERT, cert) }
        if let key = try properties.value(DriverProperties.sslKey) { mysql_options(handle, MYSQL_OPT_SSL_KEY, key) }
    }

    private func applyKeepalive(_ socket: Int32, _ properties: Properties) throws {
        guard socket >= 0, let enabled = try properties.value(WrapperProperties.tcpKeepalive) else { return }
        var flag: Int32 = enabled ? 1 : 0
        setsockopt(socket, SOL_SOCKET, SO_KEEPALIVE, &flag, socklen_t(MemoryLayout<Int32>.size))
        guard enabled else { return }
        let options: [(Int32, Int?)] = [
            (TCP_KEEPIDLE, try properties.value(WrapperProperties.tcpKeepaliveTime)),
            (TCP_KEEPINTVL, try properties.value(WrapperProperties.tcpKeepaliveInterval)),
            (TCP_KEEPCNT, try properties.value(WrapperProperties.tcpKeepaliveProbes)),
        ]
        for (option, value) in options {
            guard var value = value.map({ Int32(clamping: $0) }) else { continue }
            setsockopt(socket, Int32(IPPROTO_TCP), option, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    private func connectError(_ handle: UnsafeMutablePointer<MYSQL>, _ host: HostInfo) -> WrapperError {
        let number = Int(mysql_errno(handle))
        let sqlState = String(cString: mysql_sqlstate(handle))
        let message = SecretRedactor.redact(String(cString: mysql_error(handle)))
        let classification = MySQLErrorClassifier.classify(errorNumber: number, sqlState: sqlState, message: message)
        // 1049 unknown database, 2026 TLS, 2059 authentication plugin: not a host failure.
        let code: WrapperError.Code =
            classification.contains(.login) ? .login : ([1049, 2026, 2059].contains(number) ? .driver : .network)
        return WrapperError(code, "Could not connect to \(host.hostAndPort): \(message)", sqlState: sqlState, driverCode: number)
    }

    // MARK: Calls

    public func perform(_ call: MethodCall, on driverConnection: any DriverConnection) throws -> CallResult {
        let connection = try own(driverConnection)
        if connection.wasAborted, call.method != .connectionClose, call.method != .connectionIsClosed {
            throw abortedError(connection)
        }
        if let result = try performSessionCall(call, on: connection) { return result }
        switch call.method {
        case .cursorExecute, .cursorExecuteMany, .cursorFetchAll:
            return .rows(try run(connection, call.sql, call.binds))
        case .connectionCommit:
            try check(connection, mysql_commit(connection.handle) == 0)
            return .void
        case .connectionRollback:
            try check(connection, mysql_rollback(connection.handle) == 0)
            return .void
        case .connectionPing:
            try check(connection, mysql_ping(connection.handle) == 0)
            return .void
        case .connectionClose:
            connection.finish()
            return .void
        case .connectionIsClosed:
            return .bool(connection.isClosed)
        default:
            throw WrapperError(.unsupportedOperation, "The MariaDB driver does not implement \(call.method).")
        }
    }

    /// Runs a statement unbuffered, calling `onRow` for each row as it arrives.
    public func stream(
        _ call: MethodCall, on driverConnection: any DriverConnection, onRow: ([DatabaseValue]) throws -> Void
    ) throws -> QueryResult {
        let (sql, binds) = (call.sql, call.binds)
        let connection = try own(driverConnection)
        var result = try withoutActuallyEscaping(onRow) { onRow in try run(connection, sql, binds, onRow: onRow) }
        result.isStreamed = true
        return result
    }

    func run(
        _ connection: MariaDBConnection, _ sql: String, _ binds: [DatabaseValue],
        onRow: (([DatabaseValue]) throws -> Void)? = nil
    ) throws -> QueryResult {
        if connection.wasAborted { throw abortedError(connection) }
        if binds.isEmpty { return try runText(connection, sql, onRow: onRow) }
        return try MariaDBStatement.run(connection, sql, binds, onRow: onRow, error: { self.failure(connection, statement: $0) })
    }

    private func runText(
        _ connection: MariaDBConnection, _ sql: String, onRow: (([DatabaseValue]) throws -> Void)?
    ) throws -> QueryResult {
        let handle = connection.handle
        let bytes = Array(sql.utf8)
        try check(connection, bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { mysql_real_query(handle, $0.baseAddress, UInt(buffer.count)) } == 0
        })
        var result = QueryResult()
        var first = true
        var failure: (any Error)?
        repeat {
            if let set = mysql_use_result(handle) {
                defer { mysql_free_result(set) }
                let count = Int(mysql_num_fields(set))
                let fields = UnsafeBufferPointer(start: mysql_fetch_fields(set), count: count)
                if first { result.columns = fields.map { String(cString: $0.name) } }
                while let row = mysql_fetch_row(set) {
                    guard let lengths = mysql_fetch_lengths(set) else { break }
                    let values = (0..<count).map { index -> DatabaseValue in
                        guard let cell = row[index] else { return .null }
                        let data = UnsafeRawBufferPointer(start: cell, count: Int(lengths[index]))
                        return MariaDBValues.decode(data, field: fields[index])
                    }
                    if let onRow {
                        // Keep reading after a failing handler so the connection stays in sync.
                        if failure == nil { do { try onRow(values) } catch { failure = error } }
                    } else if first {
                        result.rows.append(values)
                    }
                }
                try check(connection, mysql_errno(handle) == 0)
            } else {
                try check(connection, mysql_field_count(handle) == 0)
                if first { result.affectedRows = Int(truncatingIfNeeded: mysql_affected_rows(handle)) }
            }
            first = false
            let next = mysql_next_result(handle)
            if next > 0 { throw self.failure(connection, statement: nil) }
            if next != 0 { break }
        } while true
        // Every result was read, so the connection is in sync even when the row handler failed.
        if let failure { throw failure }
        return result
    }

    public func auxiliaryQuery(_ sql: String, on driverConnection: any DriverConnection) throws -> QueryResult {
        try runAuxiliary(try own(driverConnection), sql)
    }

    /// Runs one of the wrapper's own text statements with Connector/C's non-blocking API under
    /// `auxiliary_query_timeout_sec` for the whole statement: a server that accepts and then freezes
    /// cannot hold a failover or a monitor past it. On timeout the connection is aborted.
    func runAuxiliary(_ connection: MariaDBConnection, _ sql: String) throws -> QueryResult {
        if connection.wasAborted { throw abortedError(connection) }
        let handle = connection.handle
        let deadline = SocketWait.deadline(after: connection.auxiliaryTimeout)
        func wait(_ status: Int32) throws -> Int32 {
            do {
                return try SocketWait.waitForLibrary(
                    Int32(mysql_get_socket(handle)), status: status, libraryTimeoutMs: Int(mysql_get_timeout_value_ms(handle)),
                    until: deadline, what: "The wrapper's query")
            } catch let error as WrapperError where error.code == .timeout {
                connection.abort()
                throw WrapperError(
                    .timeout, "The server did not answer within auxiliary_query_timeout_sec (\(connection.auxiliaryTimeout) s); the connection was closed.")
            }
        }
        var failed: Int32 = 0
        let bytes = Array(sql.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { text in
                var status = mysql_real_query_start(&failed, handle, text.baseAddress, UInt(text.count))
                while status != 0 { status = mysql_real_query_cont(&failed, handle, try wait(status)) }
            }
        }
        try check(connection, failed == 0)
        func storeResult() throws -> UnsafeMutablePointer<MYSQL_RES>? {
            var set: UnsafeMutablePointer<MYSQL_RES>?
            var status = mysql_store_result_start(&set, handle)
            while status != 0 { status = mysql_store_result_cont(&set, handle, try wait(status)) }
            return set
        }
        var result = QueryResult()
        if let set = try storeResult() {
            defer { mysql_free_result(set) }
            let count = Int(mysql_num_fields(set))
            let fields = UnsafeBufferPointer(start: mysql_fetch_fields(set), count: count)
            result.columns = fields.map { String(cString: $0.name) }
            // A stored result is in memory: fetching does no I/O.
            while let row = mysql_fetch_row(set), let lengths = mysql_fetch_lengths(set) {
                result.rows.append((0..<count).map { index -> DatabaseValue in
                    guard let cell = row[index] else { return .null }
                    return MariaDBValues.decode(UnsafeRawBufferPointer(start: cell, count: Int(lengths[index])), field: fields[index])
                })
            }
        } else {
            try check(connection, mysql_field_count(handle) == 0)
            result.affectedRows = Int(truncatingIfNeeded: mysql_affected_rows(handle))
        }
        // The wrapper's statements are single, but stay in sync whatever the server sends.
        while mysql_more_results(handle) != 0 {
            var next: Int32 = 0
            var status = mysql_next_result_start(&next, handle)
            while status != 0 { status = mysql_next_result_cont(&next, handle, try wait(status)) }
            if next > 0 { throw failure(connection, statement: nil) }
            if let extra = try storeResult() { mysql_free_result(extra) }
        }
        return result
    }

    private func check(_ connection: MariaDBConnection, _ success: Bool) throws {
        if !success { throw failure(connection, statement: nil) }
    }

    private func abortedError(_ connection: MariaDBConnection) -> WrapperError {
        WrapperError(.network, "The connection to \(connection.host.hostAndPort) was aborted.", sqlState: "08S01")
    }

    /// The error of the connection or of a prepared statement.
    func failure(_ connection: MariaDBConnection, statement: UnsafeMutablePointer<MYSQL_STMT>?) -> WrapperError {
        if connection.wasAborted { return abortedError(connection) }
        let number: Int
        let sqlState: String
        let message: String
        if let stmt = statement {
            number = Int(mysql_stmt_errno(stmt))
            sqlState = String(cString: mysql_stmt_sqlstate(stmt))
            message = String(cString: mysql_stmt_error(stmt))
        } else {
            number = Int(mysql_errno(connection.handle))
            sqlState = String(cString: mysql_sqlstate(connection.handle))
            message = String(cString: mysql_error(connection.handle))
        }
        let redacted = SecretRedactor.redact(message)
        var classification = MySQLErrorClassifier.classify(errorNumber: number, sqlState: sqlState, message: redacted)
        // A client error number (2000-2999) on a socket the library still holds came from the server
        // (a SIGNAL ... SET MYSQL_ERRNO): Connector/C closes the socket when it loses the connection.
        // (`net.pvio` is what the library clears; mysql_get_socket may read a freed async pvio on
        // older Connector/C releases.)
        if (2000...2999).contains(number), connection.handle.pointee.net.pvio != nil { classification = [] }
        var code: WrapperError.Code =
            classification.contains(.network) ? .network
            : classification.contains(.login) ? .login : classification.contains(.readOnly) ? .readOnly : .driver
        if number == 2013, connection.statementTimeout != nil { code = .timeout }
        if code == .network || code == .timeout { connection.markBroken() }
        return WrapperError(code, redacted, sqlState: sqlState, driverCode: number)
    }

    // MARK: State

    public func isClosed(_ connection: any DriverConnection) -> Bool {
        (connection as? MariaDBConnection)?.isClosed ?? true
    }

    public func isInTransaction(_ connection: any DriverConnection) -> Bool {
        guard let connection = connection as? MariaDBConnection else { return false }
        return connection.serverStatus & 1 != 0
    }

    public func close(_ connection: any DriverConnection) { (connection as? MariaDBConnection)?.finish() }

    public func abort(_ connection: any DriverConnection) { (connection as? MariaDBConnection)?.abort() }

    private func readOnly(_ connection: MariaDBConnection) throws -> Bool {
        try variable(connection, "transaction_read_only", fallback: "tx_read_only") == "1"
    }

    /// A session variable, trying MySQL's newer name first and MariaDB's older one next.
    private func variable(_ connection: MariaDBConnection, _ name: String, fallback: String) throws -> String {
        do {
            return try scalar(connection, "SELECT @@session.\(name)")
        } catch let error as WrapperError where error.driverCode == 1193 {
            return try scalar(connection, "SELECT @@session.\(fallback)")
        }
    }

    public func sessionValue(_ kind: SessionValueKind, of driverConnection: any DriverConnection) throws -> SessionValue {
        let connection = try own(driverConnection)
        switch kind {
        case .autocommit:
            return .autocommit(connection.serverStatus & 2 != 0)
        case .readOnly:
            return .readOnly(try readOnly(connection))
        case .isolation:
            return .isolation(try IsolationLevel(serverText: variable(connection, "transaction_isolation", fallback: "tx_isolation")))
        case .schema:
            return .schema(try scalar(connection, "SELECT DATABASE()"))
        }
    }

    public func apply(_ value: SessionValue, to driverConnection: any DriverConnection) throws {
        let connection = try own(driverConnection)
        switch value {
        case .autocommit(let on):
            try check(connection, mysql_autocommit(connection.handle, on ? 1 : 0) == 0)
        case .readOnly(let on):
            _ = try runAuxiliary(connection, "SET SESSION TRANSACTION \(on ? "READ ONLY" : "READ WRITE")")
        case .isolation(let level):
            _ = try runAuxiliary(connection, "SET SESSION TRANSACTION ISOLATION LEVEL \(level.rawValue)")
        case .schema(let schema):
            // No database selected (NULL) cannot be restored once one is: leave it.
            if !schema.isEmpty { try check(connection, mysql_select_db(connection.handle, schema) == 0) }
        }
    }

    private func scalar(_ connection: MariaDBConnection, _ sql: String) throws -> String {
        guard let value = try runAuxiliary(connection, sql).rows.first?.first else {
            throw WrapperError(.driver, "'\(sql)' returned no value.")
        }
        return value.isNull ? "" : value.description
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

    private func own(_ connection: any DriverConnection) throws -> MariaDBConnection {
        guard let connection = connection as? MariaDBConnection else {
            throw WrapperError(.internalError, "A connection of another driver was passed to the MariaDB driver.")
        }
        return connection
    }
}
