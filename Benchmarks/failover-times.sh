#!/usr/bin/env bash
# Failure-detection and failover times on the cluster lab (see Benchmarks/FailoverTimes/main.swift):
#   Benchmarks/failover-times.sh detection [--repeat N] [--grid common|aggressive|both]
#   Benchmarks/failover-times.sh writer-kill|writer-freeze|fast-profile [--repeat N]
set -euo pipefail
cd "$(dirname "$0")"
../scripts/install-prerequisites.sh >/dev/null
swift build -c release --product FailoverTimes
../scripts/cluster-lab.sh down >/dev/null 2>&1 || true
../scripts/cluster-lab.sh up --engine pg --flavor aurora >/dev/null
trap '../scripts/cluster-lab.sh down >/dev/null 2>&1 || true' EXIT
eval "$(../scripts/cluster-lab.sh env)"
"$(swift build -c release --show-bin-path)/FailoverTimes" "$@"
