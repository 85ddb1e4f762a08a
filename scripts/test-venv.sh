#!/usr/bin/env bash
# Makes (once) the virtualenv of the tests' Python peers under .build/test-venv, with
# `websockets` from PyPI, and prints its python's path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/test-venv
if ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'websockets>=15,<18' >&2
fi
echo "$PWD/$venv/bin/python"
