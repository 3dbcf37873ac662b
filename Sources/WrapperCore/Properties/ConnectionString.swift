/// Parses the connection strings users write: PostgreSQL keyword/value conninfo
/// (`host=a,b port=5432 dbname=app`) and URLs (`postgresql://`, `postgres://`, `mysql://`,
/// `mariadb://`), multi-host included.
///
/// Both forms produce ``Properties`` with the wrapper's key names: `dbname` becomes `database`;
/// several hosts become comma-separated `host` and `port` values, as libpq writes them. A
/// malformed string gives a ``WrapperError`` with code ``WrapperError/Code/malformedConnectionString``
/// that names the character position and the reason; no password ever appears in it.
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
    public init(parsing text: String) throws {
        let trimmed = text.trimmingWhitespace()
        // A URL only when the text starts with a scheme: `://` inside a keyword value is not one.
        if let schemeEnd = trimmed.firstRange(of: "://"),
            trimmed[..<schemeEnd.lowerBound].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }),
            trimmed.first?.isLetter == true
        {
            let name = trimmed[..<schemeEnd.lowerBound].lowercased()
            switch name {
            case "postgresql", "postgres": scheme = .postgresql
            case "mysql", "mariadb": scheme = .mysql
            default:
                throw WrapperError(
                    .malformedConnectionString,
                    "Unsupported URL scheme at position 0: use postgresql://, postgres://, mysql:// or mariadb://, or keyword=value pairs.")
            }
            var parser = URLParser(text: trimmed, start: schemeEnd.upperBound)
            properties = try parser.parse()
        } else {
            scheme = nil
            var parser = KeywordValueParser(text: trimmed)
            properties = try parser.parse()
        }
    }

    /// Parses `text` and returns its properties.
    public static func properties(from text: String) throws -> Properties {
        try ConnectionString(parsing: text).properties
    }
}

func malformed(_ position: Int, _ reason: String) -> WrapperError {
    WrapperError(.malformedConnectionString, "Malformed connection string at position \(position): \(reason)")
}

/// Keyword names that libpq spells differently from the wrapper.
private let keyAliases = ["dbname": "database"]

private struct KeywordValueParser {
    let characters: [Character]
    var index = 0

    init(text: String) { characters = Array(text) }

    mutating func parse() throws -> Properties {
        var properties = Properties()
        while true {
            skipWhitespace()
            guard index < characters.count else { break }
            let keyStart = index
            var key = ""
            while index < characters.count, characters[index] != "=", !characters[index].isWhitespace {
                key.append(characters[index])
                index += 1
            }
            skipWhitespace()
            guard index < characters.count, characters[index] == "=" else {
                throw malformed(keyStart, "a word is not followed by '='; write key=value pairs separated by spaces and quote values that contain spaces.")
            }
            guard !key.isEmpty else { throw malformed(keyStart, "'=' without a keyword before it.") }
            index += 1
            skipWhitespace()
            let value = try readValue(for: key)
            properties[keyAliases[key] ?? key] = value
        }
        return properties
    }

    mutating func skipWhitespace() {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
    }

    mutating func readValue(for key: String) throws -> String {
        var value = ""
        if index < characters.count, characters[index] == "'" {
            let quoteStart = index
            index += 1
            while true {
                guard index < characters.count else {
                    throw malformed(quoteStart, "unterminated quoted value of '\(key)'; close it with a single quote.")
                }
                let character = characters[index]
                if character == "\\" {
                    index += 1
                    guard index < characters.count else {
                        throw malformed(index - 1, "backslash at the end of the value of '\(key)'.")
                    }
                    value.append(characters[index])
                } else if character == "'" {
                    index += 1
                    break
                } else {
                    value.append(character)
                }
                index += 1
            }
            return value
        }
        while index < characters.count, !characters[index].isWhitespace {
            if characters[index] == "\\", index + 1 < characters.count {
                index += 1
            }
            value.append(characters[index])
            index += 1
        }
        return value
    }
}

private struct URLParser {
    let text: [Character]
    var index: Int

    init(text: String, start: String.Index) {
        self.text = Array(text)
        self.index = text.distance(from: text.startIndex, to: start)
    }

    mutating func parse() throws -> Properties {
        var properties = Properties()
        let authorityStart = index
        while index < text.count, text[index] != "/", text[index] != "?" { index += 1 }
        let authority = String(text[authorityStart..<index])
        // An '@' after the authority ended means the user info holds an unescaped '/' or '?'
        // (base64 passwords do). Nothing of the text is echoed: it may be part of the password.
        let laterAt = text[index...].firstIndex(of: "@")
        if let at = laterAt, !text[index..<at].contains("=") {
            throw malformed(authorityStart, "the user name or password contains '/' or '?'; percent-encode them (%2F, %3F).")
        }
        let unencodedHint = !authority.contains("@") && laterAt != nil
            ? " If the password contains '/', '?' or '#', percent-encode it (%2F, %3F, %23)." : ""
        var hostPart = Substring(authority)
        var hostOffset = authorityStart

        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostOffset += authority.distance(from: authority.startIndex, to: at) + 1
            hostPart = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                properties["user"] = try percentDecode(userInfo[..<colon], at: authorityStart, what: "user name")
                // The password's position is reported, never its text.
                properties["password"] = try percentDecode(
                    userInfo[userInfo.index(after: colon)...], at: authorityStart, what: "password")
            } else if !userInfo.isEmpty {
                properties["user"] = try percentDecode(userInfo, at: authorityStart, what: "user name")
            }
        }

        if !hostPart.isEmpty {
            var hosts: [String] = []
            var ports: [String] = []
            var offset = hostOffset
            for entry in hostPart.split(separator: ",", omittingEmptySubsequences: false) {
                let (host, port) = try splitHostPort(entry, at: offset, hint: unencodedHint)
                hosts.append(host)
                ports.append(port ?? "")
                offset += entry.count + 1
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
            let database = String(text[databaseStart..<index])
            if database.contains("@") {
                throw malformed(databaseStart, "the database name contains '@'; percent-encode it (%40).\(unencodedHint)")
            }
            if !database.isEmpty {
                properties["database"] = try percentDecode(Substring(database), at: databaseStart, what: "database name")
            }
        }

        if index < text.count, text[index] == "?" {
            index += 1
            var pairStart = index
            let query = String(text[index...])
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                guard let equals = pair.firstIndex(of: "=") else {
                    throw malformed(pairStart, "a query parameter has no '='; write key=value.")
                }
                let rawKey = try percentDecode(pair[..<equals], at: pairStart, what: "parameter name")
                guard !rawKey.isEmpty else { throw malformed(pairStart, "query parameter without a name.") }
                let value = try percentDecode(pair[pair.index(after: equals)...], at: pairStart, what: "parameter value")
                properties[keyAliases[rawKey] ?? rawKey] = value
                pairStart += pair.count + 1
            }
        }
        return properties
    }

    /// Splits `host[:port]`. Errors give positions only: after a misplaced '@' the text may be
    /// part of a password.
    func splitHostPort(_ entry: Substring, at offset: Int, hint: String) throws -> (String, String?) {
        guard !entry.isEmpty else { throw malformed(offset, "empty host name in the host list.") }
        var host: Substring
        var portText: Substring?
        if entry.first == "[" {
            guard let close = entry.firstIndex(of: "]") else {
                throw malformed(offset, "IPv6 address is missing its closing ']'.")
            }
            host = entry[entry.index(after: entry.startIndex)..<close]
            let rest = entry[entry.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { throw malformed(offset, "unexpected text after ']'; write [address]:port.") }
                portText = rest.dropFirst()
            }
        } else if let colon = entry.firstIndex(of: ":") {
            host = entry[..<colon]
            portText = entry[entry.index(after: colon)...]
        } else {
            host = entry
        }
        guard !host.isEmpty else { throw malformed(offset, "empty host name before the port.") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw malformed(offset, "the port of the host at this position is not a number from 1 to 65535.\(hint)")
            }
            return (String(host), String(port))
        }
        return (String(host), nil)
    }

    func percentDecode(_ text: Substring, at position: Int, what: String) throws -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard iterator.count >= 2,
                    let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
                else {
                    throw malformed(position, "invalid percent-escape in the \(what); write %XX with two hex digits.")
                }
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw malformed(position, "the \(what) is not valid UTF-8 after percent-decoding.")
        }
        return decoded
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
        guard let hostText = self["host"], !hostText.trimmingWhitespace().isEmpty else {
            throw WrapperError(.missingProperty, "Property 'host' is missing: give host=<name> or a URL with a host.")
        }
        let names = hostText.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        if let empty = names.firstIndex(where: \.isEmpty) {
            throw WrapperError(.invalidProperty, "Property 'host' has an empty entry at index \(empty): remove the extra comma.")
        }
        let portTexts = self["port"].map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        } ?? []
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
