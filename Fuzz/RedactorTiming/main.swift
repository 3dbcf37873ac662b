// The redactor's time on one-megabyte adversarial inputs, and its cases, outside the test runner
// (built with -O and run by scripts/fuzz.sh; the cases come from Tests/WrapperCoreTests/SecretRedactorTests.swift).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shapes that made earlier versions quadratic (a rescan from every match), and a few of each rule.
let shapes = [
    "://", "password=", "@", "IDENTIFIED BY ", "a", "password=hunter2 ", "postgresql://u:hunter2@h ", "://u:hunter2@",
    "Key (password)=(hunter2", "Key (password)=(a) already exists. ", "IDENTIFIED BY 'hunter2' ", "Bearer hunter2 ", "'",
    "\"password\":\"", "SET PASSWORD FOR ", "SET PASSWORD FOR '", "IDENTIFIED WITH '", "IDENTIFIED WITH x ",
    "IDENTIFIED VIA a USING 'x' OR ", "\\", "Key (", "password ", "PASSWORD(", "\\\"password\\\": \\\"", "<Password>",
    "<![CDATA[", "_", "a_", "x:", "://:", "password=(", "password=('", "E'", " ", "\n", "é", "X-Amz-Signature=",
]

/// CPU time of this thread, in milliseconds.
func cpuMilliseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1_000_000
}

@main
struct RedactorTiming {
    static func main() {
        var failures = 0
        for testCase in redactorCases {
            let redacted = SecretRedactor.redact(testCase.text)
            if redacted.contains(testCase.secret) || !redacted.contains(testCase.kept) {
                print("FAIL case \(testCase.text.debugDescription) -> \(redacted.debugDescription)")
                failures += 1
            }
        }
        print("\(redactorCases.count) cases, \(failures) failed")
        let limit = 50.0
        for unit in shapes {
            let text = String(repeating: unit, count: 1_048_576 / unit.utf8.count)
            // The best of three, so that a busy machine does not fail the check.
            var best = Double.infinity
            for _ in 0..<3 {
                let begin = cpuMilliseconds()
                _ = SecretRedactor.redact(text)
                best = min(best, cpuMilliseconds() - begin)
            }
            let verdict = best < limit ? "ok" : "TOO SLOW"
            print("1 MB of \(unit.debugDescription): \((best * 100).rounded() / 100) ms \(verdict)")
            if best >= limit { failures += 1 }
        }
        exit(failures == 0 ? 0 : 1)
    }
}
