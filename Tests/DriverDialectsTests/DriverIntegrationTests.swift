import BuiltinPlugins
import Dispatch
import Foundation
import InMemoryDriver
import Logging
import Testing
import WrapperCore
@testable import DriverDialects

@Suite("Drivers on real servers")
struct DriverIntegrationTests {
    @Test("SELECT 1 through a chain of execute_time, dev and log_query", arguments: Backend.allCases)
    func selectOne(backend: Backend) throws {
        let connection = try backend.open("plugins=execute_time,dev,log_query")
        defer { try? connection.close() }
        let result = try connection.execute("SELECT 1")
        #expect(try result.rows.map { try Int(databaseValue: $0[0]) } == [1])
        #expect(ExecuteTimePlugin.figures(of: connection).count == 1)
        #expect(connection.currentHost?.port == backend.port)
        // Plain servers are detected as such, and keep the connection string's host list.
        #expect(connection.service.databaseDialect?.code == (backend == .postgres ? "pg" : "mariadb"))
        #expect(connection.service.isStaticHostListProvider)
        let simulator = try #require(DeveloperPlugin.simulator(of: connection))
        simulator.raiseOnNextCall(WrapperError(.network, "simulated"), method: .cursorExecute)
        let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
        #expect(error.message == "simulated")
        #expect(try connection.execute("SELECT 2").rows == [[.integer(2)]])
    }

    @Test("typed values round-trip through bound parameters", arguments: Backend.allCases)
    func typedValues(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let table = backend.table("types")
        let columns = backend == .postgres
            ? "i int8, f float8, n numeric(20,5), s text, b bytea, flag bool, d date, tm time, ts timestamp, tstz timestamptz, u uuid, j jsonb, nul int"
            : "i bigint, f double, n decimal(20,5), s text, b blob, flag boolean, d date, tm time, ts datetime(6), tstz timestamp(6) NULL, u uuid, j json, nul int"
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (\(unsafeSQL: columns))")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        let moment = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let uuid = UUID()
        let placeholders = (1...13).map(backend.placeholder).joined(separator: ", ")
        let inserted = try connection.execute(
            unsafeSQL: "INSERT INTO \(table) VALUES (\(placeholders))",
            binds: [.integer(42), .double(3.25), .decimal("12345.67890"), .text("héllo ✓"), .bytes([0, 1, 2, 255]), .bool(true),
             .date("2024-02-29"), .time("13:45:10"), .timestamp(moment, hasTimeZone: false), .timestamp(moment, hasTimeZone: true),
             .uuid(uuid), .json(#"{"a": 1}"#), .null])
        #expect(inserted.affectedRows == 1)
        let result = try connection.execute("SELECT i, f, n, s, b, flag, d, tm, ts, tstz, u, j, nul FROM \(unsafeSQL: table)")
        #expect(result.columns.first == "i")
        let row = try #require(result.rows.first)
        #expect(row[0] == .integer(42))
        #expect(row[1] == .double(3.25))
        #expect(row[2] == .decimal("12345.67890"))
        #expect(row[3] == .text("héllo ✓"))
        #expect(row[4] == .bytes([0, 1, 2, 255]))
        #expect(try Bool(databaseValue: row[5]))
        #expect(row[6] == .date("2024-02-29"))
        #expect(row[7] == .time("13:45:10"))
        let ts = try Date(databaseValue: row[8])
        let tstz = try Date(databaseValue: row[9])
        #expect(abs(ts.timeIntervalSince(moment)) < 0.000_01)
        #expect(abs(tstz.timeIntervalSince(moment)) < 0.000_01)
        #expect(try UUID(databaseValue: row[10]) == uuid)
        #expect(try String(databaseValue: row[11]).replacingOccurrences(of: " ", with: "") == #"{"a":1}"#)
        #expect(row[12] == .null)
        #expect(try Int?(databaseValue: row[12]) == nil)
        if backend == .postgres { #expect(row[11] == .json(#"{"a": 1}"#)) }
    }

    @Test("string interpolation binds values", arguments: Backend.allCases)
    func interpolation(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let table = backend.table("interp")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int, name varchar(50))")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        let hostile = "x'); DROP TABLE \(table); --"
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(hostile))")
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(2), \(String?.none))")
        let rows = try connection.execute("SELECT id, name FROM \(unsafeSQL: table) WHERE id >= \(1) ORDER BY id")
            .decode(Int.self, String?.self)
        #expect(rows.map(\.0) == [1, 2])
        #expect(rows.map(\.1) == [hostile, nil])
    }

    @Test("transactions, autocommit, read-only, isolation, schema, ping and close", arguments: Backend.allCases)
    func sessionControls(backend: Backend) throws {
        let connection = try backend.open()
        let table = backend.table("tx")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int)")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }

        #expect(try connection.autocommit())
        try connection.setAutocommit(false)
        #expect(try connection.autocommit() == false)
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (1)")
        #expect(connection.isInTransaction)
        try connection.rollback()
        #expect(!connection.isInTransaction)
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 0)
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (2)")
        try connection.commit()
        try connection.setAutocommit(true)
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 1)

        try connection.withTransaction { connection in
            try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (3)")
        }
        #expect(throws: WrapperError.self) {
            try connection.withTransaction { connection in
                try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (4)")
                throw WrapperError(.driver, "changed my mind")
            }
        }
        #expect(try connection.execute("SELECT id FROM \(unsafeSQL: table) ORDER BY id").rows.map { try Int(databaseValue: $0[0]) } == [2, 3])
        #expect(try connection.autocommit())

        try connection.setReadOnly(true)
        #expect(try connection.isReadOnly())
        let readOnly = try #require(throws: WrapperError.self) { try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (5)") }
        #expect(readOnly.code == .readOnly, "\(readOnly)")
        try connection.setReadOnly(false)
        #expect(try connection.isReadOnly() == false)

        try connection.setIsolationLevel(.serializable)
        #expect(try connection.isolationLevel() == .serializable)
        try connection.setIsolationLevel(.readCommitted)
        #expect(try connection.isolationLevel() == .readCommitted)

        let schema = try connection.schema()
        #expect(schema == (backend == .postgres ? "public" : backend.database))
        try connection.setSchema("information_schema")
        #expect(try connection.schema() == "information_schema")
        try connection.setSchema(schema)

        try connection.ping()
        #expect(!connection.isClosed)
        try connection.close()
        #expect(connection.isClosed)
        #expect(throws: WrapperError.self) { try connection.execute("SELECT 1") }
    }

    @Test("large results are streamed row by row", arguments: Backend.allCases)
    func streaming(backend: Backend) throws {
        let connection = try backend.open("plugins=execute_time")
        defer { try? connection.close() }
        var count = 0
        var sum = 0
        let generator: SQLQuery = backend == .postgres
            ? "SELECT n FROM generate_series(1, 50000) AS n" : "SELECT seq FROM seq_1_to_50000"
        let result = try connection.stream(generator) { row in
            count += 1
            sum += try Int(databaseValue: row[0])
        }
        #expect(count == 50_000)
        #expect(sum == 50_000 * 50_001 / 2)
        #expect(result.rows.isEmpty && result.isStreamed)
        #expect(try connection.execute("SELECT 2").rows == [[.integer(2)]])
        // A failing row handler stops nothing on the server side: the connection stays in sync.
        #expect(throws: WrapperError.self) {
            try connection.stream("SELECT 1 UNION ALL SELECT 2") { _ in throw WrapperError(.driver, "stop") }
        }
        #expect(try connection.execute("SELECT 3").rows == [[.integer(3)]])
    }

    @Test("a wrong password is a login error that never shows the password", arguments: Backend.allCases)
    func wrongPassword(backend: Backend) throws {
        let logs = LogCapture()
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(
                backend.url("plugins=log_query,execute_time", password: "hunter2-wrong"), driver: backend.driver,
                registry: .default, logger: logs.logger)
        }
        #expect(error.code == .login, "\(error)")
        #expect(backend.driver.classify(error) == .login)
        #expect(!error.description.contains("hunter2"))
        #expect(!String(reflecting: error).contains("hunter2"))
        #expect(logs.all.allSatisfy { !$0.contains("hunter2") && !$0.contains(backend.password) })
    }

    @Test("a refused port is a network error", arguments: Backend.allCases)
    func refused(backend: Backend) throws {
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(backend.url(port: refusedPort()), driver: backend.driver, registry: .default)
        }
        #expect(error.code == .network, "\(error)")
        #expect(backend.driver.classify(error) == .network)
    }

    @Test("a host that never answers hits the connect timeout", arguments: Backend.allCases)
    func connectTimeout(backend: Backend) throws {
        let listener = try SilentListener()
        let start = ContinuousClock.now
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(
                backend.url("plugins=&connect_timeout=1", port: listener.port), driver: backend.driver, registry: .default)
        }
        let elapsed = ContinuousClock.now - start
        #expect(backend.driver.classify(error) == .network, "\(error)")
        #expect(elapsed < .seconds(10), "connect took \(elapsed)")
    }

    @Test("server errors are typed and leave the connection usable", arguments: Backend.allCases)
    func serverErrors(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let syntax = try #require(throws: WrapperError.self) { try connection.execute("SELEC 1") }
        #expect(syntax.code == .driver)
        #expect(syntax.sqlState == (backend == .postgres ? "42601" : "42000"))
        #expect(try connection.execute("SELECT 1").rows.count == 1)

        let table = backend.table("constraint")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int PRIMARY KEY, n int)")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (1, 1)")
        let duplicate = try #require(throws: WrapperError.self) { try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (1, 2)") }
        #expect(duplicate.sqlState == (backend == .postgres ? "23505" : "23000"))
        #expect(backend.driver.classify(duplicate).isEmpty)
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 1)

        let mismatch = try #require(throws: WrapperError.self) {
            try connection.execute(unsafeSQL: "INSERT INTO \(table) VALUES (\(backend.placeholder(1)), \(backend.placeholder(2)))", binds: [.integer(2), .text("abc")])
        }
        #expect(mismatch.code == .driver, "\(mismatch)")
        #expect(try connection.execute("SELECT 1").rows.count == 1)

        let tooWide = try #require(throws: WrapperError.self) {
            try connection.execute("SELECT 3000000000").decode(Int32.self)
        }
        #expect(tooWide.code == .typeMismatch)
        let notANumber = try #require(throws: WrapperError.self) { try connection.execute("SELECT 'x'").decode(Int.self) }
        #expect(notANumber.code == .typeMismatch)
        let wrongCount = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1, 2").decode(Int.self) }
        #expect(wrongCount.code == .typeMismatch)
        #expect(throws: WrapperError.self) {
            try connection.execute(unsafeSQL: "SELECT \(backend.placeholder(1))", binds: [])
        }
    }

    @Test("abort from another thread interrupts a long sleep promptly", arguments: Backend.allCases)
    func abortFromAnotherThread(backend: Backend) throws {
        let connection = try backend.open("plugins=execute_time")
        let start = ContinuousClock.now
        Thread {
            Thread.sleep(forTimeInterval: 0.5)
            connection.abort()
        }.start()
        let error = try #require(throws: WrapperError.self) { try connection.execute(backend.sleep(20)) }
        let elapsed = ContinuousClock.now - start
        #expect(error.code == .network, "\(error)")
        #expect(elapsed < .seconds(10), "abort took \(elapsed)")
        #expect(connection.isClosed)
        try connection.close()
    }

    @Test("socket_timeout ends a statement that runs too long", arguments: Backend.allCases)
    func statementTimeout(backend: Backend) throws {
        let connection = try backend.open("plugins=&socket_timeout=1")
        defer { try? connection.close() }
        #expect(try connection.execute("SELECT 1").rows.count == 1)
        let error = try #require(throws: WrapperError.self) { try connection.execute(backend.sleep(30)) }
        #expect(backend.driver.classify(error) == .network, "\(error)")
    }

    @Test("TLS verify-full with the servers' CA, and a typed error with the wrong CA", arguments: Backend.allCases)
    func tls(backend: Backend) throws {
        let connection = try backend.open("plugins=&ssl_mode=verify-full&ssl_ca=\(backend.tlsCA)")
        defer { try? connection.close() }
        if backend == .postgres {
            #expect(try connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rows == [[.bool(true)]])
        } else {
            let cipher = try connection.execute("SHOW STATUS LIKE 'Ssl_cipher'").rows.first?[1]
            #expect(cipher.map { !$0.description.isEmpty } == true)
        }
        let error = try #require(throws: WrapperError.self) {
            try backend.open("plugins=&ssl_mode=verify-full&ssl_ca=/etc/ssl/certs/ca-certificates.crt")
        }
        #expect(error.code != .login, "\(error)")
        let missingCA = try #require(throws: WrapperError.self) { try backend.open("plugins=&ssl_mode=verify-full") }
        #expect(missingCA.code == .invalidProperty)
        let badMode = try #require(throws: WrapperError.self) { try backend.open("plugins=&ssl_mode=sometimes") }
        #expect(badMode.code == .invalidProperty)
    }

    @Test("log_query logs the SQL, and bound values only when asked", arguments: Backend.allCases)
    func logQuery(backend: Backend) throws {
        let logs = LogCapture()
        let quiet = try WrapperConnection.open(
            backend.url("plugins=log_query&log_query_level=info"), driver: backend.driver, registry: .default, logger: logs.logger)
        try quiet.execute(unsafeSQL: "SELECT \(backend.placeholder(1))", binds: [.text("private-value")])
        #expect(logs.all.contains { $0.contains("SELECT \(backend.placeholder(1))") && $0.hasPrefix("info") })
        #expect(!logs.all.contains { $0.contains("private-value") })
        try quiet.close()
        let verbose = try WrapperConnection.open(
            backend.url("plugins=log_query&log_query_binds=true"), driver: backend.driver, registry: .default, logger: logs.logger)
        try verbose.execute(unsafeSQL: "SELECT \(backend.placeholder(1))", binds: [.text("shown-value")])
        #expect(logs.all.contains { $0.contains("shown-value") })
        try verbose.close()
        #expect(logs.all.allSatisfy { !$0.contains(backend.password) })
        #expect(throws: WrapperError.self) { try backend.open("plugins=log_query&log_query_level=error") }
    }

    @Test("data_cache answers repeated queries, but not inside a transaction that wrote", arguments: Backend.allCases)
    func dataCache(backend: Backend) throws {
        let cache = QueryCache(maxEntries: 10)
        let chain = try PluginChain { try DataCachePlugin(trigger: "FROM cached_", ttl: .seconds(60), cache: cache) }
        let connection = try WrapperConnection.open(backend.url(), driver: backend.driver, chain: chain, runtime: WrapperRuntime())
        defer { try? connection.close() }
        let table = "cached_" + backend.table("dc")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int)")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (1)")
        let query: SQLQuery = "SELECT count(*) FROM \(unsafeSQL: table)"
        #expect(try connection.execute(query).decode(Int.self).first == 1)
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (2)")
        // Within the time to live the cached answer is served.
        #expect(try connection.execute(query).decode(Int.self).first == 1)
        #expect(cache.hits == 1)
        try connection.withTransaction { connection in
            try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (3)")
            #expect(try connection.execute(query).decode(Int.self).first == 3)
        }
        #expect(cache.hits == 1)
        cache.removeAll()
        #expect(try connection.execute(query).decode(Int.self).first == 3)
        #expect(throws: WrapperError.self) { try DataCachePlugin(trigger: "([unclosed") }
        #expect(throws: WrapperError.self) { try backend.open("plugins=data_cache") }
    }

    @Test("the async API runs off the concurrency pool and cancellation aborts the statement", arguments: Backend.allCases)
    func asyncAPI(backend: Backend) async throws {
        let connection = try await WrapperConnection.async.open(backend.url(), driver: backend.driver, registry: .default)
        #expect(try await connection.async.execute("SELECT 1").rows == [[.integer(1)]])
        let start = ContinuousClock.now
        let task = Task { try await connection.async.execute(backend.sleep(20)) }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - start < .seconds(10))
        guard case .failure(let error) = result else {
            Issue.record("the cancelled statement completed")
            return
        }
        #expect((error as? WrapperError)?.code == .network, "\(error)")
        try await connection.async.close()
    }

    @Test("one caller at a time is enforced on a real connection", arguments: Backend.allCases)
    func oneCaller(backend: Backend) throws {
        let connection = try backend.open()
        let done = DispatchSemaphore(value: 0)
        final class Outcome: Sendable { let error = LockedValue<String?>(nil) }
        let outcome = Outcome()
        let started = DispatchSemaphore(value: 0)
        // A thread of its own: the shared queues may be busy with other tests' blocking calls.
        Thread {
            started.signal()
            do { try connection.execute(backend.sleep(2)) } catch { outcome.error.withLock { $0 = "\(error)" } }
            done.signal()
        }.start()
        started.wait()
        Thread.sleep(forTimeInterval: 0.5)
        let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
        #expect(error.code == .concurrentUse)
        done.wait()
        #expect(outcome.error.withLock { $0 } == nil)
        #expect(try connection.execute("SELECT 1").rows.count == 1)
        try connection.close()
    }

    @Test("a typed configuration opens the same connection as a URL", arguments: Backend.allCases)
    func typedConfiguration(backend: Backend) throws {
        var configuration = ConnectionConfiguration(
            host: backend.host, port: backend.port, user: backend.user, password: backend.password, database: backend.database)
        configuration.plugins = ["execute_time"]
        configuration.connectTimeout = .milliseconds(2500)
        configuration.properties["application_name"] = "typed-config-test"
        let connection = try WrapperConnection.open(configuration, driver: backend.driver, registry: .default)
        #expect(try connection.execute("SELECT 1").rows == [[.integer(1)]])
        #expect(ExecuteTimePlugin.figures(of: connection).count == 1)
        try connection.close()
        configuration.endpoints = []
        #expect(throws: WrapperError.self) { try WrapperConnection.open(configuration, driver: backend.driver, registry: .default) }
    }

    @Test("long values in several columns of one row, bound or not", arguments: Backend.allCases)
    func longValues(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let table = backend.table("long")
        let text = backend == .postgres ? "text" : "mediumtext"
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int, a \(unsafeSQL: text), b \(unsafeSQL: text), c \(unsafeSQL: text))")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        let a = String(repeating: "a", count: 1000), b = String(repeating: "b", count: 70_000), c = "short"
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(a), \(b), \(c))")
        for query in ["SELECT a, b, c FROM \(table) WHERE id = 1", "SELECT a, b, c FROM \(table) WHERE id = \(backend.placeholder(1))"] {
            let binds: [DatabaseValue] = query.contains("= 1") ? [] : [.integer(1)]
            let rows = try connection.execute(unsafeSQL: query, binds: binds).decode(String.self, String.self, String.self)
            #expect(rows.count == 1)
            #expect(rows.first?.0 == a)
            #expect(rows.first?.1 == b)
            #expect(rows.first?.2 == c)
        }
    }

    @Test("a failed transaction cannot be committed; session changes need no open transaction", arguments: Backend.allCases)
    func failedTransaction(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        try connection.setAutocommit(false)
        _ = try? connection.execute("SELECT no_such_column")
        if backend == .postgres {
            let error = try #require(throws: WrapperError.self) { try connection.commit() }
            #expect(error.message.contains("rolled back"))
            try connection.execute("SELECT 1")
            #expect(throws: WrapperError.self) { try connection.setReadOnly(true) }
        }
        try connection.rollback()
        try connection.setAutocommit(true)
        try connection.setReadOnly(true)
        try connection.setReadOnly(false)
    }

    @Test("timestamps mean the same instant on both servers", arguments: Backend.allCases)
    func timestamps(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let expected = Date(timeIntervalSince1970: 1_000_000_000)  // 2001-09-09 01:46:40 UTC
        let sql: SQLQuery = backend == .postgres
            ? "SELECT TIMESTAMPTZ '2001-09-09 01:46:40+00', TIMESTAMP '2001-09-09 01:46:40'"
            : "SELECT FROM_UNIXTIME(1000000000), CAST('2001-09-09 01:46:40' AS DATETIME)"
        let row = try #require(try connection.execute(sql).rows.first)
        #expect(try Date(databaseValue: row[0]) == expected, "\(row[0])")
        #expect(try Date(databaseValue: row[1]) == expected, "\(row[1])")
    }
}
