/// Removes secrets from free text before it reaches a message or a log line.
///
/// Driver messages, server errors, HTTP bodies and logged SQL sometimes echo credentials.
/// ``redact(_:)`` replaces with `***`:
/// - the password of `scheme://user:password@host` URLs (the password may hold `/ ? = # @ % :`);
/// - the value of every sensitive key (see ``isSensitive(key:)``) written `key=value`, `key: value`,
///   `"key": "value"`, `'key'='value'`, `<key>value</key>` or conninfo-style `key = 'it''s'`, quoted or not;
/// - AWS SigV4 signatures, credentials and security tokens (query parameters and the `Authorization`
///   header), STS and Secrets Manager secrets, SAML responses, Okta session tokens and `Bearer` tokens;
/// - the password of SQL that sets one: `IDENTIFIED BY`, `IDENTIFIED WITH plugin BY`, `PASSWORD '...'`,
///   `PASSWORD('...')`, `SET PASSWORD [FOR user] = ...`;
/// - the values of PostgreSQL's `Key (password)=(...)` constraint details.
///
/// The text is read once from start to end over its UTF-8 bytes, so the time is linear in its length
/// whatever it holds: server messages are untrusted input. Where the shape is ambiguous it masks more
/// rather than less.
public enum SecretRedactor {
    /// Property names whose values are never shown.
    public static let sensitiveKeys: Set<String> = [
        "password", "passwd", "pwd", "secret", "token", "idp_password", "aws_secret_access_key",
        "aws_session_token", "sslpassword",
    ]

    /// Whether a property's value must never be shown: one of ``sensitiveKeys``, or a name ending in
    /// `password`, `secret`, `token` or `secret_access_key`.
    ///
    /// Case-insensitive, and `_` and `-` are ignored, so `IDP-Password`, `awsSecretAccessKey` and
    /// `aws_secret_access_key` are the same name.
    public static func isSensitive(key: String) -> Bool {
        var key = key
        return key.withUTF8 { SensitiveNames.classify($0, 0, $0.count, inText: false) != nil }
    }

    /// The text with secret values replaced by `***`.
    ///
    /// Text without anything to mask is returned unchanged.
    public static func redact(_ text: String) -> String {
        var text = text
        let redacted: [UInt8]? = text.withUTF8 { bytes in
            var scanner = RedactionScanner(bytes)
            scanner.run()
            return scanner.finish()
        }
        // Masks start and end at ASCII bytes, so the bytes stay valid UTF-8.
        return redacted.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// A SQL statement with the passwords it sets replaced by `***`, for logging statements.
    ///
    /// Masks `ALTER USER/ROLE ... [ENCRYPTED] PASSWORD '...'`, `CREATE USER ... IDENTIFIED BY ...`,
    /// `IDENTIFIED WITH/VIA plugin BY/AS/USING ...` and `SET PASSWORD [FOR user] = ...`, and any of the
    /// other shapes ``redact(_:)`` knows, such as a connection URL in a string literal.
    public static func redactStatement(_ sql: String) -> String {
        // One set of rules for both: a statement echoed in a server error must be masked the same way.
        redact(sql)
    }
}

/// How a sensitive name's value is delimited.
private enum SensitiveKind {
    /// Any sensitive key: the value ends at the usual delimiters.
    case plain
    /// Exactly `password`, for MySQL's harmless `(using password: YES)`.
    case password
    /// A SigV4 query parameter: the value runs to `&` or whitespace (it may hold `,` or `;` when unencoded).
    case signedQuery
}

/// Recognizes sensitive names case-insensitively, ignoring `_` and `-`.
private enum SensitiveNames {
    /// How many letters of a name's end are compared: more than the longest name (`awssecretaccesskey`, 18).
    static let tailCapacity = 24

    /// Names compared whole, normalized and reversed (so they compare with a token's tail).
    static let exact: [[UInt8]] = SecretRedactor.sensitiveKeys.map(normalizedReversed)
    /// Endings that make any name sensitive.
    static let suffixes: [[UInt8]] = ["password", "secret", "token", "secret_access_key"].map(normalizedReversed)
    /// Names that are not properties but whose values in text are secrets too.
    static let textOnly: [[UInt8]] = [
        "SecretString", "SAMLResponse", "Signature", "Credential", "X-Amz-Signature", "X-Amz-Credential",
        "api_key", "private_key",
    ].map(normalizedReversed)
    /// SigV4 query parameters.
    static let signedQuery: [[UInt8]] = ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token"]
        .map(normalizedReversed)
    static let password: [UInt8] = normalizedReversed("password")
    /// The last letters and the shortest length of all the names above, for a quick rejection.
    static let lastLetters = ByteSet(String(decoding: (exact + suffixes + textOnly + signedQuery).map { $0[0] }, as: UTF8.self))
    static let shortest = (exact + suffixes + textOnly + signedQuery).map(\.count).min() ?? 1

    static func normalizedReversed(_ name: String) -> [UInt8] {
        name.utf8.filter { $0 != .underscore && $0 != .hyphen }.map(lowercased).reversed()
    }

    /// Classifies `bytes[start..<end]`; `inText` adds the names that are secret only in free text.
    ///
    /// Reads at most ``tailCapacity`` letters from the end (plus any `_`/`-` between them), so the cost is
    /// bounded by the name's length and no memory is allocated.
    static func classify(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, inText: Bool) -> SensitiveKind? {
        // Most words are rejected on their length and last letter, before any comparison.
        var last = end
        while last > start, bytes[last - 1] == .underscore || bytes[last - 1] == .hyphen { last -= 1 }
        guard last - start >= shortest, lastLetters.contains(lowercased(bytes[last - 1])) else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: tailCapacity) { tail -> SensitiveKind? in
            var length = 0
            var whole = true
            var index = end
            while index > start {
                index -= 1
                let byte = bytes[index]
                if byte == .underscore || byte == .hyphen { continue }
                if length == tailCapacity { whole = false; break }
                tail[length] = lowercased(byte)
                length += 1
            }
            func matches(_ pattern: [UInt8], whole exactly: Bool) -> Bool {
                if exactly { guard whole, length == pattern.count else { return false } }
                guard length >= pattern.count else { return false }
                for offset in pattern.indices where tail[offset] != pattern[offset] { return false }
                return true
            }
            if inText {
                if signedQuery.contains(where: { matches($0, whole: true) }) { return .signedQuery }
                if matches(password, whole: true) { return .password }
            }
            if exact.contains(where: { matches($0, whole: true) }) || suffixes.contains(where: { matches($0, whole: false) }) {
                return .plain
            }
            if inText, textOnly.contains(where: { matches($0, whole: true) }) { return .plain }
            return nil
        }
    }
}

/// A set of ASCII bytes, as two bit masks.
private struct ByteSet {
    let low: UInt64
    let high: UInt64

    init(_ members: String) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for byte in members.utf8 where byte < 128 {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        self.low = low
        self.high = high
    }

    @inline(__always) func contains(_ byte: UInt8) -> Bool {
        if byte < 64 { return (low >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (high >> UInt64(byte &- 64)) & 1 == 1 }
        return false
    }

    /// Where an unquoted value of a sensitive key ends.
    static let valueStops = ByteSet(" \t\n\r\u{0B}\u{0C}&;,)\"'}]<")
    /// Where a SigV4 query parameter's value ends.
    static let signedQueryStops = ByteSet(" \t\n\r\u{0B}\u{0C}&\"'<>")
    /// Where an unquoted SQL password (`IDENTIFIED BY word`, `= PASSWORD('x')`) ends.
    static let sqlStops = ByteSet(" \t\n\r\u{0B}\u{0C};)")
    /// The bytes of an authentication plugin's name.
    static let pluginName = ByteSet(identifierBytes)
    /// The bytes of a user or host name in `SET PASSWORD FOR user@host` (`%` is a host wildcard).
    static let accountName = ByteSet(identifierBytes + ".%")
    /// The bytes of a word (see `isIdentifier`).
    static let identifierBytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    /// Where a `Bearer` token ends.
    static let bearerStops = ByteSet(" \t\n\r\u{0B}\u{0C}\"'")
}

/// One pass over the text's bytes that copies them to `output`, replacing secret values with `***`.
///
/// Every rule looks ahead a bounded number of words from its trigger, or else masks what it scanned
/// and resumes after it; that keeps the pass linear (the fuzz script checks it on adversarial input).
private struct RedactionScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let count: Int
    private var output: [UInt8] = []
    private var masked = false
    /// Input before this index is already in `output` or masked.
    private var copied = 0
    /// The URL rule's cache: the end of the whitespace-delimited word being read, and its last `@`.
    private var wordEnd = -1
    private var lastAt = -1
    /// A URL password to mask once the scan reaches it (`.max`: none).
    private var pendingStart = Int.max
    private var pendingEnd = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        count = bytes.count
    }

    /// The redacted bytes, or `nil` when nothing was masked.
    mutating func finish() -> [UInt8]? {
        guard masked else { return nil }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<count]))
        return output
    }

    mutating func run() {
        var index = 0
        // A token may start here even when the byte before (already masked) is a letter.
        var boundary = 0
        while index < count {
            // The URL rule's mask is applied when the scan reaches it: the user name before it is read
            // like any other text (it may hold `password=`), and the password itself is skipped.
            if index >= pendingStart {
                mask(pendingStart, pendingEnd)
                index = max(index, pendingEnd)
                boundary = index
                pendingStart = .max
                continue
            }
            let byte = bytes[index]
            if byte == .colon, index + 2 < count, bytes[index + 1] == .slash, bytes[index + 2] == .slash {
                urlPassword(schemeEnd: index)
                index += 3
            } else if isIdentifier(byte), index == boundary || !isIdentifier(bytes[index - 1]) {
                let end = identifierEnd(from: index)
                if let next = token(index, end) {
                    index = next
                    boundary = next
                } else {
                    index = end
                }
            } else {
                index += 1
            }
        }
        if pendingStart != .max { mask(pendingStart, pendingEnd) }
    }

    // MARK: Rules

    /// A word: a SQL keyword that starts a rule, or a sensitive key. Returns where to resume after a mask.
    mutating func token(_ start: Int, _ end: Int) -> Int? {
        switch end - start {
        case 3:
            if keyword(at: start, "key") != nil { return constraintKey(after: end) }
            if keyword(at: start, "set") != nil, let next = setPasswordFor(after: end) { return next }
        case 6:
            if keyword(at: start, "bearer") != nil { return bearerToken(after: end) }
        case 10:
            if keyword(at: start, "identified") != nil { return identified(after: end) }
        default:
            break
        }
        guard let kind = SensitiveNames.classify(bytes, start, end, inText: true) else { return nil }
        return sensitiveValue(kind, keyStart: start, keyEnd: end)
    }

    /// `scheme://user:password@host`: from the first `:` after `://` to the last `@` of the word, masked
    /// when the scan gets there.
    mutating func urlPassword(schemeEnd colon: Int) {
        // Words never overlap, so each byte is looked at here once however many `://` a word holds.
        if colon >= wordEnd {
            var index = colon
            var at = -1
            while index < count, !isWhitespace(bytes[index]) {
                if bytes[index] == .at { at = index }
                index += 1
            }
            wordEnd = index
            lastAt = at
        }
        guard lastAt > colon + 2 else { return }
        // Stops at the next `://` at the latest (it holds a colon), so these searches do not overlap,
        // and no other `://` is met before the pending mask is applied.
        var separator = colon + 3
        while separator < lastAt, bytes[separator] != .colon { separator += 1 }
        guard separator < lastAt else { return }
        pendingStart = separator + 1
        pendingEnd = lastAt
    }

    /// The value after a sensitive key, in whichever notation it is written.
    mutating func sensitiveValue(_ kind: SensitiveKind, keyStart: Int, keyEnd: Int) -> Int? {
        var index = keyEnd
        // <SecretAccessKey>…</SecretAccessKey>, also with a namespace prefix.
        if index < count, bytes[index] == .greaterThan, keyStart > 0,
            bytes[keyStart - 1] == .lessThan || bytes[keyStart - 1] == .colon
        {
            return elementText(from: index + 1)
        }
        // The closing quote of a quoted key; `\"` when the JSON sits inside a JSON string.
        var escapedQuotes = false
        if index < count, isQuote(bytes[index]) {
            index += 1
        } else if index + 1 < count, bytes[index] == .backslash, isQuote(bytes[index + 1]) {
            index += 2
            escapedQuotes = true
        }
        let afterKey = index
        index = skipSpaces(from: index)
        if index < count, bytes[index] == .equals || bytes[index] == .colon {
            return assignedValue(kind, separator: bytes[index], from: skipSpaces(from: index + 1), escapedQuotes: escapedQuotes)
        }
        // An HTML form field: name="SAMLResponse" value="…".
        if afterKey > keyEnd, let attribute = keyword(at: skipWhitespace(from: afterKey), "value") {
            let equals = skipSpaces(from: attribute)
            if equals < count, bytes[equals] == .equals {
                return assignedValue(kind, separator: .equals, from: skipSpaces(from: equals + 1), escapedQuotes: false)
            }
        }
        // SQL: PASSWORD 'x', PASSWORD "x", PASSWORD('x'), ENCRYPTED PASSWORD E'x'.
        var literal = skipWhitespace(from: keyEnd)
        if literal < count, bytes[literal] == .openParenthesis {
            literal = skipWhitespace(from: literal + 1)
        } else if literal == keyEnd {
            return nil
        }
        return sqlLiteral(at: literal)
    }

    /// The value after `key=` or `key:`, from its first byte.
    mutating func assignedValue(_ kind: SensitiveKind, separator: UInt8, from start: Int, escapedQuotes: Bool) -> Int? {
        guard start < count else { return nil }
        let first = bytes[start]
        // A JSON object or array: its own keys are looked at one by one.
        if separator == .colon, first == .openBrace || first == .openBracket { return nil }
        if escapedQuotes, first == .backslash, start + 1 < count, isQuote(bytes[start + 1]) {
            let (contentEnd, end) = escapedQuotedEnd(start)
            mask(start + 2, contentEnd)
            return end
        }
        if isQuote(first) {
            // Conninfo doubles single quotes ('it''s'); JSON never doubles double quotes.
            let (contentEnd, end) = quotedEnd(start, doubling: first == .apostrophe)
            mask(start + 1, contentEnd)
            return end
        }
        let end = kind == .signedQuery
            ? unquotedEnd(start, .signedQueryStops, parentheses: false)
            : unquotedEnd(start, .valueStops, parentheses: true)
        guard end > start else { return nil }
        // MySQL's "Access denied ... (using password: YES)" says only whether one was given.
        if kind == .password, separator == .colon, end < count, bytes[end] == .closeParenthesis,
            matches(start, end, "YES") || matches(start, end, "NO")
        {
            return nil
        }
        mask(start, end)
        return end
    }

    /// The text of an XML element, from after its start tag to the next `<`; a CDATA section whole.
    mutating func elementText(from start: Int) -> Int? {
        if hasPrefix(at: start, "<![CDATA[") {
            var index = start + 9
            while index + 2 < count,
                !(bytes[index] == .closeBracket && bytes[index + 1] == .closeBracket && bytes[index + 2] == .greaterThan)
            {
                index += 1
            }
            let contentEnd = index + 2 < count ? index : count
            mask(start + 9, contentEnd)
            return contentEnd
        }
        var index = start
        while index < count, bytes[index] != .lessThan { index += 1 }
        guard index > start else { return nil }
        mask(start, index)
        return index
    }

    /// A quoted SQL string literal at `start` (`'x'`, `"x"`, `E'x'`).
    mutating func sqlLiteral(at start: Int) -> Int? {
        guard start < count else { return nil }
        var open = start
        if bytes[start] | 0x20 == UInt8(ascii: "e"), start + 1 < count, bytes[start + 1] == .apostrophe { open = start + 1 }
        guard isQuote(bytes[open]) else { return nil }
        let (contentEnd, end) = quotedEnd(open, doubling: true)
        mask(open + 1, contentEnd)
        return end
    }

    /// `IDENTIFIED BY x`, `IDENTIFIED WITH plugin BY|AS x`, `IDENTIFIED VIA plugin USING x [OR plugin USING y]`.
    mutating func identified(after keywordEnd: Int) -> Int? {
        var index = skipWhitespace(from: keywordEnd)
        guard index > keywordEnd else { return nil }
        if let by = keyword(at: index, "by") {
            return identifiedValue(at: skipWhitespace(from: by))
        }
        guard let with = keyword(at: index, "with") ?? keyword(at: index, "via") else { return nil }
        var cursor = with
        var resume: Int?
        while true {
            index = skipWhitespace(from: cursor)
            guard index > cursor, index < count else { return resume }
            // A plugin name is a word, maybe quoted: nothing skipped here could hold a secret of its own.
            guard let pluginEnd = nameEnd(from: index, allowing: .pluginName) else { return resume }
            index = skipWhitespace(from: pluginEnd)
            guard index > pluginEnd,
                let verb = keyword(at: index, "by") ?? keyword(at: index, "as") ?? keyword(at: index, "using"),
                let valueEnd = identifiedValue(at: skipWhitespace(from: verb))
            else { return resume }
            resume = valueEnd
            // MariaDB lists alternatives: IDENTIFIED VIA a USING 'x' OR b USING 'y'.
            index = skipWhitespace(from: valueEnd)
            guard index > valueEnd, let or = keyword(at: index, "or") else { return resume }
            cursor = or
        }
    }

    /// The password after `IDENTIFIED BY`: quoted, or a word up to whitespace, `;` or `)`.
    mutating func identifiedValue(at start: Int) -> Int? {
        guard start < count else { return nil }
        if isQuote(bytes[start]) {
            let (contentEnd, end) = quotedEnd(start, doubling: true)
            mask(start + 1, contentEnd)
            return end
        }
        // MySQL 5's IDENTIFIED BY PASSWORD '*hash': the PASSWORD rule masks the literal.
        if let word = keyword(at: start, "password") {
            let next = skipWhitespace(from: word)
            if next > word, next < count, isQuote(bytes[next]) { return nil }
        }
        let end = unquotedEnd(start, .sqlStops, parentheses: true)
        guard end > start else { return nil }
        mask(start, end)
        return end
    }

    /// `SET PASSWORD FOR user = value` (`SET PASSWORD = value` is a key/value pair already).
    mutating func setPasswordFor(after setEnd: Int) -> Int? {
        var index = skipWhitespace(from: setEnd)
        guard index > setEnd, let password = keyword(at: index, "password") else { return nil }
        index = skipWhitespace(from: password)
        guard index > password, let forEnd = keyword(at: index, "for") else { return nil }
        // The account: user, 'user', user@host or 'user'@'host', made of name characters only, so that
        // nothing skipped could hold a secret of its own.
        index = skipWhitespace(from: forEnd)
        guard index > forEnd, index < count else { return nil }
        guard let user = nameEnd(from: index, allowing: .accountName) else { return nil }
        index = user
        if index < count, bytes[index] == .at {
            guard let host = nameEnd(from: index + 1, allowing: .accountName) else { return nil }
            index = host
        }
        index = skipWhitespace(from: index)
        guard index < count, bytes[index] == .equals else { return nil }
        let value = skipWhitespace(from: index + 1)
        guard value < count else { return nil }
        if let end = sqlLiteral(at: value) { return end }
        // PASSWORD('x'), OLD_PASSWORD('x'): the call whole.
        let end = unquotedEnd(value, .sqlStops, parentheses: true)
        guard end > value else { return nil }
        mask(value, end)
        return end
    }

    /// The end of a non-empty name made of `allowed` bytes, bare or quoted with `'`, `"` or a backtick
    /// (a quoted name may also hold `:`, as in `'::1'`); `nil` when there is none.
    func nameEnd(from start: Int, allowing allowed: ByteSet) -> Int? {
        guard start < count else { return nil }
        let open = bytes[start]
        guard isQuote(open) || open == .backtick else {
            var index = start
            while index < count, allowed.contains(bytes[index]) { index += 1 }
            return index > start ? index : nil
        }
        // Names are short: a bounded look keeps the rule's look-ahead bounded.
        let limit = min(count, start + 256)
        var index = start + 1
        while index < limit, allowed.contains(bytes[index]) || bytes[index] == .colon { index += 1 }
        guard index < limit, index > start + 1, bytes[index] == open else { return nil }
        return index + 1
    }

    /// `Bearer <token>`: the token up to whitespace or a quote.
    mutating func bearerToken(after keywordEnd: Int) -> Int? {
        let start = skipSpaces(from: keywordEnd)
        guard start > keywordEnd else { return nil }
        let end = unquotedEnd(start, .bearerStops, parentheses: false)
        guard end > start else { return nil }
        mask(start, end)
        return end
    }

    /// PostgreSQL's `Key (col1, password)=(a, b) already exists.`: the whole value tuple when any column
    /// is sensitive.
    mutating func constraintKey(after keywordEnd: Int) -> Int? {
        var index = keywordEnd
        while index < count, bytes[index] == .space { index += 1 }
        guard index < count, bytes[index] == .openParenthesis else { return nil }
        index += 1
        // The column list; any other byte (a `(` of an expression, a newline) ends the look-ahead.
        var sensitive = false
        while index < count, bytes[index] != .closeParenthesis {
            let byte = bytes[index]
            if isIdentifier(byte) {
                let end = identifierEnd(from: index)
                if SensitiveNames.classify(bytes, index, end, inText: true) != nil { sensitive = true }
                index = end
            } else if byte == .space || byte == .comma || byte == .quote || byte == .dot {
                index += 1
            } else {
                return nil
            }
        }
        guard sensitive, index + 2 < count, bytes[index + 1] == .equals, bytes[index + 2] == .openParenthesis
        else { return nil }
        // Values may hold `)`: the tuple ends at the line's last `)` followed by PostgreSQL's wording,
        // else at the line's last `)`, else at the end of the line.
        let valueStart = index + 3
        var lastParenthesis = -1
        var lastWorded = -1
        var lastOpening = -1
        index = valueStart
        while index < count, bytes[index] != .newline {
            if bytes[index] == .openParenthesis, bytes[index - 1] == .equals {
                lastOpening = index
            } else if bytes[index] == .closeParenthesis {
                lastParenthesis = index
                if hasPrefix(at: index + 1, " already exists") || hasPrefix(at: index + 1, " is not present")
                    || hasPrefix(at: index + 1, " conflicts with") || hasPrefix(at: index + 1, " is still referenced")
                    || hasPrefix(at: index + 1, " is duplicated")
                {
                    lastWorded = index
                }
            }
            index += 1
        }
        // A later tuple left open (`…=(a) … Key (password)=(b`) would leak from the last `)`: mask to the end.
        let end = lastWorded >= 0 ? lastWorded : lastParenthesis > lastOpening ? lastParenthesis : index
        mask(valueStart, end)
        return end
    }

    // MARK: Scanning helpers

    /// Replaces `bytes[start..<end]` with `***`; an empty value shows nothing, so it stays empty.
    mutating func mask(_ start: Int, _ end: Int) {
        let start = max(start, copied)
        guard end > start else { return }
        // Overlapping rules (a URL whose user name holds `password=`) give one mask, not `******`.
        if masked, start == copied {
            copied = end
            return
        }
        if !masked {
            output.reserveCapacity(count)
            masked = true
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<start]))
        output.append(.asterisk)
        output.append(.asterisk)
        output.append(.asterisk)
        copied = end
    }

    /// The end of a quoted string opened at `open`: the closing quote's index and the index after it,
    /// or `limit` twice when it is not closed. Backslash escapes; `doubling` also takes `''` as a quote.
    func quotedEnd(_ open: Int, doubling: Bool, limit: Int? = nil) -> (contentEnd: Int, end: Int) {
        let limit = min(limit ?? count, count)
        let quote = bytes[open]
        var index = open + 1
        while index < limit {
            let byte = bytes[index]
            if byte == .backslash {
                index += 2
            } else if byte == quote {
                if doubling, index + 1 < limit, bytes[index + 1] == quote {
                    index += 2
                } else {
                    return (index, index + 1)
                }
            } else {
                index += 1
            }
        }
        return (limit, limit)
    }

    /// The end of a string quoted with `\"` inside another string: `{\"password\": \"x\"}`.
    func escapedQuotedEnd(_ open: Int) -> (contentEnd: Int, end: Int) {
        let quote = bytes[open + 1]
        var index = open + 2
        var innerEscape = false
        while index < count {
            let byte = bytes[index]
            // An unescaped quote ends the outer string, and the value with it.
            if byte == quote { return (index, index) }
            var decoded = byte
            var width = 1
            if byte == .backslash, index + 1 < count {
                decoded = bytes[index + 1]
                width = 2
            }
            if decoded == quote, width == 2, !innerEscape { return (index, index + 2) }
            innerEscape = decoded == .backslash && !innerEscape
            index += width
        }
        return (count, count)
    }

    /// The end of an unquoted value; with `parentheses`, a `(…)` group (a function call) is part of it.
    func unquotedEnd(_ start: Int, _ stops: ByteSet, parentheses: Bool) -> Int {
        var index = start
        var depth = 0
        while index < count {
            let byte = bytes[index]
            if depth > 0 {
                if isQuote(byte) {
                    index = quotedEnd(index, doubling: true).end
                    continue
                }
                if byte == .openParenthesis {
                    depth += 1
                } else if byte == .closeParenthesis {
                    depth -= 1
                } else if byte == .newline {
                    break
                }
            } else if parentheses, byte == .openParenthesis {
                depth = 1
            } else if stops.contains(byte) {
                break
            }
            index += 1
        }
        return index
    }

    func identifierEnd(from start: Int) -> Int {
        var index = start
        while index < count, isIdentifier(bytes[index]) { index += 1 }
        return index
    }

    func skipSpaces(from start: Int) -> Int {
        var index = start
        while index < count, bytes[index] == .space || bytes[index] == .tab { index += 1 }
        return index
    }

    func skipWhitespace(from start: Int) -> Int {
        var index = start
        while index < count, isWhitespace(bytes[index]) { index += 1 }
        return index
    }

    /// The end of `word` (lowercase ASCII) when it is written at `start` in any case and is a whole word.
    func keyword(at start: Int, _ word: StaticString) -> Int? {
        let length = word.utf8CodeUnitCount
        guard start + length <= count else { return nil }
        let letters = word.utf8Start
        for offset in 0..<length where lowercased(bytes[start + offset]) != letters[offset] { return nil }
        if start + length < count, isIdentifier(bytes[start + length]) { return nil }
        return start + length
    }

    /// Whether the text at `start` is exactly `prefix` (case-sensitive).
    func hasPrefix(at start: Int, _ prefix: StaticString) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard start + length <= count else { return false }
        let letters = prefix.utf8Start
        for offset in 0..<length where bytes[start + offset] != letters[offset] { return false }
        return true
    }

    /// Whether `bytes[start..<end]` is exactly `word`.
    func matches(_ start: Int, _ end: Int, _ word: StaticString) -> Bool {
        end - start == word.utf8CodeUnitCount && hasPrefix(at: start, word)
    }
}

@inline(__always) private func isIdentifier(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        .underscore, .hyphen:
        true
    default:
        false
    }
}

@inline(__always) private func isWhitespace(_ byte: UInt8) -> Bool {
    byte == .space || (byte >= 0x09 && byte <= 0x0D)
}

@inline(__always) private func isQuote(_ byte: UInt8) -> Bool {
    byte == .quote || byte == .apostrophe
}

@inline(__always) private func lowercased(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

extension UInt8 {
    fileprivate static var tab: UInt8 { 0x09 }
    fileprivate static var newline: UInt8 { 0x0A }
    fileprivate static var space: UInt8 { 0x20 }
    fileprivate static var quote: UInt8 { 0x22 }
    fileprivate static var apostrophe: UInt8 { 0x27 }
    fileprivate static var openParenthesis: UInt8 { 0x28 }
    fileprivate static var closeParenthesis: UInt8 { 0x29 }
    fileprivate static var asterisk: UInt8 { 0x2A }
    fileprivate static var comma: UInt8 { 0x2C }
    fileprivate static var hyphen: UInt8 { 0x2D }
    fileprivate static var dot: UInt8 { 0x2E }
    fileprivate static var slash: UInt8 { 0x2F }
    fileprivate static var colon: UInt8 { 0x3A }
    fileprivate static var semicolon: UInt8 { 0x3B }
    fileprivate static var lessThan: UInt8 { 0x3C }
    fileprivate static var equals: UInt8 { 0x3D }
    fileprivate static var greaterThan: UInt8 { 0x3E }
    fileprivate static var at: UInt8 { 0x40 }
    fileprivate static var openBracket: UInt8 { 0x5B }
    fileprivate static var underscore: UInt8 { 0x5F }
    fileprivate static var backslash: UInt8 { 0x5C }
    fileprivate static var closeBracket: UInt8 { 0x5D }
    fileprivate static var backtick: UInt8 { 0x60 }
    fileprivate static var openBrace: UInt8 { 0x7B }
}
