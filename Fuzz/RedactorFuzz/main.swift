// libFuzzer target for SecretRedactor.redact (built and run by scripts/fuzz.sh).
//
// Checked on every input:
// - no crash, and no call over 10 ms of CPU time, three times in a row (inputs are at most 16 KB, so a
//   slow call means the pass is no longer linear);
// - the output is the input with some non-empty ranges replaced by `***`: split at `***`, its pieces
//   are found in the input in order with a gap between them, the first at its start, the last at its end
//   (masks start after a byte that is not `*` and end before one, so `*` in the input cannot confuse this);
// - if every occurrence of `SENTINEL` in the input (as UTF-8, after invalid bytes are replaced)
//   comes right after `password=` (any case), the output holds no `SENTINEL`. This holds exactly:
//   a word ending in `password` before `=` is always sensitive, its unquoted value is masked up to
//   a delimiter, and no rule skips unmasked text that could hold `=`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let sentinel = Array("SENTINEL".utf8)
let keyBytes = Array("password=".utf8)
let stars = Array("***".utf8)

/// CPU time of this thread: a busy machine does not make a fast call look slow.
func threadCPUNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The start of the first occurrence of `needle` in `haystack` at or after `from`.
func find(_ needle: ArraySlice<UInt8>, in haystack: [UInt8], from: Int) -> Int? {
    guard !needle.isEmpty else { return from }
    guard haystack.count >= needle.count else { return nil }
    var start = from
    while start + needle.count <= haystack.count {
        if haystack[start] == needle.first!, haystack[start..<start + needle.count].elementsEqual(needle) { return start }
        start += 1
    }
    return nil
}

func lowercasedASCII(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte | 0x20 : byte }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    var begin = threadCPUNanoseconds()
    let redacted = SecretRedactor.redact(text)
    var elapsed = threadCPUNanoseconds() - begin
    // A page fault or an allocator's sweep can stall one call: only a call slow three times is slow.
    for _ in 0..<2 where elapsed > 10_000_000 {
        begin = threadCPUNanoseconds()
        _ = SecretRedactor.redact(text)
        elapsed = min(elapsed, threadCPUNanoseconds() - begin)
    }
    if elapsed > 10_000_000 {
        fatalError("redact took \(elapsed / 1000) µs of CPU on \(text.utf8.count) bytes")
    }
    let input = Array(text.utf8)
    let output = Array(redacted.utf8)

    // Only masking: the pieces between the `***` are the input's, in order.
    var pieces: [ArraySlice<UInt8>] = []
    var pieceStart = 0
    var index = 0
    while index < output.count {
        if index + 3 <= output.count, output[index..<index + 3].elementsEqual(stars) {
            pieces.append(output[pieceStart..<index])
            index += 3
            pieceStart = index
        } else {
            index += 1
        }
    }
    pieces.append(output[pieceStart..<output.count])
    // The first piece starts the input, the last ends it, and each mask replaced at least one byte.
    func notMasking() -> Never { fatalError("the output is not the input with ranges masked: \(redacted.debugDescription)") }
    if pieces.count == 1 {
        if output != input { notMasking() }
    } else {
        guard input.starts(with: pieces[0]) else { notMasking() }
        var cursor = pieces[0].count
        for piece in pieces.dropFirst().dropLast() {
            guard let found = find(piece, in: input, from: cursor + 1) else { notMasking() }
            cursor = found + piece.count
        }
        let last = pieces[pieces.count - 1]
        guard input.count - last.count >= cursor + 1, input[(input.count - last.count)...].elementsEqual(last) else { notMasking() }
    }

    // The sentinel after `password=`.
    var occurrences = 0
    var afterKey = 0
    var search = 0
    while let found = find(sentinel[...], in: input, from: search) {
        occurrences += 1
        if found >= keyBytes.count,
            zip(input[(found - keyBytes.count)..<found], keyBytes).allSatisfy({ lowercasedASCII($0) == $1 })
        {
            afterKey += 1
        }
        search = found + 1
    }
    if occurrences > 0, occurrences == afterKey, find(sentinel[...], in: output, from: 0) != nil {
        fatalError("SENTINEL after password= survived: \(redacted.debugDescription)")
    }
    return 0
}
