import InMemoryDriver
import Testing
import WrapperCore

/// What the driver received: the SQL text and the bound values of every statement.
final class StatementLog: Sendable {
    private let entries = LockedValue<[(sql: String, binds: [DatabaseValue])]>([])

    var all: [(sql: String, binds: [DatabaseValue])] { entries.withLock { $0 } }
    var last: (sql: String, binds: [DatabaseValue])? { all.last }

    func driver() -> InMemoryDriver {
        InMemoryDriver { [self] sql, binds, _ in
            entries.withLock { $0.append((sql, binds)) }
            return QueryResult(columns: ["v"], rows: [[.integer(1)]])
        }
    }
}

@Suite("Statements bind by construction")
struct BindingTests {
    static let hostile: [String] = [
        "'x'; DROP TABLE t; --", "\"; DELETE FROM t; /*", "\\'; SELECT pg_sleep(10); --", "a\u{0}b", "*/ OR 1=1 --",
        "$1", "?", "%s", "'' OR ''=''", "\n;\n", String(repeating: "';", count: 500_000),
    ]

    func open(_ log: StatementLog) throws -> WrapperConnection {
        try WrapperConnection.open("postgresql://app@db1/shop?plugins=", driver: log.driver(), registry: PluginRegistry())
    }

    @Test("an interpolated literal passed to execute is bound, never spliced", arguments: hostile)
    func executeBinds(value: String) throws {
        let log = StatementLog()
        let connection = try open(log)
        // The README's spelling: plain interpolation, no label. If an overload taking String ever
        // wins this call again, the value lands in the SQL text and this test fails.
        try connection.execute("SELECT count(*) FROM t WHERE name = \(value)")
        let statement = try #require(log.last)
        #expect(statement.sql == "SELECT count(*) FROM t WHERE name = ?")
        #expect(statement.binds == [.text(value)])
    }

    @Test("values in every position are bound: select list, where, values, limit")
    func everyPosition() throws {
        let log = StatementLog()
        let connection = try open(log)
        let name = "'; DROP TABLE t; --", id = 7, flag = true, missing: String? = nil
        try connection.execute("SELECT \(name), \(id) FROM t WHERE a = \(name) AND b IN (\(id), \(flag)) LIMIT \(id)")
        #expect(log.last?.sql == "SELECT ?, ? FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?")
        #expect(log.last?.binds == [.text(name), .integer(7), .text(name), .integer(7), .bool(true), .integer(7)])
        try connection.execute("INSERT INTO t VALUES (\(name), \(missing), \(DatabaseValue.bytes([0, 39, 59])))")
        #expect(log.last?.sql == "INSERT INTO t VALUES (?, ?, ?)")
        #expect(log.last?.binds == [.text(name), .null, .bytes([0, 39, 59])])
    }

    @Test("stream, withTransaction bodies and the async API bind the same way")
    func otherEntryPoints() async throws {
        let log = StatementLog()
        let connection = try open(log)
        let value = "x'); DROP TABLE t; --"
        try connection.stream("SELECT * FROM t WHERE name = \(value)") { _ in }
        #expect(log.last?.sql == "SELECT * FROM t WHERE name = ?")
        #expect(log.last?.binds == [.text(value)])
        try connection.withTransaction { try $0.execute("UPDATE t SET name = \(value)") }
        #expect(log.all.contains { $0.sql == "UPDATE t SET name = ?" && $0.binds == [.text(value)] })
        try await connection.async.execute("DELETE FROM t WHERE name = \(value)")
        #expect(log.last?.sql == "DELETE FROM t WHERE name = ?")
        #expect(log.last?.binds == [.text(value)])
        _ = try await connection.async.withTransaction { try $0.execute("SELECT \(value)") }
        #expect(log.all.contains { $0.sql == "SELECT ?" && $0.binds == [.text(value)] })
    }

    @Test("raw SQL text goes only through APIs named unsafe, as it is")
    func unsafeSQL() throws {
        let log = StatementLog()
        let connection = try open(log)
        let table = "t_audit"
        try connection.execute("SELECT * FROM \(unsafeSQL: table) WHERE id = \(1)")
        #expect(log.last?.sql == "SELECT * FROM t_audit WHERE id = ?")
        let text = "SELECT 1"
        try connection.execute(unsafeSQL: text, binds: [.integer(2)])
        #expect(log.last?.sql == "SELECT 1")
        #expect(log.last?.binds == [.integer(2)])
        try connection.execute(SQLQuery(unsafeSQL: "SELECT 3"))
        #expect(log.last?.sql == "SELECT 3")
    }

    @Test("PostgreSQL placeholders are numbered in order")
    func numbering() {
        let query: SQLQuery = "SELECT \(1), \("a"), \(2.5)"
        let (sql, binds) = query.render { "$\($0)" }
        #expect(sql == "SELECT $1, $2, $3")
        #expect(binds == [.integer(1), .text("a"), .double(2.5)])
    }
}
