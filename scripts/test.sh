#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Swift: installs the system packages
# and the Python peer (websockets, in a virtualenv under .build), builds everything and runs
# every test. Extra arguments go to `swift test` (e.g. --filter Echo).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh --test

venv=.build/test-venv
if ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'websockets>=15,<18'
fi
export LWSKIT_PYTHON="$PWD/$venv/bin/python"

swift build --build-tests
export LWSKIT_BIN_DIR="$(swift build --show-bin-path)"
swift test --skip-build "$@"
