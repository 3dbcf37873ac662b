import CMariaDB
import Foundation
import WrapperCore

/// Values of MySQL and MariaDB in text form, decoded by field type.
enum MariaDBValues {
    /// The binary character set: its strings and blobs are bytes, not text.
    static let binaryCharset: UInt32 = 63

    static func decode(_ data: UnsafeRawBufferPointer, field: MYSQL_FIELD) -> DatabaseValue {
        let type = field.type
        let isBinary = field.charsetnr == binaryCharset
        if type == MYSQL_TYPE_BIT || (isBinary && isStringOrBlob(type)) {
            return .bytes(Array(data))
        }
        let text = String(decoding: data, as: UTF8.self)
        switch type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24, MYSQL_TYPE_YEAR:
            // An unsigned BIGINT above Int64.max stays exact as a decimal.
            return Int64(text).map(DatabaseValue.integer) ?? .decimal(text)
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return TextValues.double(text).map(DatabaseValue.double) ?? .text(text)
        case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return .decimal(text)
        case MYSQL_TYPE_DATE, MYSQL_TYPE_NEWDATE:
            return .date(text)
        case MYSQL_TYPE_TIME:
            return .time(text)
        case MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP:
            return TextValues.timestamp(text).map { .timestamp($0, hasTimeZone: type == MYSQL_TYPE_TIMESTAMP) } ?? .text(text)
        case MYSQL_TYPE_JSON:
            return .json(text)
        case MYSQL_TYPE_NULL:
            return .null
        default:
            return .text(text)
        }
    }

    static func isStringOrBlob(_ type: enum_field_types) -> Bool {
        [MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_VAR_STRING,
         MYSQL_TYPE_STRING, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_GEOMETRY].contains(type)
    }
}

/// A server-side prepared statement: parameters bound natively, results read row by row.
enum MariaDBStatement {
    static func run(
        _ connection: MariaDBConnection, _ sql: String, _ binds: [DatabaseValue],
        onRow: (([DatabaseValue]) throws -> Void)?, error: (UnsafeMutablePointer<MYSQL_STMT>?) -> WrapperError
    ) throws -> QueryResult {
        guard let statement = mysql_stmt_init(connection.handle) else { throw error(nil) }
        defer { mysql_stmt_close(statement) }
        let bytes = Array(sql.utf8)
        let prepared = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { mysql_stmt_prepare(statement, $0.baseAddress, UInt(buffer.count)) }
        }
        guard prepared == 0 else { throw error(statement) }
        let expected = Int(mysql_stmt_param_count(statement))
        guard expected == binds.count else {
            throw WrapperError(
                .driver, "The statement has \(expected) placeholder(s) but \(binds.count) value(s) were bound; use one ? per value.")
        }

        let parameters = try ParameterBuffers(binds)
        defer { parameters.release() }
        guard mysql_stmt_bind_param(statement, parameters.binds) == 0 else { throw error(statement) }
        guard mysql_stmt_execute(statement) == 0 else { throw error(statement) }

        var result = QueryResult()
        guard let metadata = mysql_stmt_result_metadata(statement) else {
            if mysql_stmt_errno(statement) != 0 { throw error(statement) }
            result.affectedRows = Int(truncatingIfNeeded: mysql_stmt_affected_rows(statement))
            return result
        }
        defer { mysql_free_result(metadata) }
        let count = Int(mysql_num_fields(metadata))
        let fields = UnsafeBufferPointer(start: mysql_fetch_fields(metadata), count: count)
        result.columns = fields.map { String(cString: $0.name) }

        let columns = ResultBuffers(count: count)
        defer { columns.release() }
        guard mysql_stmt_bind_result(statement, columns.binds) == 0 else { throw error(statement) }
        var failure: (any Error)?
        while true {
            let status = mysql_stmt_fetch(statement)
            if status == 100 { break }  // MYSQL_NO_DATA
            if status == 1 { throw error(statement) }
            // MYSQL_DATA_TRUNCATED: fetch every oversized column into a larger buffer first, and
            // rebind only after the row: rebinding resets the connector's position in the row.
            var regrown = false
            for index in 0..<count where columns.isNull[index] == 0 && Int(columns.lengths[index]) > columns.capacity[index] {
                columns.grow(index, to: Int(columns.lengths[index]))
                guard mysql_stmt_fetch_column(statement, columns.binds + index, UInt32(index), 0) == 0 else {
                    throw error(statement)
                }
                regrown = true
            }
            var values: [DatabaseValue] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                if columns.isNull[index] != 0 {
                    values.append(.null)
                    continue
                }
                let length = min(Int(columns.lengths[index]), columns.capacity[index])
                let data = UnsafeRawBufferPointer(start: columns.buffers[index], count: length)
                values.append(MariaDBValues.decode(data, field: fields[index]))
            }
            if regrown {
                columns.rebind()
                guard mysql_stmt_bind_result(statement, columns.binds) == 0 else { throw error(statement) }
            }
            if let onRow {
                if failure == nil { do { try onRow(values) } catch let caught { failure = caught } }
            } else {
                result.rows.append(values)
            }
        }
        if let failure { throw failure }
        result.affectedRows = Int(truncatingIfNeeded: mysql_stmt_affected_rows(statement))
        return result
    }

    /// Parameter values in C memory for `mysql_stmt_bind_param`.
    final class ParameterBuffers {
        let binds: UnsafeMutablePointer<MYSQL_BIND>
        private var allocations: [UnsafeMutableRawPointer] = []
        private let count: Int

        init(_ values: [DatabaseValue]) throws {
            // Checked before anything is allocated, so a throw leaks nothing.
            for value in values { try TextValues.checkBindable(value) }
            count = values.count
            binds = .allocate(capacity: max(1, count))
            binds.initialize(repeating: MYSQL_BIND(), count: max(1, count))
            for (index, value) in values.enumerated() {
                var bind = MYSQL_BIND()
                switch value {
                case .null:
                    bind.buffer_type = MYSQL_TYPE_NULL
                case .integer(let number):
                    let storage = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                    storage.storeBytes(of: number, as: Int64.self)
                    allocations.append(storage)
                    bind.buffer_type = MYSQL_TYPE_LONGLONG
                    bind.buffer = storage
                case .double(let number):
                    let storage = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                    storage.storeBytes(of: number, as: Double.self)
                    allocations.append(storage)
                    bind.buffer_type = MYSQL_TYPE_DOUBLE
                    bind.buffer = storage
                case .bool(let flag):
                    let storage = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
                    storage.storeBytes(of: flag ? 1 : 0, as: Int8.self)
                    allocations.append(storage)
                    bind.buffer_type = MYSQL_TYPE_TINY
                    bind.buffer = storage
                case .bytes(let data):
                    bind.buffer_type = MYSQL_TYPE_BLOB
                    bind.buffer = copy(data)
                    bind.buffer_length = UInt(data.count)
                default:
                    let text = Array(((try? TextValues.bindText(value, booleanTrue: "1", booleanFalse: "0")) ?? nil ?? "").utf8)
                    bind.buffer_type = MYSQL_TYPE_STRING
                    bind.buffer = copy(text)
                    bind.buffer_length = UInt(text.count)
                }
                binds[index] = bind
            }
        }

        private func copy(_ bytes: [UInt8]) -> UnsafeMutableRawPointer {
            let storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress { storage.copyMemory(from: base, byteCount: bytes.count) }
            }
            allocations.append(storage)
            return storage
        }

        func release() {
            allocations.forEach { $0.deallocate() }
            binds.deinitialize(count: max(1, count))
            binds.deallocate()
        }
    }

    /// Result columns fetched as strings (the connector converts numbers and dates to text).
    final class ResultBuffers {
        let binds: UnsafeMutablePointer<MYSQL_BIND>
        let lengths: UnsafeMutablePointer<UInt>
        let isNull: UnsafeMutablePointer<my_bool>
        private(set) var buffers: [UnsafeMutableRawPointer]
        private(set) var capacity: [Int]
        private let count: Int

        init(count: Int) {
            self.count = count
            binds = .allocate(capacity: max(1, count))
            binds.initialize(repeating: MYSQL_BIND(), count: max(1, count))
            lengths = .allocate(capacity: max(1, count))
            lengths.initialize(repeating: 0, count: max(1, count))
            isNull = .allocate(capacity: max(1, count))
            isNull.initialize(repeating: 0, count: max(1, count))
            capacity = Array(repeating: 256, count: count)
            buffers = (0..<count).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8) }
            rebind()
        }

        func rebind() {
            for index in 0..<count {
                var bind = MYSQL_BIND()
                bind.buffer_type = MYSQL_TYPE_STRING
                bind.buffer = buffers[index]
                bind.buffer_length = UInt(capacity[index])
                bind.length = lengths + index
                bind.is_null = isNull + index
                binds[index] = bind
            }
        }

        func grow(_ index: Int, to size: Int) {
            buffers[index].deallocate()
            buffers[index] = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            capacity[index] = size
            binds[index].buffer = buffers[index]
            binds[index].buffer_length = UInt(size)
        }

        func release() {
            buffers.forEach { $0.deallocate() }
            binds.deinitialize(count: max(1, count))
            binds.deallocate()
            lengths.deallocate()
            isNull.deallocate()
        }
    }
}
