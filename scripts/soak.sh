#!/usr/bin/env bash
# Soaks the wrapper on the cluster lab: 10^6 executes through the default chain on one connection,
# then 20 waves of 1,000 connections opened, used and closed, sampling RSS, threads and open file
# descriptors; after the monitors' idle time they must be back at their baseline.
#   scripts/soak.sh           the full soak (several minutes)
#   scripts/soak.sh --ci      a CI-sized run (20,000 executes, 3 waves of 100 connections)
set -euo pipefail
cd "$(dirname "$0")/.."

args=(1000000 1000 20 3)
configuration=release
if [[ ${1:-} == --ci ]]; then
    args=(20000 100 3 2)
    configuration=debug   # the tests' build: no second compile in CI
fi
scripts/install-prerequisites.sh >/dev/null
swift build -c "$configuration" --product Soak
scripts/cluster-lab.sh down >/dev/null 2>&1 || true
scripts/cluster-lab.sh up --engine pg --flavor aurora >/dev/null
trap 'scripts/cluster-lab.sh down >/dev/null 2>&1 || true' EXIT
eval "$(scripts/cluster-lab.sh env)"
"$(swift build -c "$configuration" --show-bin-path)/Soak" "${args[@]}"
