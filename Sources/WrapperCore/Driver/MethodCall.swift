import Foundation

/// One network-bound call on a connection, as it flows through the plugin chain.
///
/// A plugin may inspect it (the method, the SQL) or pass a modified copy to `next`.
public struct MethodCall: Sendable {
    /// Which method this is.
    public var method: PluginMethod
    /// The SQL text, for statement methods.
    public var sql: String
    /// Bound parameters, for statement methods.
    public var binds: [DatabaseValue]
    /// The argument of a setter (autocommit, read-only, isolation, schema).
    public var argument: SessionValue?

    /// Creates a call.
    @inlinable
    public init(_ method: PluginMethod, sql: String = "", binds: [DatabaseValue] = [], argument: SessionValue? = nil) {
        self.method = method
        self.sql = sql
        self.binds = binds
        self.argument = argument
    }
}

/// What a call through the chain returns. Hooks pass it through unchanged unless they mean to
/// replace the result (a cache, for example).
public enum CallResult: Sendable {
    /// Nothing (commit, rollback, setters, close).
    case void
    /// A boolean (autocommit, read-only, closed).
    case bool(Bool)
    /// A statement's result.
    case rows(QueryResult)
    /// A session value (isolation level, schema).
    case session(SessionValue)

    /// The rows, or an internal error if the call returned something else.
    public func queryResult() throws -> QueryResult {
        if case .rows(let result) = self { return result }
        throw WrapperError(.internalError, "Expected a query result, got \(self).")
    }

    /// The boolean, or an internal error if the call returned something else.
    public func boolValue() throws -> Bool {
        if case .bool(let value) = self { return value }
        throw WrapperError(.internalError, "Expected a boolean result, got \(self).")
    }
}

/// A session setting carried from one physical connection to the next on a switch.
public enum SessionValue: Sendable, Hashable {
    /// Autocommit on or off.
    case autocommit(Bool)
    /// Read-only on or off.
    case readOnly(Bool)
    /// The transaction isolation level.
    case isolation(IsolationLevel)
    /// The current schema (PostgreSQL `search_path`) or catalog (MySQL database).
    case schema(String)
}

/// Transaction isolation levels.
public enum IsolationLevel: String, Sendable, Hashable, CaseIterable {
    /// Reads a level as servers write it (`read committed`, `REPEATABLE-READ`, ...).
    ///
    /// - Throws: ``WrapperError`` for text that names no level.
    public init(serverText text: String) throws {
        guard let level = IsolationLevel(rawValue: text.replacingOccurrences(of: "-", with: " ").uppercased()) else {
            throw WrapperError(.driver, "The server reported an unknown isolation level '\(text)'.")
        }
        self = level
    }

    /// READ UNCOMMITTED.
    case readUncommitted = "READ UNCOMMITTED"
    /// READ COMMITTED.
    case readCommitted = "READ COMMITTED"
    /// REPEATABLE READ.
    case repeatableRead = "REPEATABLE READ"
    /// SERIALIZABLE.
    case serializable = "SERIALIZABLE"
}
