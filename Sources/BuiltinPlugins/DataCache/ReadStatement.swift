/// Which statements `data_cache` may answer from its cache: reads only, told apart conservatively.
///
/// A statement is a read when, after comments and opening parentheses, it starts with `SELECT`,
/// `VALUES`, `TABLE`, `SHOW` or `WITH`, is a single statement, and no word outside string literals,
/// quoted identifiers and comments is one that writes, locks or has a side effect (`INSERT`,
/// `UPDATE`, `DELETE`, `MERGE`, `INTO`, `FOR` as in `FOR UPDATE`, `nextval`, `GET_LOCK`, ...).
/// Anything else always runs on the server, whatever the trigger pattern matches.
enum ReadStatement {
    static let readHeads: Set<String> = ["SELECT", "VALUES", "TABLE", "SHOW", "WITH"]
    static let disqualifying: Set<String> = [
        "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "INTO", "FOR", "LOCK", "CREATE", "DROP", "ALTER",
        "TRUNCATE", "GRANT", "REVOKE", "CALL", "DO", "COPY", "SET", "NEXTVAL", "SETVAL", "LASTVAL", "CURRVAL",
        "PG_ADVISORY_LOCK", "PG_ADVISORY_XACT_LOCK", "PG_TRY_ADVISORY_LOCK", "PG_SLEEP", "PG_TERMINATE_BACKEND",
        "PG_CANCEL_BACKEND", "GET_LOCK", "RELEASE_LOCK", "SLEEP", "LAST_INSERT_ID", "LOAD_FILE", "SET_CONFIG", "PG_NOTIFY",
    ]

    /// Whether `sql` only reads. Runs in one pass over the text.
    static func isRead(_ sql: String) -> Bool {
        var words: [String] = []
        var scanner = SQLWordScanner(sql)
        while let token = scanner.next() {
            switch token {
            case .semicolon:
                // A second statement after the first: not a single read.
                if scanner.hasMoreTokens() { return false }
            case .ambiguous:
                // Text the two servers read differently: never answered from the cache.
                return false
            case .word(let word):
                let upper = word.uppercased()
                if words.isEmpty, !readHeads.contains(upper) { return false }
                if disqualifying.contains(upper) { return false }
                words.append(upper)
            }
        }
        return !words.isEmpty
    }
}

/// Words of SQL text, skipping string literals, quoted identifiers, dollar quotes and comments.
struct SQLWordScanner {
    enum Token: Equatable {
        case word(String)
        case semicolon
        /// Something PostgreSQL and MySQL read differently (`#`, `/*!`, a backslash in a literal,
        /// `$` after a word): the scanner cannot be sure what the server runs.
        case ambiguous
    }

    private let bytes: [UInt8]
    private var index = 0

    init(_ sql: String) { bytes = Array(sql.utf8) }

    mutating func hasMoreTokens() -> Bool {
        var copy = self
        return copy.next() != nil
    }

    mutating func next() -> Token? {
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
                if skipQuoted(byte) { return .ambiguous }
            case UInt8(ascii: "#"):
                // A comment in MySQL, an operator in PostgreSQL.
                index += 1
                return .ambiguous
            case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*") && (peek(2) == UInt8(ascii: "!") || peek(2) == UInt8(ascii: "M")):
                // MySQL runs what `/*! ... */` and `/*M! ... */` hold.
                index += 2
                return .ambiguous
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                index += 2
                while index < bytes.count, !(bytes[index] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/")) { index += 1 }
                index = min(bytes.count, index + 2)
            case UInt8(ascii: "$"):
                // `x$a$` is an identifier in PostgreSQL, not the start of a dollar quote.
                if index > 0, isWordByte(bytes[index - 1]) || (bytes[index - 1] >= 48 && bytes[index - 1] <= 57) { index += 1; return .ambiguous }
                skipDollarQuoted()
            case UInt8(ascii: ";"):
                index += 1
                return .semicolon
            default:
                if isWordByte(byte) {
                    let start = index
                    while index < bytes.count, isWordByte(bytes[index]) || (bytes[index] >= 48 && bytes[index] <= 57) { index += 1 }
                    return .word(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                index += 1
            }
        }
        return nil
    }

    private func peek(_ offset: Int) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    /// Skips a quoted literal or identifier; `true` when it holds a backslash, which MySQL reads as
    /// an escape and PostgreSQL does not.
    private mutating func skipQuoted(_ quote: UInt8) -> Bool {
        index += 1
        var ambiguous = false
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\") {
                ambiguous = true
                index += 2
                continue
            }
            if bytes[index] == quote {
                // A doubled quote stands for itself.
                if peek(1) == quote { index += 2; continue }
                index += 1
                return ambiguous
            }
            index += 1
        }
        return ambiguous
    }

    /// `$$...$$` or `$tag$...$tag$`; a `$1` placeholder is skipped as a word-less token.
    private mutating func skipDollarQuoted() {
        var end = index + 1
        while end < bytes.count, isWordByte(bytes[end]) { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "$") else {
            index += 1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
            return
        }
        let tag = Array(bytes[index...end])
        index = end + 1
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "$"), index + tag.count <= bytes.count, Array(bytes[index..<index + tag.count]) == tag {
                index += tag.count
                return
            }
            index += 1
        }
    }
}
