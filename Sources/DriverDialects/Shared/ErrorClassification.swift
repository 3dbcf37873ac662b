import Foundation
import WrapperCore

/// How PostgreSQL errors are classified: by SQLSTATE, never by the text of a server message.
///
/// Only states that mean the *connection or the instance* is lost are network errors, because a
/// network error starts a failover. A statement-level error (a user's `RAISE ... USING ERRCODE`,
/// one query out of memory, a full disk) reaches the caller as itself, with its SQLSTATE:
///
/// | SQLSTATE | Class | Why |
/// | --- | --- | --- |
/// | `08xxx` | network | connection exception: the session is gone |
/// | `57P01`, `57P02`, `57P03` | network | admin shutdown, crash shutdown, cannot connect now (recovery, promotion) |
/// | `53300` | network | too many connections: only ever raised by a connect, the host cannot take us |
/// | other `53xxx`, `58xxx`, `F0xxx`, `XXxxx` | statement error | the server is up and the session usable (JDBC prefix-matches these and fails over on a user's `XX000`) |
/// | `28000`, `28P01` | login | invalid authorization, invalid password |
/// | `25006` | read-only | read-only SQL transaction |
///
/// Errors without a SQLSTATE come from libpq itself; they are network errors when libpq reports the
/// connection bad. (A failed connect has no SQLSTATE either; the driver classifies it when it
/// connects, from libpq's fixed connect messages.)
public enum PostgresErrorClassifier {
    /// SQLSTATE classes (first two characters) whose every state means the connection is lost.
    public static let networkClasses: Set<String> = ["08"]
    /// Single SQLSTATEs that mean the connection or the instance is lost.
    public static let networkStates: Set<String> = ["57P01", "57P02", "57P03", "53300"]
    /// SQLSTATEs of rejected credentials.
    public static let loginStates: Set<String> = ["28000", "28P01"]
    /// SQLSTATEs of a write on a read-only host or transaction.
    public static let readOnlyStates: Set<String> = ["25006"]

    /// Classifies a SQLSTATE reported by the server.
    public static func classify(sqlState: String) -> ErrorClassification {
        if loginStates.contains(sqlState) { return .login }
        if readOnlyStates.contains(sqlState) { return .readOnly }
        if networkStates.contains(sqlState) || (sqlState.utf8.count == 5 && networkClasses.contains(String(sqlState.prefix(2)))) { return .network }
        return []
    }

    /// Classifies a libpq error that has no SQLSTATE: network when libpq says the connection is bad.
    public static func classifyClientError(connectionBad: Bool) -> ErrorClassification {
        connectionBad ? .network : []
    }
}

/// How MySQL and MariaDB errors are classified: by error number and SQLSTATE, never by the text
/// of a server message (a user's `Duplicate entry 'read_only'` is error 1062, nothing more).
///
/// | Error | Class | Why |
/// | --- | --- | --- |
/// | 2001-2004, 2006, 2012, 2013, 2026, 2055 | network | client errors: cannot connect (2002 socket, 2003 TCP), server gone (2006), lost during a query (2013) |
/// | 1053, 1927, 4031 | network | server shutdown in progress; connection killed; disconnected by the server after inactivity |
/// | SQLSTATE `08xxx` | network | connection exception |
/// | 1044, 1045, 1698, 1862 | login | access denied; password expired |
/// | 1792, 1836 | read-only | write in a read-only transaction; server in read-only mode |
/// | 1290 with the `--read-only` / `--super-read-only` option | read-only | 1290's only variable part is the option's name, which the server fills in |
public enum MySQLErrorClassifier {
    /// Client and server errors of a broken or unreachable connection.
    public static let networkErrorNumbers: Set<Int> = [2001, 2002, 2003, 2004, 2006, 2012, 2013, 2026, 2055, 1053, 1927, 4031]
    /// Server errors of rejected credentials.
    public static let loginErrorNumbers: Set<Int> = [1044, 1045, 1698, 1862]
    /// Server errors of a write on a read-only server or transaction.
    public static let readOnlyErrorNumbers: Set<Int> = [1792, 1836]
    /// ER_SIGNAL_WARN and ER_SIGNAL_EXCEPTION: raised by a user's SIGNAL or RESIGNAL.
    public static let signalErrorNumbers: Set<Int> = [1642, 1643, 1644]
    /// ER_OPTION_PREVENTS_STATEMENT: "The server is running with the %s option so it cannot execute this statement".
    public static let optionPreventsStatement = 1290

    /// Classifies an error number and SQLSTATE. `message` is read for error 1290 only, to learn
    /// which server option refused the statement.
    public static func classify(errorNumber: Int, sqlState: String?, message: String) -> ErrorClassification {
        // A SIGNAL without MYSQL_ERRNO: the user's own error, whatever SQLSTATE it names.
        if signalErrorNumbers.contains(errorNumber) { return [] }
        if loginErrorNumbers.contains(errorNumber) || sqlState == "28000" { return .login }
        if readOnlyErrorNumbers.contains(errorNumber) { return .readOnly }
        if errorNumber == optionPreventsStatement, refusingOption(in: message).map(readOnlyOptions.contains) == true {
            return .readOnly
        }
        if networkErrorNumbers.contains(errorNumber) { return .network }
        if let sqlState, sqlState.hasPrefix("08") { return .network }
        return []
    }

    static let readOnlyOptions: Set<String> = ["--read-only", "--super-read-only", "--read_only", "--super_read_only"]

    /// The option named in a 1290 message: the word after "running with the".
    static func refusingOption(in message: String) -> String? {
        guard let marker = message.range(of: "running with the ") else { return nil }
        let rest = message[marker.upperBound...]
        return String(rest.prefix { $0 != " " }).lowercased()
    }
}
