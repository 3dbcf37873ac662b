import WrapperCore

/// How PostgreSQL errors are classified, by SQLSTATE and by libpq's message when there is no SQLSTATE.
///
/// SQLSTATE classes are matched by prefix (`08006` is in class `08`); the reference's exact match
/// missed them.
public enum PostgresErrorClassifier {
    /// SQLSTATE prefixes that mean the connection or the server is gone.
    public static let networkStates = ["08", "53", "57P01", "57P02", "57P03", "58", "99", "F0", "XX"]
    /// SQLSTATEs of rejected credentials.
    public static let loginStates = ["28000", "28P01"]
    /// SQLSTATEs of a write on a read-only host or transaction.
    public static let readOnlyStates = ["25006"]
    /// libpq messages of a broken connection, when no SQLSTATE came back.
    public static let networkMessagePrefixes = [
        "connection failed", "consuming input failed", "connection socket closed", "the connection is closed",
        "server closed the connection", "could not connect", "no connection to the server", "could not send data",
        "could not receive data", "connection to server", "timeout expired", "SSL SYSCALL error", "terminating connection",
    ]

    /// Classifies a SQLSTATE and message.
    public static func classify(sqlState: String?, message: String) -> ErrorClassification {
        if let sqlState {
            if loginStates.contains(sqlState) { return .login }
            if readOnlyStates.contains(sqlState) { return .readOnly }
            if networkStates.contains(where: { sqlState.hasPrefix($0) }) { return .network }
            return []
        }
        let lower = message.lowercased()
        if lower.contains("password authentication failed") || lower.contains("pam authentication failed") {
            return .login
        }
        if networkMessagePrefixes.contains(where: { lower.contains($0.lowercased()) }) { return .network }
        return []
    }
}

/// How MySQL and MariaDB errors are classified, by client/server error number and SQLSTATE.
public enum MySQLErrorClassifier {
    /// Client errors of a broken or unreachable connection (CR_* codes).
    public static let networkErrorNumbers: Set<Int> = [2001, 2002, 2003, 2004, 2006, 2012, 2013, 2026, 2055, 4031]
    /// Server errors of rejected credentials.
    public static let loginErrorNumbers: Set<Int> = [1044, 1045, 1698, 1862]
    /// Server errors of a write on a read-only server (`--read-only`, super-read-only, replica).
    public static let readOnlyErrorNumbers: Set<Int> = [1792, 1836]

    /// Classifies an error number, SQLSTATE and message.
    public static func classify(errorNumber: Int, sqlState: String?, message: String) -> ErrorClassification {
        if loginErrorNumbers.contains(errorNumber) || sqlState == "28000" { return .login }
        // 1290 is "the server runs with an option that prevents this": read-only only for --read-only.
        if readOnlyErrorNumbers.contains(errorNumber) || message.contains("--read-only") || message.contains("read_only")
            || (errorNumber == 1290 && message.lowercased().contains("read"))
        {
            return .readOnly
        }
        if networkErrorNumbers.contains(errorNumber) { return .network }
        if let sqlState, sqlState.hasPrefix("08") { return .network }
        return []
    }
}
