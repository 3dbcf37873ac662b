#!/usr/bin/env bash
# Runs every test: installs the native prerequisites, starts throwaway PostgreSQL and MariaDB
# servers, a mock AWS (moto) and the cluster lab on loopback, runs `swift test` (also under ThreadSanitizer),
# a CI-sized soak on the lab and a minute of fuzzing per fuzz target, and stops everything again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh
# The lab's preparation may install server headers, which can upgrade the server package: it runs
# before any server starts, so no running server sees its libraries (plpgsql) replaced underneath it.
scripts/cluster-lab.sh prepare >/dev/null
scripts/db-servers.sh start
trap 'scripts/cluster-lab.sh down >/dev/null 2>&1 || true; scripts/aws-mock.sh stop || true; scripts/db-servers.sh stop' EXIT
scripts/aws-mock.sh start
eval "$(scripts/db-servers.sh env)"
eval "$(scripts/aws-mock.sh env)"

swift test "$@"
# Liveness on the lab: RSS flat, threads and file descriptors back at their baseline.
scripts/soak.sh --ci
# The connection-string parser and the redactor under libFuzzer, a minute each.
scripts/fuzz.sh 60
# The concurrency tests (abort from another thread, one caller at a time, the registry under load,
# the topology monitors) must also pass under ThreadSanitizer.
# A race report starts a symbolizer that can outlive the test process and keep its output open:
# bounded, so a report fails the run instead of hanging it.
timeout --kill-after=30 1800 swift test --sanitize=thread "$@"
