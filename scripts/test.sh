#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Swift: installs the system packages
# and the Python peer (websockets, in a virtualenv under .build), builds everything and runs
# every test, a minute of fuzzing (scripts/fuzz.sh) and the Autobahn|Testsuite
# (scripts/autobahn.sh); then builds and runs the suite
# again under AddressSanitizer (with LeakSanitizer) and under ThreadSanitizer, the examples
# included. Extra arguments go to every `swift test` (e.g. --filter Echo).
# LWSKIT_SANITIZERS=0 skips the sanitizer runs (a quicker local check).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh --test

LWSKIT_PYTHON="$(scripts/test-venv.sh)"
export LWSKIT_PYTHON

# The soak suite (tens of thousands of connections to one simple-server) runs on its own after
# the rest: beside them it would starve their time limits, most of all under the sanitizers.
run_suites() {  # swift test options (scratch path, sanitizer) and the caller's arguments
    swift test --skip-build "$@" --skip SoakTests
    swift test --skip-build "$@" --filter SoakTests
}

swift build --build-tests
LWSKIT_BIN_DIR="$(swift build --show-bin-path)" run_suites "$@"

# libFuzzer on LWSKit's own parsers (URLs, UTF-8 validation, the receive assembler): 60 s.
scripts/fuzz.sh 60

# Autobahn|Testsuite against simple-server and simple-client (release builds), plain and with
# permessage-deflate, each server run beside its client run: about 21 minutes, most of it
# sections 12 and 13.
scripts/autobahn.sh --with-deflate

if [[ "${LWSKIT_SANITIZERS:-1}" != 0 ]]; then
    export LSAN_OPTIONS="suppressions=$PWD/Tests/sanitizers/lsan.supp:print_suppressions=0"
    export TSAN_OPTIONS="halt_on_error=1"
    for sanitizer in address thread; do
        echo "=== the suite under --sanitize=$sanitizer ===" >&2
        scratch=".build/sanitize-$sanitizer"
        swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
        LWSKIT_BIN_DIR="$(swift build --sanitize="$sanitizer" --scratch-path "$scratch" --show-bin-path)" \
            run_suites --sanitize="$sanitizer" --scratch-path "$scratch" "$@"
    done
fi
