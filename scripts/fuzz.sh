#!/usr/bin/env bash
# Fuzzes LWSKit's own parsing code with libFuzzer for SECONDS (default 60): URL parsing, the
# incremental UTF-8 validator and the receive assembler (Tests/Fuzz/FuzzParsers.swift says
# which properties must hold). The target is compiled from those source files alone with
# -sanitize=fuzzer,address; it starts from Tests/Fuzz/seeds plus what earlier runs found
# (.build/fuzz/corpus). A crash, a violated property or a leak fails the run, and libFuzzer
# leaves the input that caused it in .build/fuzz (crash-*, leak-*).
#
# usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=.build/fuzz
mkdir -p "$out/corpus"

swiftc -sanitize=fuzzer,address -parse-as-library -module-name LWSKitFuzz -o "$out/lwskit-fuzz" \
    Tests/Fuzz/FuzzParsers.swift \
    Sources/LWSKit/Core/URLParts.swift Sources/LWSKit/WebSocketURL.swift Sources/LWSKit/HTTPURL.swift \
    Sources/LWSKit/Core/UTF8Validator.swift Sources/LWSKit/Core/ReceiveAssembler.swift \
    Sources/LWSKit/Message.swift Sources/LWSKit/LWSError.swift

cd "$out"
# libFuzzer reports crashes itself; Swift's own backtracer would only slow them down.
# (Its progress lines, "#123 NEW cov: …", are left out of the output.)
SWIFT_BACKTRACE=enable=no ./lwskit-fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 corpus ../../Tests/Fuzz/seeds 2>&1 |
    grep -v '^#'
