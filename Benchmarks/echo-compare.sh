#!/usr/bin/env bash
# Echo throughput of LWSKit's simple-server next to a plain C libwebsockets echo server, measured
# in one run by one load generator that shares no code with either (loadgen.c, RFC 6455 over
# raw sockets). Servers run pinned to core 0, the load generator to core 1. Prints the median of
# REPEATS runs per scenario and LWSKit's ratio to the C reference. Timings are figures, not tests.
#
# usage: Benchmarks/echo-compare.sh [REPEATS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}

scripts/install-dependencies.sh
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/loadgen" Benchmarks/loadgen.c -lcrypto
gcc -O2 -Wall -o "$work/lws-echo-server" Benchmarks/lws-echo-server.c $(pkg-config --cflags --libs libwebsockets)
swift build -c release --product simple-server >/dev/null
release=$(swift build -c release --show-bin-path)

taskset -c 0 "$work/lws-echo-server" -p 28790 -r 65536 >/dev/null &
taskset -c 0 "$work/lws-echo-server" -p 28791 -r 1048576 >/dev/null &
taskset -c 0 "$release/simple-server" --port 28792 --host 127.0.0.1 --log-level warning >/dev/null 2>&1 &
sleep 1

servers=("28790:C lws (rx 64 KiB)" "28791:C lws (rx 1 MiB)" "28792:LWSKit simple-server")
scenarios=(
    "latency: 1 conn, 1 in flight, 64 B|-d 1 -s 64 -n 20000|p50_us"
    "rate: 1 conn, 64 in flight, 64 B|-d 64 -s 64 -n 300000|msgs_per_s"
    "bandwidth: 1 conn, 4 in flight, 1 MiB|-d 4 -s 1048576 -n 2000|MB_per_s"
)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "%-42s" "scenario (median of $repeats)"
for server in "${servers[@]}"; do printf "%24s" "${server#*:}"; done
printf "%18s\n" "LWSKit / C 64K"
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name arguments field <<<"$scenario"
    printf "%-42s" "$name ($field)"
    values=()
    for server in "${servers[@]}"; do
        port=${server%%:*}
        runs=()
        for _ in $(seq "$repeats"); do
            line=$(taskset -c 1 "$work/loadgen" 127.0.0.1 "$port" $arguments -t 30)
            runs+=("$(sed -n "s/.*$field=\([0-9.]*\).*/\1/p" <<<"$line")")
        done
        value=$(printf "%s\n" "${runs[@]}" | median)
        values+=("$value")
        printf "%24s" "$value"
    done
    printf "%18s\n" "$(awk -v a="${values[2]}" -v b="${values[0]}" 'BEGIN {printf "%.2fx", a / b}')"
done
