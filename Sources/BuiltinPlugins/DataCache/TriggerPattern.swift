import Glibc
import WrapperCore

/// The compiled `data_cache_trigger_condition`: a POSIX extended regular expression, matched with
/// the C library's automaton-based matcher.
///
/// Swift's `Regex` backtracks, so a pattern such as `(a+)+$` could hold a call for minutes on a
/// long statement. POSIX ERE without back-references runs in time bounded by the pattern and the
/// text, so back-references are refused, patterns are limited to 1,000 characters and only the
/// first 64 KiB of a statement are searched (a longer statement is never cached).
///
/// Besides POSIX ERE syntax it accepts `\d` and `\D` (digits), `\s`, `\S`, `\w`, `\W`, and a leading
/// `(?i)` for case-insensitive matching.
final class TriggerPattern: @unchecked Sendable {
    // regexec on a compiled pattern is thread-safe (POSIX); the pattern is never changed after init.
    private var compiled = regex_t()
    /// The pattern as the user wrote it.
    let source: String

    /// The longest pattern accepted.
    static let maxPatternLength = 1000
    /// The longest statement searched; longer ones are not cached.
    static let maxStatementLength = 65_536

    init(_ pattern: String) throws {
        guard !pattern.isEmpty else {
            throw WrapperError(.invalidProperty, "Property 'data_cache_trigger_condition' is empty: give a regular expression such as ^SELECT .* FROM products.")
        }
        guard pattern.utf8.count <= Self.maxPatternLength else {
            throw WrapperError(.invalidProperty, "Property 'data_cache_trigger_condition' is longer than \(Self.maxPatternLength) characters; give a shorter regular expression.")
        }
        var text = Substring(pattern)
        var flags = REG_EXTENDED | REG_NOSUB
        if text.hasPrefix("(?i)") {
            flags |= REG_ICASE
            text = text.dropFirst(4)
        }
        let translated = try Self.translate(text)
        source = pattern
        let status = regcomp(&compiled, translated, flags)
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(status, &compiled, &buffer, buffer.count)
            regfree(&compiled)
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw WrapperError(.invalidProperty, "Property 'data_cache_trigger_condition' is not a valid POSIX extended regular expression (\(reason)). Example: ^SELECT .* FROM products")
        }
    }

    deinit { regfree(&compiled) }

    /// Whether the pattern occurs in `sql`; `false` for statements over ``maxStatementLength``.
    func matches(_ sql: String) -> Bool {
        guard sql.utf8.count <= Self.maxStatementLength, !sql.utf8.contains(0) else { return false }
        return regexec(&compiled, sql, 0, nil, 0) == 0
    }

    /// Rewrites the Perl-style classes users expect into POSIX bracket expressions and refuses
    /// back-references, the one construct that makes POSIX matching exponential.
    private static func translate(_ pattern: Substring) throws -> String {
        var output = ""
        var iterator = pattern.makeIterator()
        var inBracket = false
        while let character = iterator.next() {
            if character == "[" { inBracket = true }
            if character == "]" { inBracket = false }
            guard character == "\\" else {
                output.append(character)
                continue
            }
            guard let escaped = iterator.next() else {
                throw WrapperError(.invalidProperty, "Property 'data_cache_trigger_condition' ends with a lone backslash; escape it as \\\\.")
            }
            switch escaped {
            case "1"..."9":
                throw WrapperError(.invalidProperty, "Property 'data_cache_trigger_condition' uses a back-reference (\\\(escaped)), which cannot be matched in bounded time; rewrite the pattern without it.")
            case "d": output += inBracket ? "0-9" : "[0-9]"
            case "D": output += "[^0-9]"
            case "s": output += inBracket ? "[:space:]" : "[[:space:]]"
            case "S": output += "[^[:space:]]"
            case "w": output += inBracket ? "[:alnum:]_" : "[[:alnum:]_]"
            case "W": output += "[^[:alnum:]_]"
            default:
                output.append("\\")
                output.append(escaped)
            }
        }
        return output
    }
}
