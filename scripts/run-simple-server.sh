#!/usr/bin/env bash
# Installs what simple-server needs on Debian 12 (Swift must already be there), builds it in
# release mode and runs it: port 28709 unless --port is given. Arguments go to simple-server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
swift build -c release --product simple-server
exec "$(swift build -c release --show-bin-path)/simple-server" "$@"
