#!/usr/bin/env bash
# Runs the tour of the API: installs the native prerequisites, starts throwaway PostgreSQL and MariaDB
# servers on loopback, runs the demo through the wrapper, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
scripts/db-servers.sh start >/dev/null
trap 'scripts/db-servers.sh stop >/dev/null' EXIT
eval "$(scripts/db-servers.sh env)"

swift run -c release Tour
