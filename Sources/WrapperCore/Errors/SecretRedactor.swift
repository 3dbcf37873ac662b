import Foundation

/// Removes secrets from free text before it reaches a message or a log line.
///
/// Driver messages sometimes echo a connection string; this masks the value of any
/// `password`-like key in `key=value` form and the password part of `scheme://user:password@host`.
public enum SecretRedactor {
    /// Property names whose values are never shown.
    public static let sensitiveKeys: Set<String> = [
        "password", "passwd", "pwd", "secret", "token", "idp_password", "aws_secret_access_key",
        "aws_session_token", "sslpassword",
    ]

    /// Whether a property's value must never be shown.
    public static func isSensitive(key: String) -> Bool {
        let lower = key.lowercased()
        if sensitiveKeys.contains(lower) { return true }
        return lower.hasSuffix("password") || lower.hasSuffix("secret") || lower.hasSuffix("token")
            || lower.hasSuffix("secret_access_key")
    }

    /// The text with secret values replaced by `***`.
    public static func redact(_ text: String) -> String {
        var output = redactURLPasswords(text)
        // SQL that sets a password, as servers quote it back in syntax errors.
        for marker in ["IDENTIFIED BY", "PASSWORD(", "PASSWORD '", "PASSWORD \""] where output.range(of: marker, options: .caseInsensitive) != nil {
            output = redactAfter(output, marker: marker)
        }
        for key in sensitiveKeys where output.range(of: key, options: .caseInsensitive) != nil {
            output = redactKeyValues(output, key: key)
        }
        return output
    }

    /// Masks the quoted literal that follows `marker`.
    private static func redactAfter(_ text: String, marker: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let found = rest.range(of: marker, options: .caseInsensitive) {
            result += rest[..<found.upperBound]
            rest = rest[found.upperBound...]
            guard let open = rest.firstIndex(where: { $0 == "'" || $0 == "\"" }) ?? (marker.last == "'" || marker.last == "\"" ? rest.startIndex : nil)
            else { continue }
            let quote: Character = marker.last == "'" || marker.last == "\"" ? marker.last! : rest[open]
            let valueStart = marker.last == quote ? rest.startIndex : rest.index(after: open)
            result += rest[rest.startIndex..<valueStart] + "***"
            rest = rest[valueStart...]
            if let close = rest.firstIndex(of: quote) { rest = rest[close...] } else { rest = rest[rest.endIndex...] }
        }
        return result + rest
    }

    private static func redactURLPasswords(_ text: String) -> String {
        // scheme://user:secret@host → scheme://user:***@host
        var result = ""
        var rest = Substring(text)
        while let schemeRange = rest.range(of: "://") {
            result += rest[..<schemeRange.upperBound]
            rest = rest[schemeRange.upperBound...]
            // The password may itself hold '/' or '?': the authority ends at the last '@' before a space.
            let wordEnd = rest.firstIndex(where: { $0 == " " || $0 == "\n" }) ?? rest.endIndex
            let authorityEnd = rest[..<wordEnd].lastIndex(of: "@").flatMap { at in
                rest[at...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == " " })
            } ?? rest[..<wordEnd].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? wordEnd
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon] + "***" + authority[at...]
            } else {
                result += authority
            }
            rest = rest[authorityEnd...]
        }
        return result + rest
    }

    private static func redactKeyValues(_ text: String, key: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let found = rest.range(of: key, options: .caseInsensitive) {
            result += rest[..<found.upperBound]
            rest = rest[found.upperBound...]
            var index = rest.startIndex
            // JSON and quoted keys: skip a closing quote before the separator.
            if index < rest.endIndex, rest[index] == "\"" || rest[index] == "'" { index = rest.index(after: index) }
            while index < rest.endIndex, rest[index] == " " { index = rest.index(after: index) }
            guard index < rest.endIndex, rest[index] == "=" || rest[index] == ":" else { continue }
            index = rest.index(after: index)
            while index < rest.endIndex, rest[index] == " " { index = rest.index(after: index) }
            result += rest[rest.startIndex..<index] + "***"
            // Skip the value: quoted, or up to whitespace, '&', ',' or ';'.
            if index < rest.endIndex, rest[index] == "'" || rest[index] == "\"" {
                let quote = rest[index]
                var end = rest.index(after: index)
                while end < rest.endIndex, rest[end] != quote {
                    if rest[end] == "\\" { end = rest.index(after: end); if end == rest.endIndex { break } }
                    end = rest.index(after: end)
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[end...]
            } else {
                let end = rest[index...].firstIndex(where: { " &,;\n\t)".contains($0) }) ?? rest.endIndex
                rest = rest[end...]
            }
        }
        return result + rest
    }
}
