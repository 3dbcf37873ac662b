import DriverDialects
import Foundation
import Testing
import WrapperCore

/// Statement-level errors reach the caller as themselves on real servers: only a lost connection
/// is a network error, whatever the SQLSTATE, error number or message text says.
@Suite("Error classification on real servers")
struct ClassificationOnServerTests {
    @Test("PostgreSQL: a user's RAISE with any SQLSTATE is a statement error; the connection stays usable", arguments: [
        "XX000", "XX001", "53200", "53100", "53300", "58030", "F0000", "08006", "08001", "57P01", "57P03", "99999",
    ])
    func postgresRaise(state: String) throws {
        let connection = try Backend.postgres.open()
        defer { try? connection.close() }
        let error = try #require(throws: WrapperError.self) {
            try connection.execute(unsafeSQL: "DO $$ BEGIN RAISE EXCEPTION 'read_only --read-only connection lost' USING ERRCODE = '\(state)'; END $$")
        }
        #expect(error.code == .driver, "\(error)")
        #expect(error.sqlState == state)
        #expect(!PostgresDriver().classify(error).contains(.network))
        #expect(try connection.execute("SELECT 1").decode(Int.self) == [1])
    }

    @Test("PostgreSQL: a session terminated by the server is a network error")
    func postgresTerminated() throws {
        let victim = try Backend.postgres.open()
        defer { try? victim.close() }
        let pid = try victim.execute("SELECT pg_backend_pid()").decode(Int.self)[0]
        let admin = try Backend.postgres.open()
        defer { try? admin.close() }
        #expect(try admin.execute("SELECT pg_terminate_backend(\(pid))").decode(Bool.self) == [true])
        let error = try #require(throws: WrapperError.self) { try victim.execute("SELECT 1") }
        #expect(error.code == .network, "\(error)")
    }

    @Test("MySQL: messages that quote user data and SIGNALs never make a network or read-only error")
    func mysqlStatements() throws {
        let connection = try Backend.mariadb.open()
        defer { try? connection.close() }
        let table = Backend.mariadb.table("cls")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (name varchar(40) PRIMARY KEY)")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\("read_only"))")
        let duplicate = try #require(throws: WrapperError.self) { try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\("read_only"))") }
        #expect(duplicate.code == .driver, "\(duplicate)")
        #expect(duplicate.driverCode == 1062)
        for signal in [
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'The server is running with the --read-only option'",
            "SIGNAL SQLSTATE '08S01' SET MESSAGE_TEXT = 'Lost connection to server during query'",
            "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 2013, MESSAGE_TEXT = 'Lost connection'",
            "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 2006, MESSAGE_TEXT = 'Server has gone away'",
            // Not here: a SIGNAL that sets MYSQL_ERRNO to a server error number (1290, 1927, 1053) is
            // indistinguishable from the server's own error; see the README's classification table.
        ] {
            let error = try #require(throws: WrapperError.self) {
                try connection.execute(unsafeSQL: "BEGIN NOT ATOMIC \(signal); END")
            }
            #expect(error.code == .driver, "\(signal): \(error)")
            #expect(MariaDBDriver().classify(error).isEmpty, "\(signal)")
            #expect(try connection.execute("SELECT 1").decode(Int.self) == [1])
        }
    }

    @Test("MySQL: a connection killed by the server is a network error")
    func mysqlKilled() throws {
        let victim = try Backend.mariadb.open()
        defer { try? victim.close() }
        let id = try victim.execute("SELECT CONNECTION_ID()").decode(Int.self)[0]
        let admin = try Backend.mariadb.open()
        defer { try? admin.close() }
        try admin.execute("KILL \(unsafeSQL: String(id))")
        let error = try #require(throws: WrapperError.self) { try victim.execute("SELECT 1") }
        #expect(error.code == .network, "\(error)")
    }
}
