#!/usr/bin/env bash
# Runs the failover demo: installs the native prerequisites, brings the cluster lab up (three
# PostgreSQL nodes with real replication behind fault-injecting proxies), runs a write workload
# through the wrapper with the default plugins, kills the writer (--freeze: freezes it) and
# promotes a reader, prints the timeline and the count of lost writes, and takes the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
swift build -c release --product Demo
scripts/cluster-lab.sh down >/dev/null 2>&1 || true   # a lab left over from the tests
scripts/cluster-lab.sh up --engine pg --flavor aurora >/dev/null
trap 'scripts/cluster-lab.sh down >/dev/null 2>&1 || true' EXIT
eval "$(scripts/cluster-lab.sh env)"

"$(swift build -c release --show-bin-path)/Demo" "$@"
