import Foundation

/// A value sent to or read from the database, independent of the driver.
public enum DatabaseValue: Sendable, Hashable, CustomStringConvertible {
    /// SQL NULL.
    case null
    /// An integer (any width up to 64 bits).
    case integer(Int64)
    /// A binary floating-point number.
    case double(Double)
    /// An exact decimal, kept as its text to lose no digit.
    case decimal(String)
    /// Text.
    case text(String)
    /// Binary data.
    case bytes([UInt8])
    /// A boolean.
    case bool(Bool)
    /// A calendar date, as `YYYY-MM-DD`.
    case date(String)
    /// A time of day, as the server writes it.
    case time(String)
    /// A timestamp; `hasTimeZone` tells `timestamptz` from `timestamp`.
    case timestamp(Date, hasTimeZone: Bool)
    /// A UUID.
    case uuid(UUID)
    /// JSON text.
    case json(String)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let value): String(value)
        case .double(let value): String(value)
        case .decimal(let value), .text(let value), .date(let value), .time(let value), .json(let value): value
        case .bytes(let value): "<\(value.count) bytes>"
        case .bool(let value): String(value)
        case .timestamp(let value, _): value.formatted(.iso8601)
        case .uuid(let value): value.uuidString
        }
    }

    /// Whether this is SQL NULL.
    public var isNull: Bool { if case .null = self { true } else { false } }
}

/// The result of one statement: column names, rows of values and the count of affected rows.
public struct QueryResult: Sendable, Hashable {
    /// Column names, in order.
    public var columns: [String]
    /// Rows, each with one value per column.
    public var rows: [[DatabaseValue]]
    /// Rows inserted, updated or deleted, when the statement reports it.
    public var affectedRows: Int
    /// Whether the rows were handed to a row handler as they arrived (``rows`` is then empty).
    public var isStreamed = false

    /// Creates a result.
    public init(columns: [String] = [], rows: [[DatabaseValue]] = [], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// An empty result.
    public static let empty = QueryResult()
}
