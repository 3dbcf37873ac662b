import Foundation
import WrapperCore

/// Parsing of the text forms both servers use for dates, times and numbers.
enum TextValues {
    /// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH[:MM[:SS]]]`; without an offset the time is UTC.
    static func timestamp(_ text: String) -> Date? {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), (1...31).contains(day), year > 0
        else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        if index == bytes.count { return Date(timeIntervalSince1970: seconds) }
        guard expect(" T"), let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
            hour <= 24, minute <= 59, second <= 60
        else { return nil }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var fraction = 0.0
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            seconds += fraction
        }
        if index < bytes.count {
            if bytes[index] == UInt8(ascii: "Z") {
                index += 1
            } else {
                let sign: Double = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                guard expect("+-"), let offsetHours = number(2) else { return nil }
                var offset = offsetHours * 3600
                if expect(":") || (index < bytes.count && bytes[index] >= 48 && bytes[index] <= 57) {
                    guard let offsetMinutes = number(2) else { return nil }
                    offset += offsetMinutes * 60
                    if expect(":"), let offsetSeconds = number(2) { offset += offsetSeconds }
                }
                seconds -= sign * Double(offset)
            }
        }
        guard index == bytes.count else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Formats a date as `YYYY-MM-DD HH:MM:SS.ffffff+00`, which both servers accept.
    static func format(_ date: Date) -> String {
        let total = date.timeIntervalSince1970
        var whole = Int(total.rounded(.down))
        var micros = Int(((total - Double(whole)) * 1_000_000).rounded())
        if micros == 1_000_000 {
            whole += 1
            micros = 0
        }
        var days = whole / 86_400
        var secondsOfDay = whole % 86_400
        if secondsOfDay < 0 {
            secondsOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(secondsOfDay / 3600, 2)):"
            + "\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(micros, 6))"
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Parses a floating-point number, including PostgreSQL's `NaN` and `Infinity`.
    static func double(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "Infinity", "inf": return .infinity
        case "-Infinity", "-inf": return -.infinity
        default: return Double(text)
        }
    }

    /// Seconds since 1970 of 0001-01-01 and of the end of 9999-12-31: the range both servers store.
    static let timestampRange: ClosedRange<Double> = -62_135_596_800 ... 253_402_300_799.999_999

    /// Throws ``WrapperError/Code/invalidBind`` for a value no server can store as it is.
    static func checkBindable(_ value: DatabaseValue) throws {
        if case .timestamp(let date, _) = value, !timestampRange.contains(date.timeIntervalSince1970) {
            throw WrapperError(.invalidBind, "A timestamp bind is outside the years 1 to 9999 that the server stores; bind a date in that range.")
        }
    }

    /// The text sent for a bound value; `nil` for NULL.
    ///
    /// - Throws: ``WrapperError/Code/invalidBind`` for a timestamp outside years 1-9999 (or not finite).
    static func bindText(_ value: DatabaseValue, booleanTrue: String, booleanFalse: String, utcSuffix: String = "") throws -> String? {
        try checkBindable(value)
        return switch value {
        case .null: nil
        case .integer(let value): String(value)
        case .double(let value):
            value.isNaN ? "NaN" : value == .infinity ? "Infinity" : value == -.infinity ? "-Infinity" : String(value)
        case .decimal(let text), .text(let text), .date(let text), .time(let text), .json(let text): text
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        case .bool(let value): value ? booleanTrue : booleanFalse
        case .timestamp(let date, _): format(date) + utcSuffix
        case .uuid(let uuid): uuid.uuidString.lowercased()
        }
    }
}
