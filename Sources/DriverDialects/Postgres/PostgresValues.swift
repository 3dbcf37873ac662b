import CLibPQ
import Foundation
import WrapperCore

/// Text-format values of PostgreSQL, decoded by type OID.
enum PostgresValues {
    static func decode(_ result: OpaquePointer, row: Int32, column: Int32, type: Oid) -> DatabaseValue {
        if PQgetisnull(result, row, column) == 1 { return .null }
        let pointer = PQgetvalue(result, row, column)!
        if type == 17 {  // bytea: hex text
            var length = 0
            guard let bytes = PQunescapeBytea(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), &length) else {
                return .bytes([])
            }
            defer { PQfreemem(bytes) }
            return .bytes(Array(UnsafeBufferPointer(start: bytes, count: length)))
        }
        switch type {
        case 16: return .bool(pointer.pointee == CChar(UInt8(ascii: "t")))
        case 20, 21, 23, 26:
            // Parsed from the C bytes: no String for the common integer columns.
            if let value = integer(pointer) { return .integer(Int64(value)) }
        default: break
        }
        let text = String(cString: pointer)
        switch type {
        case 20, 21, 23, 26: return Int64(text).map(DatabaseValue.integer) ?? .text(text)
        case 700, 701: return TextValues.double(text).map(DatabaseValue.double) ?? .text(text)
        case 1700: return .decimal(text)
        case 1082: return .date(text)
        case 1083, 1266: return .time(text)
        case 1114: return TextValues.timestamp(text).map { .timestamp($0, hasTimeZone: false) } ?? .text(text)
        case 1184: return TextValues.timestamp(text).map { .timestamp($0, hasTimeZone: true) } ?? .text(text)
        case 2950: return UUID(uuidString: text).map(DatabaseValue.uuid) ?? .text(text)
        case 114, 3802: return .json(text)
        default: return .text(text)
        }
    }
}

extension PostgresValues {
    /// A decimal integer from a NUL-terminated C string, or `nil` when it is not one or overflows.
    static func integer(_ text: UnsafePointer<CChar>) -> Int? {
        var pointer = text
        let negative = pointer.pointee == CChar(UInt8(ascii: "-"))
        if negative { pointer += 1 }
        guard pointer.pointee != 0 else { return nil }
        var value = 0
        while pointer.pointee != 0 {
            let digit = Int(pointer.pointee) - 48
            guard digit >= 0, digit <= 9 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = added
            pointer += 1
        }
        return value
    }
}

/// Bound parameters in libpq's form: text for everything but bytes, which go binary.
enum PostgresBinds {
    static func withParameters<Result>(
        _ binds: [DatabaseValue],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) throws -> Result
    ) throws -> Result {
        guard !binds.isEmpty else { return try body(0, nil, nil, nil) }
        guard binds.count <= 65_535 else {
            throw WrapperError(.invalidProperty, "\(binds.count) parameters exceed PostgreSQL's limit of 65535 per statement.")
        }
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { buffers.forEach { free($0) } }
        for value in binds {
            if case .bytes(let bytes) = value {
                guard bytes.count <= Int(Int32.max) else {
                    throw WrapperError(.invalidBind, "A bytes bind of \(bytes.count) bytes exceeds the 2 GiB a PostgreSQL parameter can hold.")
                }
                // malloc, so every buffer is released the same way (free) below.
                let copy = malloc(max(1, bytes.count))!
                bytes.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
                }
                buffers.append(copy.assumingMemoryBound(to: CChar.self))
                lengths.append(Int32(bytes.count))
                formats.append(1)
            } else if let text = try TextValues.bindText(value, booleanTrue: "t", booleanFalse: "f", utcSuffix: "+00") {
                // libpq sends text parameters as C strings: a NUL would silently cut the value.
                guard !text.utf8.contains(0) else {
                    throw WrapperError(.invalidBind, "PostgreSQL text cannot hold the NUL character (U+0000); bind the value as bytes or remove the NUL.")
                }
                buffers.append(strdup(text))
                lengths.append(0)
                formats.append(0)
            } else {
                buffers.append(nil)
                lengths.append(0)
                formats.append(0)
            }
        }
        let constBuffers = buffers.map { UnsafePointer($0) }
        return try constBuffers.withUnsafeBufferPointer { values in
            try lengths.withUnsafeBufferPointer { lengths in
                try formats.withUnsafeBufferPointer { formats in
                    try body(Int32(binds.count), values.baseAddress, lengths.baseAddress, formats.baseAddress)
                }
            }
        }
    }
}
