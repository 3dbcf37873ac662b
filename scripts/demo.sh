#!/usr/bin/env bash
# Runs the demo: installs the native prerequisites and runs the demo executable.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
swift run -c release Demo
