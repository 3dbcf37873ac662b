#!/usr/bin/env bash
# Installs the native packages the project needs on Debian/Ubuntu:
#   - pkg-config, libpq-dev, libmariadb-dev: headers/libraries for the C system-library targets
#   - postgresql, mariadb-server: server binaries used by scripts/db-servers.sh for tests
#   - python3-pip, only if python3 has no pip: to install moto
# and then moto (the mock AWS server of scripts/aws-mock.sh) with pip, if python3 cannot import it.
# Idempotent: only missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail

PACKAGES=(pkg-config libpq-dev libmariadb-dev postgresql mariadb-server)
# The machine's own python3 (it may not be Debian's) usually brings pip; Debian's needs python3-pip.
if ! python3 -m pip --version >/dev/null 2>&1; then
    PACKAGES+=(python3-pip)
fi

install_moto() {
    "$(dirname "${BASH_SOURCE[0]}")/aws-mock.sh" install
}

# Root runs apt directly; otherwise go through sudo if it exists.
if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

is_installed() {
    # `dpkg -s` also succeeds for removed-but-not-purged packages, so check the status line.
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-prerequisites: all packages already installed (${PACKAGES[*]})"
    install_moto
    exit 0
fi

if [[ ${EUID} -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    echo "install-prerequisites: missing ${missing[*]}, and not root and no sudo available" >&2
    exit 1
fi

echo "install-prerequisites: installing ${missing[*]}"
# noninteractive: mariadb-server/postgresql must not stop at debconf prompts on CI.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"

install_moto
