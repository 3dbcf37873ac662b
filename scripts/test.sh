#!/usr/bin/env bash
# Runs every test: installs the native prerequisites, starts throwaway PostgreSQL and MariaDB
# servers on loopback, runs `swift test`, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh
scripts/db-servers.sh start
trap 'scripts/db-servers.sh stop' EXIT
eval "$(scripts/db-servers.sh env)"

swift test "$@"
# The concurrency tests (abort from another thread, one caller at a time, the registry under load)
# must also pass under ThreadSanitizer.
swift test --sanitize=thread "$@"
