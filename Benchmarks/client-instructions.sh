#!/usr/bin/env bash
# Client-side instructions per SELECT 1 round trip, raw C library against the wrapper, counted by
# callgrind (deterministic, unlike wall time on a shared machine). Needs the throwaway servers:
#   scripts/db-servers.sh start && eval "$(scripts/db-servers.sh env)" && Benchmarks/client-instructions.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
swift build -c release --product DriverOverhead >/dev/null
binary=.build/release/DriverOverhead
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() {  # instructions of a whole run
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$binary" "$@" >/dev/null 2>&1
    grep '^summary' "$work/out" | cut -d' ' -f2
}

for server in postgres mariadb; do
    for mode in raw wrapper execute_time; do
        # The difference between 2200 and 200 round trips removes start-up and connect costs.
        small=$(count "$server" "$mode" 200)
        large=$(count "$server" "$mode" 2200)
        echo "$server $mode: $(( (large - small) / 2000 )) instructions per round trip"
    done
done
