// libFuzzer target for ConnectionString parsing (built and run by scripts/fuzz.sh).
//
// The first input byte picks how the rest is used; the rest is split at zero bytes into parts:
// 0. raw text;
// 1. a URL `scheme://user:<a>SENTINELPW<b>@rest` (user without `: @ / ? #` or whitespace, the others
//    without `@`): the last `@` ends the user info and the first `:` starts the password, so
//    SENTINELPW is inside the password the text spells. One exception: when the password has a `/`
//    before any `?`, the authority ends at that `/` and the text is also the URL
//    `scheme://user:<port>/<path>?<query>` whose query value holds the `@` (libpq reads it so too);
//    a password that spells a valid URL of its own cannot be told from one, so such an input is
//    checked for leaks only when it fails to parse;
// 2. keyword/value text `dbname=fuzz <pre> password=<value> <post>` where the value holds SENTINELPW,
//    either bare (no whitespace, quote or backslash) or single-quoted with `'` and `\` escaped, and
//    `<pre>` has no quote or backslash and does not end with `=` (so it cannot take the pair in).
//    Whitespace, quotes and escapes are scalars as the parser reads them: Unicode White_Space
//    (U+2028 ends a bare value), and a combining mark after a quote does not hide it;
// 3. a URL `scheme://host/path?<pre>&password=<a>SENTINELPW<b>&<post>` (no `@` anywhere, no `&` in
//    the value).
// Checked: no crash; no parse over 10 ms of CPU time (three times in a row); in forms 1-3 (when no part holds SENTINELPW
// itself, and but for the exception in form 1) SENTINELPW appears in no error description or message, no
// Properties description, debug description or dump, and no error of `hosts(defaultPort:)`; in every form,
// on success, no value of a sensitive key appears in the description unless the non-sensitive entries show
// it too.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let sentinel = "SENTINELPW"
let schemes = ["postgresql", "postgres", "mysql", "mariadb"]

/// CPU time of this thread: a busy machine does not make a fast call look slow.
func threadCPUNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func text(_ bytes: ArraySlice<UInt8>, removing removed: String = "") -> String {
    let drop = Set(removed.utf8)
    return String(decoding: bytes.filter { !drop.contains($0) }, as: UTF8.self)
}

/// `text` without the scalars the conninfo parser reads as whitespace.
func withoutWhitespace(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.filter { !$0.properties.isWhitespace }))
}

/// A scheme from the part: one of the supported ones, or the part's own letters (to reach the error).
func scheme(_ part: ArraySlice<UInt8>) -> String {
    guard let first = part.first else { return schemes[0] }
    if first % 8 < 4 { return schemes[Int(first % 4)] }
    let letters = part.dropFirst().filter { (97...122).contains($0) || (65...90).contains($0) }
    return letters.isEmpty ? "redis" : String(decoding: letters.prefix(12), as: UTF8.self)
}

/// The input for `bytes`, whether SENTINELPW in it is known to be (part of) the password, and
/// whether the text also reads as a URL without user info (form 1's exception).
func makeInput(_ bytes: UnsafeRawBufferPointer) -> (String, Bool, Bool) {
    guard let mode = bytes.first else { return ("", false, false) }
    var parts = Array(bytes.dropFirst()).split(separator: 0, maxSplits: 6, omittingEmptySubsequences: false)
    while parts.count < 7 { parts.append([]) }
    switch mode % 4 {
    case 1:
        let user = text(parts[1], removing: ":@/?# \t\n\r\u{0B}\u{0C}")
        let password = text(parts[2], removing: "@") + sentinel + text(parts[3], removing: "@")
        let slashFirst = password.unicodeScalars.first(where: { $0 == "/" || $0 == "?" }) == "/"
        return ("\(scheme(parts[0]))://\(user):\(password)@\(text(parts[4], removing: "@"))", true, slashFirst)
    case 2:
        var pre = text(parts[0], removing: "'\\")
        if pre.unicodeScalars.last(where: { !$0.properties.isWhitespace }) == "=" { pre += "x" }
        let value: String
        if parts[1].first.map({ $0 % 2 == 0 }) ?? true {
            let bare = "'\\"
            value = withoutWhitespace(text(parts[1].dropFirst(), removing: bare) + sentinel + text(parts[2], removing: bare))
        } else {
            let content = text(parts[1].dropFirst()) + sentinel + text(parts[2])
            var escaped = String.UnicodeScalarView()
            for scalar in content.unicodeScalars {
                if scalar == "'" || scalar == "\\" { escaped.append("\\") }
                escaped.append(scalar)
            }
            value = "'\(String(escaped))'"
        }
        return ("dbname=fuzz \(pre) password=\(value) \(text(parts[3]))", true, false)
    case 3:
        let host = text(parts[1], removing: "@/?#")
        let path = text(parts[2], removing: "@?#")
        let value = text(parts[4], removing: "@&#") + sentinel + text(parts[5], removing: "@&#")
        let pre = text(parts[3], removing: "@#")
        let post = text(parts[6], removing: "@#")
        return ("\(scheme(parts[0]))://\(host)/\(path)?\(pre)&password=\(value)&\(post)", true, false)
    default:
        return (String(decoding: bytes.dropFirst(), as: UTF8.self), false, false)
    }
}

/// How many times `needle` occurs in `haystack`, overlaps included.
func occurrences(of needle: String, in haystack: String) -> Int {
    let needle = Array(needle.utf8)
    let haystack = Array(haystack.utf8)
    guard haystack.count >= needle.count else { return 0 }
    return (0...(haystack.count - needle.count)).filter { haystack[$0..<$0 + needle.count].elementsEqual(needle) }.count
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var (input, sentinelIsPassword, readsWithoutUserInfo) = makeInput(UnsafeRawBufferPointer(start: start, count: count))
    // The parts must not bring a SENTINELPW of their own.
    if sentinelIsPassword, occurrences(of: sentinel, in: input) != 1 { sentinelIsPassword = false }

    var shown: [String] = []
    var begin = threadCPUNanoseconds()
    let result = Result { try ConnectionString(parsing: input) }
    var elapsed = threadCPUNanoseconds() - begin
    // A page fault or an allocator's sweep can stall one call: only a call slow three times is slow.
    for _ in 0..<2 where elapsed > 10_000_000 {
        begin = threadCPUNanoseconds()
        _ = try? ConnectionString(parsing: input)
        elapsed = min(elapsed, threadCPUNanoseconds() - begin)
    }
    if elapsed > 10_000_000 {
        fatalError("parsing took \(elapsed / 1000) µs of CPU on \(input.utf8.count) bytes: \(input.debugDescription)")
    }
    switch result {
    case .success(let parsed):
        // Form 1's exception: the text is a valid URL in which SENTINELPW is not in user info.
        if readsWithoutUserInfo { sentinelIsPassword = false }
        let properties = parsed.properties
        var dumped = ""
        dump(properties, to: &dumped)
        shown += [properties.description, properties.debugDescription, String(reflecting: properties), dumped, String(describing: parsed)]
        do {
            shown += try properties.hosts(defaultPort: 5432).map(\.description)
        } catch {
            shown += [String(describing: error), WrapperError.redactedDescription(of: error)]
        }
        // A sensitive value never shows, unless the other entries show the same text.
        let open = Properties(properties.entries.filter { !SecretRedactor.isSensitive(key: $0.key) })
        let context = open.description + " " + properties.entries.keys.joined(separator: " ")
        for (key, value) in properties.entries where SecretRedactor.isSensitive(key: key) {
            // Values that could be read out of the description's own punctuation are not checked.
            guard value.count >= 3, !value.contains(where: { "[],=* ".contains($0) }) else { continue }
            if properties.description.contains(value), !context.contains(value) {
                fatalError("the value of '\(key)' shows in \(properties.description.debugDescription)")
            }
        }
    case .failure(let error):
        shown.append(String(describing: error))
        if let error = error as? WrapperError {
            shown += [error.message, error.description, String(reflecting: error)]
        }
    }
    if sentinelIsPassword, let leak = shown.first(where: { $0.contains(sentinel) }) {
        fatalError("the password of \(input.debugDescription) leaked: \(leak.debugDescription)")
    }
    return 0
}
