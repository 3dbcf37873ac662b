import DriverDialects
import Foundation
import Testing
import WrapperCore

/// Hostile values through every statement API on real servers: they must arrive as data, whole,
/// and the table must still be there afterwards.
@Suite("Injection on real servers")
struct InjectionTests {
    static let hostile: [String] = [
        "x'); DROP TABLE {t}; --", "'; DROP TABLE {t}; SELECT '", "\"; DROP TABLE {t}; --", "\\'; DROP TABLE {t}; --",
        "/* */ DROP TABLE {t} /*", "-- DROP TABLE {t}", "a\\b\\\\c\\", "'' OR ''=''", "$1", "?", "%s %d", "\n;\r\n;\t",
        "💥 ✓ é", "$$; DROP TABLE {t}; $$", "`; DROP TABLE {t}; `",
    ]

    func withTable(_ backend: Backend, _ body: (WrapperConnection, String) throws -> Void) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let table = backend.table("inj")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int, name \(unsafeSQL: backend == .postgres ? "text" : "longtext"))")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        try body(connection, table)
        // The table survived everything the body sent.
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).count == 1)
    }

    @Test("hostile strings in values, WHERE and the select list round-trip as data", arguments: Backend.allCases)
    func hostileValues(backend: Backend) throws {
        try withTable(backend) { connection, table in
            for (index, template) in Self.hostile.enumerated() {
                let value = template.replacingOccurrences(of: "{t}", with: table)
                try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(index), \(value))")
                let found = try connection.execute("SELECT id, \(value) FROM \(unsafeSQL: table) WHERE name = \(value)")
                    .decode(Int.self, String.self)
                #expect(found.count == 1, "\(value)")
                #expect(found.first?.0 == index)
                #expect(found.first?.1 == value)
            }
            let count = try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first
            #expect(count == Self.hostile.count)
        }
    }

    @Test("stream, withTransaction and the async API bind hostile values too", arguments: Backend.allCases)
    func otherEntryPoints(backend: Backend) async throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        let table = backend.table("inj_async")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (id int, name varchar(200))")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        let value = "x'); DROP TABLE \(table); --"
        try connection.withTransaction { try $0.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(value))") }
        try await connection.async.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(2), \(value))")
        var streamed: [String] = []
        try connection.stream("SELECT name FROM \(unsafeSQL: table) WHERE name = \(value) ORDER BY id") { row in
            streamed.append(try String(databaseValue: row[0]))
        }
        #expect(streamed == [value, value])
    }

    @Test("a 1 MB hostile value is bound whole", arguments: Backend.allCases)
    func largeValue(backend: Backend) throws {
        try withTable(backend) { connection, table in
            let value = String(repeating: "'; DROP TABLE \(table); -- ", count: 1_048_576 / 30)
            try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(value))")
            let stored = try connection.execute("SELECT name FROM \(unsafeSQL: table) WHERE id = \(1)").decode(String.self)
            #expect(stored.first?.utf8.count == value.utf8.count)
            #expect(stored.first == value)
        }
    }

    @Test("NUL: stored whole by MariaDB, refused by PostgreSQL with a typed error instead of a cut value", arguments: Backend.allCases)
    func nul(backend: Backend) throws {
        try withTable(backend) { connection, table in
            let value = "before\u{0}'; DROP TABLE \(table); --"
            if backend == .postgres {
                let error = try #require(throws: WrapperError.self) {
                    try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(value))")
                }
                #expect(error.code == .invalidBind)
                #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 0)
                let inText = try #require(throws: WrapperError.self) { try connection.execute(unsafeSQL: "SELECT 1\u{0}; DROP TABLE \(table)") }
                #expect(inText.code == .invalidBind)
            } else {
                try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(value))")
                #expect(try connection.execute("SELECT name FROM \(unsafeSQL: table)").decode(String.self) == [value])
            }
        }
    }

    @Test("timestamps outside years 1-9999 are typed errors, not traps", arguments: Backend.allCases)
    func timestampRange(backend: Backend) throws {
        let connection = try backend.open()
        defer { try? connection.close() }
        for date in [Date(timeIntervalSince1970: 1e20), Date(timeIntervalSince1970: -1e20), Date.distantFuture.addingTimeInterval(1e12),
                     Date(timeIntervalSince1970: .nan), Date(timeIntervalSince1970: .infinity)]
        {
            let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT \(date)") }
            #expect(error.code == .invalidBind)
        }
        // The connection is still usable.
        #expect(try connection.execute("SELECT 1").decode(Int.self) == [1])
    }
}
