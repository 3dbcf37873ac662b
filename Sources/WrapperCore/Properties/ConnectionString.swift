/// Parses the connection strings users write: PostgreSQL keyword/value conninfo
/// (`host=a,b port=5432 dbname=app`) and URLs (`postgresql://`, `postgres://`, `mysql://`,
/// `mariadb://`), multi-host included.
///
/// Both forms produce ``Properties`` with the wrapper's key names: `dbname` becomes `database`;
/// several hosts become comma-separated `host` and `port` values, as libpq writes them. A
/// malformed string gives a ``WrapperError`` with code ``WrapperError/Code/malformedConnectionString``
/// that names the position (counted in Unicode scalars) and the reason; no password, and no value,
/// ever appears in it (keys that look like keywords may).
public struct ConnectionString: Sendable, Hashable {
    /// The database family a URL names.
    public enum Scheme: String, Sendable, Hashable {
        /// `postgresql://` or `postgres://`.
        case postgresql
        /// `mysql://` or `mariadb://`.
        case mysql
    }

    /// The URL scheme, or `nil` for keyword/value text.
    public var scheme: Scheme?
    /// The parsed properties.
    public var properties: Properties

    /// Parses `text`, which is either a URL or keyword/value pairs.
    ///
    /// The text is read as Unicode scalars, not `Character`s: a combining mark after a delimiter
    /// (`=`, `&`, `:`, `@`, a quote, whitespace) would otherwise join it into one grapheme and hide
    /// it. Positions in error messages count Unicode scalars.
    public init(parsing text: String) throws {
        let scalars = trimmedScalars(text.unicodeScalars)
        // A URL only when the text starts with a scheme: `://` inside a keyword value is not one.
        if let schemeEnd = Self.schemeEnd(in: scalars) {
            let name = String(String.UnicodeScalarView(scalars[..<schemeEnd])).lowercased()
            switch name {
            case "postgresql", "postgres": scheme = .postgresql
            case "mysql", "mariadb": scheme = .mysql
            default:
                throw WrapperError(
                    .malformedConnectionString,
                    "Unsupported URL scheme at position 0: use postgresql://, postgres://, mysql:// or mariadb://, or keyword=value pairs.")
            }
            var parser = URLParser(text: scalars, start: schemeEnd + 3)
            properties = try parser.parse()
        } else {
            scheme = nil
            var parser = KeywordValueParser(text: scalars)
            properties = try parser.parse()
        }
    }

    /// Parses `text` and returns its properties.
    public static func properties(from text: String) throws -> Properties {
        try ConnectionString(parsing: text).properties
    }

    /// Where the first `://` starts, when the text before it is a scheme: an ASCII letter, then
    /// ASCII letters, digits, `+`, `.` or `-`.
    private static func schemeEnd(in text: [Unicode.Scalar]) -> Int? {
        guard text.count >= 3 else { return nil }
        guard let end = (0...(text.count - 3)).first(where: { text[$0] == ":" && text[$0 + 1] == "/" && text[$0 + 2] == "/" })
        else { return nil }
        guard end > 0, text[0].isASCIILetter,
            text[..<end].allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit || $0 == "+" || $0 == "." || $0 == "-" })
        else { return nil }
        return end
    }
}

func malformed(_ position: Int, _ reason: String) -> WrapperError {
    WrapperError(.malformedConnectionString, "Malformed connection string at position \(position): \(reason)")
}

/// Keyword names that libpq spells differently from the wrapper.
private let keyAliases = ["dbname": "database"]

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    fileprivate var isHexDigit: Bool { isASCIIDigit || ("a"..."f").contains(self) || ("A"..."F").contains(self) }
    /// Whitespace as `Character.isWhitespace` reads it (Unicode White_Space), one scalar at a time.
    fileprivate var isSeparatorSpace: Bool { properties.isWhitespace }
}

/// The scalars with leading and trailing whitespace removed.
private func trimmedScalars<S: Collection>(_ scalars: S) -> [Unicode.Scalar] where S.Element == Unicode.Scalar {
    var slice = Array(scalars)[...]
    while let first = slice.first, first.isSeparatorSpace { slice.removeFirst() }
    while let last = slice.last, last.isSeparatorSpace { slice.removeLast() }
    return Array(slice)
}

private func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
    String(String.UnicodeScalarView(scalars))
}

/// How an error message names a key: keys are shown (values never), but only when they look like
/// a keyword; anything else is named by its position, since a misread key may be text of a value.
private func named(_ key: String, at position: Int) -> String {
    let scalars = key.unicodeScalars
    if (1...64).contains(scalars.count),
        scalars.allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == "-" || $0 == "." })
    {
        return "'\(key)'"
    }
    return "the keyword at position \(position)"
}

private struct KeywordValueParser {
    let text: [Unicode.Scalar]
    var index = 0

    init(text: [Unicode.Scalar]) { self.text = text }

    mutating func parse() throws -> Properties {
        var properties = Properties()
        while true {
            skipWhitespace()
            guard index < text.count else { break }
            let keyStart = index
            while index < text.count, text[index] != "=", !text[index].isSeparatorSpace { index += 1 }
            let key = string(text[keyStart..<index])
            skipWhitespace()
            guard index < text.count, text[index] == "=" else {
                throw malformed(keyStart, "a word is not followed by '='; write key=value pairs separated by spaces and quote values that contain spaces.")
            }
            guard !key.isEmpty else { throw malformed(keyStart, "'=' without a keyword before it.") }
            index += 1
            skipWhitespace()
            let value = try readValue(for: named(key, at: keyStart))
            properties[keyAliases[key] ?? key] = value
        }
        return properties
    }

    mutating func skipWhitespace() {
        while index < text.count, text[index].isSeparatorSpace { index += 1 }
    }

    /// Reads a bare or single-quoted value; `key` is the key as error messages name it.
    mutating func readValue(for key: String) throws -> String {
        var value = String.UnicodeScalarView()
        if index < text.count, text[index] == "'" {
            let quoteStart = index
            index += 1
            while true {
                guard index < text.count else {
                    throw malformed(quoteStart, "unterminated quoted value of \(key); close it with a single quote.")
                }
                let scalar = text[index]
                if scalar == "\\" {
                    index += 1
                    guard index < text.count else {
                        throw malformed(index - 1, "backslash at the end of the value of \(key).")
                    }
                    value.append(text[index])
                } else if scalar == "'" {
                    index += 1
                    break
                } else {
                    value.append(scalar)
                }
                index += 1
            }
            return String(value)
        }
        while index < text.count, !text[index].isSeparatorSpace {
            if text[index] == "\\", index + 1 < text.count {
                index += 1
            }
            value.append(text[index])
            index += 1
        }
        return String(value)
    }
}

private struct URLParser {
    let text: [Unicode.Scalar]
    var index: Int

    init(text: [Unicode.Scalar], start: Int) {
        self.text = text
        self.index = start
    }

    mutating func parse() throws -> Properties {
        var properties = Properties()
        let authorityStart = index
        while index < text.count, text[index] != "/", text[index] != "?" { index += 1 }
        let authority = text[authorityStart..<index]
        let authorityEnd = index
        // An '@' after the authority ended means the user info holds an unescaped '/' or '?'
        // (base64 passwords do). Nothing of the text is echoed: it may be part of the password.
        let laterAt = text[authorityEnd...].firstIndex(of: "@")
        if let at = laterAt, !text[authorityEnd..<at].contains("=") {
            throw malformed(authorityStart, "the user name or password contains '/' or '?'; percent-encode them (%2F, %3F).")
        }
        if laterAt != nil, !authority.contains("@"), userInfoSpillsOver(from: authorityEnd) {
            throw malformed(
                authorityStart,
                "an '@' after the host list looks like the end of a password that contains '/', '?' or '#'; "
                    + "percent-encode them in the password (%2F, %3F, %23), and an '@' in a parameter value as %40.")
        }
        let unencodedHint = !authority.contains("@") && laterAt != nil
            ? " If the password contains '/', '?' or '#', percent-encode it (%2F, %3F, %23)." : ""
        var hostPart = authority
        var hostOffset = authorityStart

        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostOffset = at + 1
            hostPart = authority[(at + 1)...]
            if let colon = userInfo.firstIndex(of: ":") {
                properties["user"] = try percentDecode(userInfo[..<colon], at: authorityStart, what: "user name")
                // The password's position is reported, never its text.
                properties["password"] = try percentDecode(userInfo[(colon + 1)...], at: authorityStart, what: "password")
            } else if !userInfo.isEmpty {
                properties["user"] = try percentDecode(userInfo, at: authorityStart, what: "user name")
            }
        }

        if !hostPart.isEmpty {
            var hosts: [String] = []
            var ports: [String] = []
            for entry in hostPart.split(separator: ",", omittingEmptySubsequences: false) {
                // `entry` keeps the indices of the text, so its start is its position.
                let (host, port) = try splitHostPort(entry, at: entry.startIndex, hint: unencodedHint)
                hosts.append(host)
                ports.append(port ?? "")
            }
            properties["host"] = hosts.joined(separator: ",")
            if ports.contains(where: { !$0.isEmpty }) {
                if ports.contains(where: \.isEmpty), ports.count > 1 {
                    throw malformed(hostOffset, "give a port for every host or for none.")
                }
                properties["port"] = ports.joined(separator: ",")
            }
        }

        if index < text.count, text[index] == "/" {
            index += 1
            let databaseStart = index
            while index < text.count, text[index] != "?" { index += 1 }
            let database = text[databaseStart..<index]
            if database.contains("@") {
                throw malformed(databaseStart, "the database name contains '@'; percent-encode it (%40).\(unencodedHint)")
            }
            if !database.isEmpty {
                properties["database"] = try percentDecode(database, at: databaseStart, what: "database name")
            }
        }

        if index < text.count, text[index] == "?" {
            index += 1
            var pairStart = index
            while pairStart < text.count {
                var pairEnd = pairStart
                while pairEnd < text.count, text[pairEnd] != "&" { pairEnd += 1 }
                let pair = text[pairStart..<pairEnd]
                if !pair.isEmpty {
                    // Positions only: a pair that does not parse may be a piece of a password.
                    guard let equals = pair.firstIndex(of: "=") else {
                        throw malformed(pairStart, "a query parameter has no '='; write key=value.")
                    }
                    let key = try percentDecode(pair[..<equals], at: pairStart, what: "parameter name")
                    guard !key.isEmpty else { throw malformed(pairStart, "query parameter without a name.") }
                    let value = try percentDecode(pair[(equals + 1)...], at: pairStart, what: "parameter value")
                    properties[keyAliases[key] ?? key] = value
                }
                pairStart = pairEnd + 1
            }
        }
        return properties
    }

    /// Whether an '@' after the authority (which has none) reads as the end of user info whose
    /// password holds an unencoded '/', '?' or '#', so that the password's tail would land in the
    /// path or a query value. Called only when such an '@' exists and an '=' comes before it.
    ///
    /// - The authority ended at '?': libpq reads up to that '@' as user info, so the text cannot be
    ///   taken as `host?key=value@...` either.
    /// - An '@' is followed by a '/' before any '&' (`...@host/db`): the text after it looks like
    ///   the host and database, not like the rest of a parameter value.
    /// - An '@' ends the text: user info followed by an empty host list.
    ///
    /// `host/db?user=a@b.c&x=1` and `host:5432/db?user=a@b.c` pass.
    func userInfoSpillsOver(from authorityEnd: Int) -> Bool {
        if authorityEnd < text.count, text[authorityEnd] == "?" { return true }
        if text.last == "@" { return true }
        // From the end backwards, so that the nearest '/' or '&' after each '@' is known: linear.
        var slashIsNext = false
        var position = text.count - 1
        while position >= authorityEnd {
            switch text[position] {
            case "/": slashIsNext = true
            case "&": slashIsNext = false
            case "@" where slashIsNext: return true
            default: break
            }
            position -= 1
        }
        return false
    }

    /// Splits `host[:port]`. Errors give positions only: after a misplaced '@' the text may be
    /// part of a password.
    func splitHostPort(_ entry: ArraySlice<Unicode.Scalar>, at offset: Int, hint: String) throws -> (String, String?) {
        guard !entry.isEmpty else { throw malformed(offset, "empty host name in the host list.") }
        var host: ArraySlice<Unicode.Scalar>
        var portText: ArraySlice<Unicode.Scalar>?
        if entry.first == "[" {
            guard let close = entry.firstIndex(of: "]") else {
                throw malformed(offset, "IPv6 address is missing its closing ']'.")
            }
            host = entry[(entry.startIndex + 1)..<close]
            let rest = entry[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { throw malformed(offset, "unexpected text after ']'; write [address]:port.") }
                portText = rest.dropFirst()
            }
        } else if let colon = entry.firstIndex(of: ":") {
            host = entry[..<colon]
            portText = entry[(colon + 1)...]
        } else {
            host = entry
        }
        guard !host.isEmpty else { throw malformed(offset, "empty host name before the port.") }
        if let portText {
            guard let port = Int(string(portText)), (1...65535).contains(port) else {
                throw malformed(offset, "the port of the host at this position is not a number from 1 to 65535.\(hint)")
            }
            return (string(host), String(port))
        }
        return (string(host), nil)
    }

    /// Decodes `%XX` escapes (two hex digits) and checks that the bytes are UTF-8.
    func percentDecode(_ text: ArraySlice<Unicode.Scalar>, at position: Int, what: String) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let scalar = text[index]
            if scalar == "%" {
                guard index + 2 < text.endIndex, text[index + 1].isHexDigit, text[index + 2].isHexDigit else {
                    throw malformed(position, "invalid percent-escape in the \(what); write %XX with two hex digits.")
                }
                bytes.append(UInt8(hexDigit(text[index + 1]) << 4 | hexDigit(text[index + 2])))
                index += 3
            } else {
                bytes.append(contentsOf: scalar.utf8)
                index += 1
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw malformed(position, "the \(what) is not valid UTF-8 after percent-decoding.")
        }
        return decoded
    }

    private func hexDigit(_ scalar: Unicode.Scalar) -> UInt32 {
        switch scalar {
        case "0"..."9": scalar.value - 48
        case "a"..."f": scalar.value - 87
        default: scalar.value - 55
        }
    }
}

extension Properties {
    /// The hosts named by `host` and `port`: one port for all hosts, or one per host.
    ///
    /// The first host is the writer and the others are readers, as the reference's
    /// connection-string host list provider assumes.
    ///
    /// - Throws: ``WrapperError`` when `host` is missing or the ports do not match the hosts.
    public func hosts(defaultPort: Int) throws -> [HostInfo] {
        guard let hostText = self["host"], !trimmedScalars(hostText.unicodeScalars).isEmpty else {
            throw WrapperError(.missingProperty, "Property 'host' is missing: give host=<name> or a URL with a host.")
        }
        let names = commaSeparated(hostText)
        if let empty = names.firstIndex(where: \.isEmpty) {
            throw WrapperError(.invalidProperty, "Property 'host' has an empty entry at index \(empty): remove the extra comma.")
        }
        let portTexts = self["port"].map(commaSeparated) ?? []
        guard portTexts.count <= 1 || portTexts.count == names.count else {
            throw WrapperError(
                .invalidProperty,
                "Property 'port' lists \(portTexts.count) ports for \(names.count) hosts: give one port for all hosts or one per host.")
        }
        var ports: [Int] = []
        for text in portTexts {
            if text.isEmpty { ports.append(defaultPort); continue }
            guard let port = Int(text), (1...65535).contains(port) else {
                throw WrapperError(.invalidProperty, "Property 'port' has an invalid value '\(text)': expected a number from 1 to 65535.")
            }
            ports.append(port)
        }
        return names.enumerated().map { offset, name in
            let port = ports.isEmpty ? defaultPort : (ports.count == 1 ? ports[0] : ports[offset])
            return HostInfo(host: name, port: port, role: offset == 0 ? .writer : .reader)
        }
    }
}

/// The comma-separated entries of a `host` or `port` value, each trimmed. Split on scalars, like
/// the parsers: a combining mark after a comma does not hide it.
private func commaSeparated(_ text: String) -> [String] {
    Array(text.unicodeScalars).split(separator: ",", omittingEmptySubsequences: false).map {
        String(String.UnicodeScalarView(trimmedScalars($0)))
    }
}
