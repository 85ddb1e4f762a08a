#!/usr/bin/env bash
# Installs the Debian packages LWSKit builds against; with --test, also what its tests need
# (Python for the peers, openssl, curl, headless Chromium, tshark); with --record, also tcpdump
# for captures/record.sh; with --benchmark, what Benchmarks/echo-compare.sh builds and runs with
# (gcc, OpenSSL's headers, openssl, taskset), and the fan-out references of
# Benchmarks/fanout-compare.sh (Node `ws`, Python for `websockets`, libwebsockets' test server).
# Safe to run repeatedly: apt runs only when a package is missing. Needs root or sudo.
# Swift itself is not installed here: Debian has no package for it (see README.md).
set -euo pipefail

packages=(libwebsockets-dev libssl-dev libcap-dev pkg-config libhiredis-dev)
if [[ "${1:-}" == "--test" || "${1:-}" == "--record" ]]; then
    packages+=(python3 python3-venv openssl curl chromium tshark redis-server nginx)
fi
if [[ "${1:-}" == "--record" ]]; then
    packages+=(tcpdump)
fi
if [[ "${1:-}" == "--benchmark" ]]; then
    packages+=(gcc libc6-dev openssl util-linux nodejs node-ws python3 python3-venv libwebsockets-test-server)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then sudo=(sudo); fi
    echo "installing: ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
