import Foundation

/// A Swift type that converts to and from a ``DatabaseValue``.
///
/// Conversions are strict: a value that does not fit the type asked for (text read as `Int`, an
/// integer out of `Int32`'s range, NULL read as a non-optional) is a ``WrapperError`` with code
/// ``WrapperError/Code/typeMismatch``.
public protocol DatabaseValueConvertible: Sendable {
    /// The value to bind.
    var databaseValue: DatabaseValue { get }
    /// Reads the type from a value.
    init(databaseValue: DatabaseValue) throws
}

func mismatch(_ value: DatabaseValue, _ type: Any.Type) -> WrapperError {
    let kind: String
    switch value {
    case .null: kind = "NULL"
    case .integer: kind = "an integer"
    case .double: kind = "a floating-point number"
    case .decimal: kind = "a decimal"
    case .text: kind = "text"
    case .bytes: kind = "bytes"
    case .bool: kind = "a boolean"
    case .date: kind = "a date"
    case .time: kind = "a time"
    case .timestamp: kind = "a timestamp"
    case .uuid: kind = "a UUID"
    case .json: kind = "JSON"
    }
    return WrapperError(.typeMismatch, "Cannot read \(kind) as \(type); ask for a matching type or an Optional for NULL.")
}

extension Int64: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(self) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .integer(let value): self = value
        case .bool(let value): self = value ? 1 : 0
        case .decimal(let text) where Int64(text) != nil: self = Int64(text)!
        default: throw mismatch(databaseValue, Int64.self)
        }
    }
}

extension Int: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
    public init(databaseValue: DatabaseValue) throws {
        let wide = try Int64(databaseValue: databaseValue)
        guard let value = Int(exactly: wide) else { throw mismatch(databaseValue, Int.self) }
        self = value
    }
}

extension Int32: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
    public init(databaseValue: DatabaseValue) throws {
        let wide = try Int64(databaseValue: databaseValue)
        guard let value = Int32(exactly: wide) else {
            throw WrapperError(.typeMismatch, "The integer \(wide) does not fit in Int32; read it as Int or Int64.")
        }
        self = value
    }
}

extension Double: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .double(self) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .double(let value): self = value
        case .integer(let value): self = Double(value)
        case .decimal(let text) where Double(text) != nil: self = Double(text)!
        default: throw mismatch(databaseValue, Double.self)
        }
    }
}

extension Decimal: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .decimal(description) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .decimal(let text) where Decimal(string: text) != nil: self = Decimal(string: text)!
        case .integer(let value): self = Decimal(value)
        default: throw mismatch(databaseValue, Decimal.self)
        }
    }
}

extension String: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .text(self) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .text(let text), .decimal(let text), .date(let text), .time(let text), .json(let text): self = text
        case .uuid(let uuid): self = uuid.uuidString.lowercased()
        default: throw mismatch(databaseValue, String.self)
        }
    }
}

extension Bool: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .bool(self) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .bool(let value): self = value
        case .integer(let value) where value == 0 || value == 1: self = value == 1
        default: throw mismatch(databaseValue, Bool.self)
        }
    }
}

extension Array: DatabaseValueConvertible where Element == UInt8 {
    public var databaseValue: DatabaseValue { .bytes(self) }
    public init(databaseValue: DatabaseValue) throws {
        guard case .bytes(let bytes) = databaseValue else { throw mismatch(databaseValue, [UInt8].self) }
        self = bytes
    }
}

extension Date: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .timestamp(self, hasTimeZone: true) }
    public init(databaseValue: DatabaseValue) throws {
        guard case .timestamp(let date, _) = databaseValue else { throw mismatch(databaseValue, Date.self) }
        self = date
    }
}

extension UUID: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .uuid(self) }
    public init(databaseValue: DatabaseValue) throws {
        switch databaseValue {
        case .uuid(let uuid): self = uuid
        case .text(let text) where UUID(uuidString: text) != nil: self = UUID(uuidString: text)!
        default: throw mismatch(databaseValue, UUID.self)
        }
    }
}

extension Optional: DatabaseValueConvertible where Wrapped: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { self?.databaseValue ?? .null }
    public init(databaseValue: DatabaseValue) throws {
        self = databaseValue.isNull ? nil : try Wrapped(databaseValue: databaseValue)
    }
}

extension DatabaseValue: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { self }
    public init(databaseValue: DatabaseValue) throws { self = databaseValue }
}

extension QueryResult {
    /// Every row decoded into a tuple of Swift types, one per column.
    ///
    /// ```swift
    /// for (id, name) in try result.decode(Int.self, String?.self) { ... }
    /// ```
    /// - Throws: ``WrapperError/Code/typeMismatch`` when the column count differs or a value does not fit.
    public func decode<each Column: DatabaseValueConvertible>(_ types: repeat (each Column).Type) throws
        -> [(repeat each Column)]
    {
        try rows.map { try QueryResult.decodeRow($0, repeat each types) }
    }

    /// One row decoded into a tuple of Swift types.
    public static func decodeRow<each Column: DatabaseValueConvertible>(
        _ row: [DatabaseValue], _ types: repeat (each Column).Type
    ) throws -> (repeat each Column) {
        var expected = 0
        for _ in repeat (each types) { expected += 1 }
        guard expected == row.count else {
            throw WrapperError(.typeMismatch, "The row has \(row.count) column(s) but \(expected) type(s) were asked for.")
        }
        var index = 0
        func next<T: DatabaseValueConvertible>(_ type: T.Type) throws -> T {
            defer { index += 1 }
            do { return try T(databaseValue: row[index]) } catch var error as WrapperError {
                error.message = "Column \(index + 1): " + error.message
                throw error
            }
        }
        return (repeat try next(each types))
    }

    /// The value of `column` in row `row`, decoded.
    public func value<T: DatabaseValueConvertible>(_ column: String, row: Int = 0, as type: T.Type = T.self) throws -> T {
        guard let index = columns.firstIndex(of: column) else {
            throw WrapperError(.typeMismatch, "No column named '\(column)'. Columns: \(columns.joined(separator: ", ")).")
        }
        guard rows.indices.contains(row) else {
            throw WrapperError(.typeMismatch, "No row \(row): the result has \(rows.count) row(s).")
        }
        return try T(databaseValue: rows[row][index])
    }
}
