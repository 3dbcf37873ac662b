#!/usr/bin/env bash
# Fuzzes SecretRedactor and ConnectionString parsing with libFuzzer, after checking the redactor's
# time on one-megabyte adversarial inputs (-O build, each under 50 ms).
#
#   scripts/fuzz.sh [seconds]     seconds of fuzzing per target (default 60)
#   FUZZ_KEEP_GOING=1 scripts/fuzz.sh [seconds]
#                                 keep fuzzing after a finding (libFuzzer's fork mode) and list them all
#
# Each target is built with swiftc from the few source files it needs (no package build), in a
# temporary directory. The seed corpora are Fuzz/Corpus/<Target>/ (read only: new inputs go to the
# temporary directory). Exits non-zero when a target crashes or fails a check; the input that did it
# is printed (as text and hex) and kept in a directory the script names.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
core=Sources/WrapperCore
build="$(mktemp -d "${TMPDIR:-/tmp}/wrapper-fuzz.XXXXXX")"
artifacts="$(mktemp -d "${TMPDIR:-/tmp}/wrapper-fuzz-findings.XXXXXX")"
cleanup() {
    rm -rf "$build"
    rmdir "$artifacts" 2>/dev/null || echo "Findings kept in $artifacts"
}
trap cleanup EXIT

# A crash must not wait for the Swift backtracer; libFuzzer reports it.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}"

swift_flags=(-parse-as-library -swift-version 6)
fuzz_flags=(-sanitize=fuzzer,address -g)

# libFuzzer's runtime ships with the Swift toolchain's clang. If this toolchain lacks it, take
# Debian's and put it where the toolchain's clang looks.
cat > "$build/probe.swift" <<'EOF'
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt { 0 }
EOF
if ! swiftc "${fuzz_flags[@]}" "${swift_flags[@]}" "$build/probe.swift" -o "$build/probe" >"$build/probe.log" 2>&1; then
    echo "swiftc -sanitize=fuzzer does not link; installing libFuzzer's runtime (libclang-rt-14-dev)" >&2
    apt-get update -qq && apt-get install -y -qq libclang-rt-14-dev >/dev/null
    toolchain_runtime="$(dirname "$(command -v swiftc)")/../lib/clang"
    toolchain_runtime="$(ls -d "$toolchain_runtime"/*/lib/linux | head -n 1)"
    for archive in /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer*-x86_64.a; do
        [ -e "$toolchain_runtime/$(basename "$archive")" ] || cp "$archive" "$toolchain_runtime/"
    done
    swiftc "${fuzz_flags[@]}" "${swift_flags[@]}" "$build/probe.swift" -o "$build/probe" >"$build/probe.log" 2>&1 \
        || { cat "$build/probe.log" >&2; echo "swiftc -sanitize=fuzzer still does not link" >&2; exit 1; }
fi

# swiftc [flags] files... -o output, showing the compiler's messages only when it fails (the linker
# warns about ASan symbols on every build).
compile() {
    local output="$1"
    shift
    if ! swiftc "$@" -o "$output" >"$output.log" 2>&1; then
        cat "$output.log" >&2
        echo "could not build $(basename "$output")" >&2
        exit 1
    fi
}

status=0

# 1. Timing and cases of the redactor, optimized as shipped. The cases are the unit tests' list.
awk '/BEGIN CASES/{found=1; next} /END CASES/{found=0} found' Tests/WrapperCoreTests/SecretRedactorTests.swift \
    | sed 's/^private let /let /' >"$build/Cases.swift"
compile "$build/RedactorTiming" -O "${swift_flags[@]}" \
    "$core/Errors/SecretRedactor.swift" "$build/Cases.swift" Fuzz/RedactorTiming/main.swift
echo "== RedactorTiming"
"$build/RedactorTiming" || status=1

# 2. The libFuzzer targets. The redactor is built without optimization so that its unsafe buffer
# reads are bounds-checked; the parser is safe Swift and is built optimized for more executions.
build_target() {
    case "$1" in
    RedactorFuzz)
        compile "$build/$1" -Onone "${fuzz_flags[@]}" "${swift_flags[@]}" \
            "$core/Errors/SecretRedactor.swift" Fuzz/RedactorFuzz/main.swift
        ;;
    ConnectionStringFuzz)
        # ConnectionString needs Properties (and its trimming helper), WrapperError, the redactor and HostInfo.
        compile "$build/$1" -O "${fuzz_flags[@]}" "${swift_flags[@]}" \
            "$core/Properties/ConnectionString.swift" "$core/Properties/Properties.swift" \
            "$core/Errors/WrapperError.swift" "$core/Errors/SecretRedactor.swift" "$core/Hosts/HostInfo.swift" \
            Fuzz/ConnectionStringFuzz/main.swift
        ;;
    esac
}

max_len() {
    case "$1" in
    RedactorFuzz) echo 16384 ;;  # long enough that a superlinear pass passes 10 ms
    *) echo 4096 ;;
    esac
}

for target in RedactorFuzz ConnectionStringFuzz; do
    echo "== $target: building"
    build_target "$target"
    mkdir -p "$build/corpus-$target"
    dictionary=()
    [ -f "Fuzz/Dictionaries/$target.dict" ] && dictionary=(-dict="Fuzz/Dictionaries/$target.dict")
    mode=()
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    echo "== $target: fuzzing for $seconds s"
    set +e
    "$build/$target" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -max_len="$(max_len "$target")" \
        -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "${dictionary[@]}" "${mode[@]}" \
        "$build/corpus-$target" "Fuzz/Corpus/$target" >"$build/$target.out" 2>&1
    result=$?
    set -e
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$build/$target.out" || true
    # Fork mode reports progress as "#<runs> ... exec/s" lines and returns 0 after its findings.
    grep -E '^#[0-9]+: .*exec/s' "$build/$target.out" | tail -n 1 || true
    if [ "$result" -eq 0 ] && ls "$artifacts/$target-"* >/dev/null 2>&1; then result=1; fi
    if [ "$result" -ne 0 ]; then
        status=1
        echo "== $target FAILED (exit $result):"
        grep -E 'Fatal error|ERROR: |SUMMARY: ' "$build/$target.out" | sort | uniq -c | sort -rn | head -n 20
        findings=("$artifacts/$target-"*)
        echo "-- ${#findings[@]} input(s) kept; the first ten:"
        for finding in "${findings[@]:0:10}"; do
            [ -e "$finding" ] || continue
            echo "-- input $finding (text, then hex):"
            cat -v "$finding" | head -c 4000
            echo
            od -An -tx1 -v "$finding" | head -n 64
        done
        cp "$build/$target.out" "$artifacts/$target.log"
    fi
done
exit "$status"
