import DriverDialects
import Testing
import WrapperCore

@Suite("Error classification")
struct ErrorClassificationTests {
    @Test(
        "PostgreSQL SQLSTATEs are matched by class prefix",
        arguments: [
            ("08006", ErrorClassification.network), ("08001", .network), ("57P01", .network), ("53300", .network),
            ("XX000", .network), ("28P01", .login), ("28000", .login), ("25006", .readOnly), ("42601", ErrorClassification()),
            ("23505", ErrorClassification()),
        ])
    func postgresStates(state: String, expected: ErrorClassification) {
        #expect(PostgresErrorClassifier.classify(sqlState: state, message: "") == expected)
    }

    @Test("PostgreSQL messages without SQLSTATE")
    func postgresMessages() {
        #expect(PostgresErrorClassifier.classify(sqlState: nil, message: "server closed the connection unexpectedly") == .network)
        #expect(PostgresErrorClassifier.classify(sqlState: nil, message: "FATAL: password authentication failed for user") == .login)
        #expect(PostgresErrorClassifier.classify(sqlState: nil, message: "syntax error") == [])
    }

    @Test(
        "MySQL error numbers",
        arguments: [
            (2013, "HY000", ErrorClassification.network), (2006, "HY000", .network), (2003, "HY000", .network),
            (1045, "28000", .login), (1836, "HY000", .readOnly), (1064, "42000", ErrorClassification()),
            (1062, "23000", ErrorClassification()), (1927, "08S01", .network),
        ])
    func mysqlNumbers(number: Int, state: String, expected: ErrorClassification) {
        #expect(MySQLErrorClassifier.classify(errorNumber: number, sqlState: state, message: "") == expected)
    }

    @Test("1290 is read-only only for the read-only option")
    func readOnlyOption() {
        #expect(MySQLErrorClassifier.classify(
            errorNumber: 1290, sqlState: "HY000", message: "The MariaDB server is running with the --read-only option") == .readOnly)
        #expect(MySQLErrorClassifier.classify(
            errorNumber: 1290, sqlState: "HY000", message: "The MariaDB server is running with the --secure-file-priv option").isEmpty)
    }

    @Test("both C client libraries are linked")
    func libraries() {
        #expect(ClientLibraries.libpqVersion >= 100_000)
        #expect(ClientLibraries.mariadbClientVersion >= 30_000)
    }
}
