#!/usr/bin/env bash
# Fan-out: LWSKit's topics (lwskit-echo-server mirror: every connection subscribes to one topic
# and publishes what it receives there, itself included) next to three references, each the
# mirror its users would write: Node `ws` looping over `send` (Debian node-ws),
# Python `websockets.broadcast`, and libwebsockets' own test server (lws-mirror-protocol). All
# are loaded by one load generator that shares no code with any of them (C/fanout.c: N
# subscribers and a publisher keeping D of its messages in flight, every delivery checked for
# order and content, many frames parsed per read). Servers run pinned to core 0, the load
# generator to core 1; each scenario runs REPEATS times per server (a fresh server each time);
# the table shows medians, LWSKit's ratio to the best reference, and the CPU use and peak RSS of
# the servers. Figures, never pass/fail: this machine is shared and noisy.
#
# usage: Benchmarks/fanout-compare.sh [REPEATS]   (default 2)
set -euo pipefail
cd "$(dirname "$0")"
repeats=${1:-2}

../scripts/install-dependencies.sh --benchmark
python=$(../scripts/test-venv.sh)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/fanout" C/fanout.c
# SwiftPM prints compiler errors on stdout: keep them for a failed build instead of discarding.
swift build -c release >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$(swift build -c release --show-bin-path)
ulimit -n 8192 2>/dev/null || true

# name|command (PORT substituted)|subprotocol
servers=(
    "LWSKit topics|$bin/lwskit-echo-server mirror PORT|daniel"
    "Node ws|node references/ws-mirror.js PORT|daniel"
    "Py websockets|$python references/websockets_mirror.py PORT|daniel"
    "lws mirror|libwebsockets-test-server --port=PORT|lws-mirror-protocol"
)
# name|fanout arguments|servers left out (the lws test server's mirror holds every client to the
# slowest one: with a subscriber that never reads, the room stops)
scenarios=(
    "100 subscribers x 64 B, 16 in flight|-c 100 -d 16 -s 64 -n 40000|"
    "10 x 64 KiB, 4 in flight (256 MiB), all reading|-c 10 -d 4 -s 65536 -n 4096|lws mirror"
    "the same + 1 subscriber that never reads|-c 10 -d 4 -s 65536 -n 4096 -q 1|lws mirror"
    "1000 subscribers x 1 KiB, 3 in flight|-c 1000 -d 3 -s 1024 -n 3000|"
)
figures=(deliveries_per_s p50_us p99_us)

source server-runs.sh
port=28900

declare -A result usage
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name arguments skipped <<<"$scenario"
    for server in "${servers[@]}"; do
        IFS='|' read -r label command subprotocol <<<"$server"
        lines=()
        if [[ -n $skipped && $label == "$skipped" ]]; then
            for figure in "${figures[@]}"; do result["$name $figure|$label"]="-"; done
            usage["$name|$label"]="-"
            continue
        fi
        for _ in $(seq "$repeats"); do
            start_server "$command"
            line=$(taskset -c 1 "$work/fanout" 127.0.0.1 "$port" $arguments -p "$subprotocol" -P "$server_pid" -t 60 || true)
            stop_server
            lines+=("$line")
            if [[ -z $line || $(field errors "$line") != 0 || $(field missing "$line") != 0 ]]; then
                echo "fanout-compare: $label, $name: ${line:-no result}" >&2
            fi
        done
        for figure in "${figures[@]}"; do
            result["$name $figure|$label"]=$(for line in "${lines[@]}"; do field "$figure" "$line"; done | median)
        done
        usage["$name|$label"]="$(for line in "${lines[@]}"; do field server_cpu_pct "$line"; done | median)/$(for line in "${lines[@]}"; do field loadgen_cpu_pct "$line"; done | median)/$(for line in "${lines[@]}"; do field server_peak_rss_mib "$line"; done | median)"
    done
done

echo
echo "Medians of $repeats runs; servers on core 0, load generator on core 1; every delivery checked."
echo "Ratio: LWSKit against the best reference (above 1x: LWSKit better; for latency, lower is better)."
printf "%-52s" "scenario (figure)"
for server in "${servers[@]}"; do printf "%15s" "${server%%|*}"; done
printf "%12s\n" "ratio"
for scenario in "${scenarios[@]}"; do
    name=${scenario%%|*}
    for figure in "${figures[@]}"; do
        printf "%-52s" "$name ($figure)"
        best=""
        for server in "${servers[@]}"; do
            label=${server%%|*}
            value=${result["$name $figure|$label"]}
            printf "%15s" "$value"
            [[ $label == "LWSKit topics" || $value == "-" ]] && continue
            if [[ -z $best ]] || awk -v v="$value" -v b="$best" -v low="$([[ $figure == deliveries_per_s ]] && echo 0 || echo 1)" \
                'BEGIN { exit !(low ? v + 0 < b + 0 : v + 0 > b + 0) }'; then best=$value; fi
        done
        ours=${result["$name $figure|LWSKit topics"]}
        printf "%12s\n" "$(awk -v a="$ours" -v b="$best" -v low="$([[ $figure == deliveries_per_s ]] && echo 0 || echo 1)" \
            'BEGIN { if (a == "-" || b == "" || a + 0 == 0 || b + 0 == 0) { print "-"; exit } printf "%.2fx", low ? b / a : a / b }')"
    done
done
echo
echo "Server CPU% / load generator CPU% / server peak RSS MiB (100 = one core busy):"
printf "%-52s" "scenario"
for server in "${servers[@]}"; do printf "%15s" "${server%%|*}"; done
echo
for scenario in "${scenarios[@]}"; do
    name=${scenario%%|*}
    printf "%-52s" "$name"
    for server in "${servers[@]}"; do printf "%15s" "${usage["$name|${server%%|*}"]}"; done
    echo
done
