/// SQL text whose interpolated values become bound parameters, never SQL.
///
/// ```swift
/// try connection.execute("SELECT name FROM users WHERE id = \(id) AND active = \(true)")
/// ```
/// renders as `... WHERE id = $1 AND active = $2` on PostgreSQL and `... = ? AND ... = ?` on
/// MySQL, with the values bound. Only string literals convert to a query; SQL text held in a
/// `String` enters through ``init(unsafeSQL:)`` or ``StringInterpolation/appendInterpolation(unsafeSQL:)``,
/// for trusted fragments such as identifiers you produced yourself.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation {
    /// Literals only: `SQLQuery(stringLiteral:)` cannot be called with a `String` value.
    public typealias StringLiteralType = StaticString

    enum Segment: Sendable {
        case sql(String)
        case bind(DatabaseValue)
    }

    var segments: [Segment]

    /// A query without parameters. A `StaticString`: only a literal written in the source can be one.
    public init(stringLiteral value: StaticString) { segments = [.sql(value.description)] }

    /// A query from SQL text sent as it is: never build the text from values you did not write yourself.
    public init(unsafeSQL sql: String) { segments = [.sql(sql)] }

    /// A query built by interpolation.
    public init(stringInterpolation: StringInterpolation) { segments = stringInterpolation.segments }

    /// Collects literal SQL and bound values.
    public struct StringInterpolation: StringInterpolationProtocol {
        var segments: [Segment] = []

        /// Creates an empty interpolation.
        public init(literalCapacity: Int, interpolationCount: Int) {}

        /// The literal parts of an interpolation: source text only, never a `String` value.
        public typealias StringLiteralType = StaticString

        /// Appends SQL text written in the source.
        public mutating func appendLiteral(_ literal: StaticString) { segments.append(.sql(literal.description)) }

        /// Binds a value.
        public mutating func appendInterpolation(_ value: some DatabaseValueConvertible) {
            segments.append(.bind(value.databaseValue))
        }

        /// Binds a value, or NULL.
        public mutating func appendInterpolation(_ value: (some DatabaseValueConvertible)?) {
            segments.append(.bind(value?.databaseValue ?? .null))
        }

        /// Binds a ``DatabaseValue`` as it is.
        public mutating func appendInterpolation(_ value: DatabaseValue) { segments.append(.bind(value)) }

        /// Inserts trusted SQL text as it is: never pass user input here.
        public mutating func appendInterpolation(unsafeSQL sql: String) { segments.append(.sql(sql)) }
    }

    /// The SQL with placeholders in the driver's style, and the values to bind.
    public func render(placeholder: (Int) -> String) -> (sql: String, binds: [DatabaseValue]) {
        var sql = ""
        var binds: [DatabaseValue] = []
        for segment in segments {
            switch segment {
            case .sql(let text): sql += text
            case .bind(let value):
                binds.append(value)
                sql += placeholder(binds.count)
            }
        }
        return (sql, binds)
    }
}
