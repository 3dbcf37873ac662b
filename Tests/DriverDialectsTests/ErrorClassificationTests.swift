import DriverDialects
import Testing
import WrapperCore

@Suite("Error classification")
struct ErrorClassificationTests {
    @Test(
        "PostgreSQL: only states of a lost connection or instance are network errors",
        arguments: [
            ("08006", ErrorClassification.network), ("08001", .network), ("08P01", .network), ("57P01", .network),
            ("57P02", .network), ("57P03", .network), ("53300", .network),
            ("28P01", .login), ("28000", .login), ("25006", .readOnly),
            // Statement-level: the session is still usable, so no failover may start.
            ("XX000", ErrorClassification()), ("XX001", ErrorClassification()), ("53200", ErrorClassification()),
            ("53100", ErrorClassification()), ("58030", ErrorClassification()), ("F0000", ErrorClassification()),
            ("99999", ErrorClassification()), ("57014", ErrorClassification()), ("42601", ErrorClassification()),
            ("23505", ErrorClassification()), ("0800", ErrorClassification()),
        ])
    func postgresStates(state: String, expected: ErrorClassification) {
        #expect(PostgresErrorClassifier.classify(sqlState: state) == expected)
    }

    @Test("PostgreSQL errors without a SQLSTATE are network errors only when libpq reports the connection bad")
    func postgresClientErrors() {
        #expect(PostgresErrorClassifier.classifyClientError(connectionBad: true) == .network)
        #expect(PostgresErrorClassifier.classifyClientError(connectionBad: false) == [])
    }

    @Test(
        "MySQL error numbers",
        arguments: [
            (2013, "HY000", ErrorClassification.network), (2006, "HY000", .network), (2003, "HY000", .network),
            (1045, "28000", .login), (1836, "HY000", .readOnly), (1064, "42000", ErrorClassification()),
            (1062, "23000", ErrorClassification()), (1927, "08S01", .network), (2002, "HY000", .network),
            (1053, "08S01", .network), (4031, "HY000", .network), (1792, "25006", .readOnly),
            (1146, "42S02", ErrorClassification()), (1205, "HY000", ErrorClassification()),
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

    @Test("a server message that quotes user data never changes the class")
    func messagesAreNotRead() {
        // A duplicate key whose value is 'read_only' is a duplicate key, not a read-only server.
        #expect(MySQLErrorClassifier.classify(
            errorNumber: 1062, sqlState: "23000", message: "Duplicate entry 'read_only' for key 'PRIMARY'").isEmpty)
        #expect(MySQLErrorClassifier.classify(
            errorNumber: 1062, sqlState: "23000", message: "Duplicate entry '--read-only' for key 'name'").isEmpty)
        #expect(MySQLErrorClassifier.classify(
            errorNumber: 1644, sqlState: "45000", message: "Lost connection to server during query").isEmpty)
    }

    @Test("both C client libraries are linked")
    func libraries() {
        #expect(ClientLibraries.libpqVersion >= 100_000)
        #expect(ClientLibraries.mariadbClientVersion >= 30_000)
    }
}
