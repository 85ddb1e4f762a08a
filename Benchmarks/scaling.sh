#!/usr/bin/env bash
# Scaling with service threads: LWSKit's echo server (callback style) and its fan-out server
# (topics) run with 1, 2, 4… loops on one port, next to the same server with one loop in the
# same run. The server is pinned to --server-cores, the load generators (C/loadgen.c,
# C/fanout.c: every byte checked) to --loadgen-cores, so that they never share a core.
#
# Scenarios: (c) 100 connections x 8 in flight, 1 KiB echoes; fan-out: 100 subscribers of one
# topic, 64 B messages, 16 in flight. The table shows medians, each figure's ratio to one loop,
# and the server's CPU use (100 = one core busy): a server pinned to one core cannot go faster
# with more loops, only show what they cost. On a larger machine give it more cores:
#
#   Benchmarks/scaling.sh --server-cores 0-3 --loadgen-cores 4-7 --threads "1 2 4"
#
# usage: Benchmarks/scaling.sh [--repeats N] [--threads "1 2 4"] [--server-cores LIST]
#        [--loadgen-cores LIST]   (defaults: 2 repeats; 1 2 4 loops; server on core 0, load
#        generators on core 1 — this 2-core machine)
set -euo pipefail
cd "$(dirname "$0")"
repeats=2
thread_counts="1 2 4"
server_cores=0
loadgen_cores=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --repeats) repeats=$2; shift 2 ;;
        --threads) thread_counts=$2; shift 2 ;;
        --server-cores) server_cores=$2; shift 2 ;;
        --loadgen-cores) loadgen_cores=$2; shift 2 ;;
        *) echo "usage: $0 [--repeats N] [--threads \"1 2 4\"] [--server-cores LIST] [--loadgen-cores LIST]" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/loadgen" C/loadgen.c -lssl -lcrypto
gcc -O2 -Wall -o "$work/fanout" C/fanout.c
# SwiftPM prints compiler errors on stdout: keep them for a failed build instead of discarding.
swift build -c release --product lwskit-echo-server >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$(swift build -c release --show-bin-path)
ulimit -n 8192 2>/dev/null || true

# name|server mode|load generator|its arguments|figure
scenarios=(
    "(c) echo 100x8 1 KiB|callback|loadgen|-c 100 -d 8 -s 1024 -n 300000|msgs_per_s"
    "fan-out 100 subscribers x 64 B|mirror|fanout|-c 100 -d 16 -s 64 -n 40000 -p daniel|deliveries_per_s"
)

source server-runs.sh
port=29000

declare -A result usage
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name mode generator arguments figure <<<"$scenario"
    for threads in $thread_counts; do
        lines=()
        for _ in $(seq "$repeats"); do
            start_server "$bin/lwskit-echo-server $mode PORT --threads=$threads"
            line=$(taskset -c "$loadgen_cores" "$work/$generator" 127.0.0.1 "$port" $arguments -P "$server_pid" -t 60 || true)
            stop_server
            lines+=("$line")
            missing=$(field missing "$line")
            if [[ -z $line || $(field errors "$line") != 0 || ( -n $missing && $missing != 0 ) ]]; then
                echo "scaling: $threads threads, $name: ${line:-no result}" >&2
            fi
        done
        result["$name|$threads"]=$(for line in "${lines[@]}"; do field "$figure" "$line"; done | median)
        usage["$name|$threads"]=$(for line in "${lines[@]}"; do field server_cpu_pct "$line"; done | median)
    done
done

echo
echo "Medians of $repeats runs; server on cores $server_cores, load generators on cores $loadgen_cores; every byte checked."
echo "Each cell: figure (ratio to 1 loop), server CPU% (100 = one core busy)."
printf "%-36s" "scenario"
for threads in $thread_counts; do printf "%28s" "$threads loop(s)"; done
echo
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name _ _ _ figure <<<"$scenario"
    printf "%-36s" "$name ($figure)"
    first=""
    for threads in $thread_counts; do
        value=${result["$name|$threads"]}
        [[ -z $first ]] && first=$value
        ratio=$(awk -v a="$value" -v b="$first" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }')
        printf "%28s" "$value ($ratio), ${usage["$name|$threads"]}%"
    done
    echo
done
