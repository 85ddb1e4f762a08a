#!/usr/bin/env bash
# LWSKit's echo servers (callback style, and async style with its tasks on the server's thread
# or on Swift's global pool) next to two references, plain C
# libwebsockets (one lws_write per WRITEABLE, 64 KiB and 1 MiB receive buffers) and SwiftNIO
# (NIOWebSocket), all built in release mode in this run and loaded by one load generator that
# shares no code with any of them (C/loadgen.c: RFC 6455 over raw sockets and epoll, every
# echoed byte checked). Servers run pinned to core 0, the load generator to core 1. Each
# scenario runs REPEATS times per server; the table shows medians and LWSKit's ratios, and a
# second table the CPU use of server and load generator (which one was the limit).
# Figures, never pass/fail: this machine is shared and noisy.
#
# usage: Benchmarks/echo-compare.sh [REPEATS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")"
repeats=${1:-3}

../scripts/install-dependencies.sh --benchmark
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/loadgen" C/loadgen.c -lssl -lcrypto
gcc -O2 -Wall -o "$work/lws-echo-server" C/lws-echo-server.c $(pkg-config --cflags --libs libwebsockets)
# SwiftPM prints compiler errors on stdout: keep them for a failed build instead of discarding.
swift build -c release >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$(swift build -c release --show-bin-path)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$work/key.pem" \
    -out "$work/cert.pem" 2>/dev/null
ulimit -n 4096 2>/dev/null || true

# name|command (PORT, CERT and KEY are substituted; a server without TLS has no wss command)
servers=(
    "C lws 64K|$work/lws-echo-server -p PORT -r 65536|$work/lws-echo-server -p PORT -r 65536 -c CERT -k KEY"
    "C lws 1M|$work/lws-echo-server -p PORT -r 1048576|$work/lws-echo-server -p PORT -r 1048576 -c CERT -k KEY"
    "NIO|$bin/nio-echo-server PORT|"
    "LWSKit callback|$bin/lwskit-echo-server callback PORT|$bin/lwskit-echo-server callback PORT CERT KEY"
    "LWSKit async|$bin/lwskit-echo-server async PORT|$bin/lwskit-echo-server async PORT CERT KEY"
    "async (pool)|$bin/lwskit-echo-server async-pool PORT|$bin/lwskit-echo-server async-pool PORT CERT KEY"
)
# name|transport|loadgen arguments|figures reported (one table row each)
scenarios=(
    "(a) latency 1x1 64 B|ws|-c 1 -d 1 -s 64 -n 20000|p50_us p99_us"
    "(b) rate 1x64 64 B|ws|-c 1 -d 64 -s 64 -n 300000|msgs_per_s"
    "(c) rate 100x8 1 KiB|ws|-c 100 -d 8 -s 1024 -n 300000|msgs_per_s"
    "(d) bandwidth 1x4 1 MiB|ws|-c 1 -d 4 -s 1048576 -n 2000|MB_per_s"
    "(e) 1000 idle connections|ws|-i 1000|bytes_per_connection"
    "(f) wss rate 1x64 64 B|wss|-S -c 1 -d 64 -s 64 -n 200000|msgs_per_s"
    "(f) wss bandwidth 1x4 1 MiB|wss|-S -c 1 -d 4 -s 1048576 -n 1000|MB_per_s"
)

source server-runs.sh
port=28800

declare -A result cpu
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name transport arguments reported <<<"$scenario"
    for server in "${servers[@]}"; do
        IFS='|' read -r label plain secure <<<"$server"
        command=$plain
        [[ $transport == wss ]] && command=$secure
        lines=()
        if [[ -n $command ]]; then
            for _ in $(seq "$repeats"); do
                start_server "$command"   # a fresh process per run: RSS and caches start equal
                line=$(taskset -c 1 "$work/loadgen" 127.0.0.1 "$port" $arguments -P "$server_pid" -t 30 || true)
                stop_server
                lines+=("$line")
                errors=$(field errors "$line")
                if [[ -z $line || ( -n $errors && $errors != 0 ) ]]; then echo "echo-compare: $label, $name: ${line:-no result}" >&2; fi
            done
        fi
        for figure in $reported; do
            value="n/a"
            if [[ -n $command ]]; then value=$(for line in "${lines[@]}"; do field "$figure" "$line"; done | median); fi
            result["$name $figure|$label"]=$value
        done
        if [[ -n $command ]]; then
            cpu["$name|$label"]="$(for line in "${lines[@]}"; do field server_cpu_pct "$line"; done | median)/$(for line in "${lines[@]}"; do field loadgen_cpu_pct "$line"; done | median)"
        fi
    done
done

ratio() {  # numerator denominator lower_is_better
    awk -v a="$1" -v b="$2" -v low="$3" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || a == "n/a" || b == "n/a" || a + 0 == 0 || b + 0 == 0) { print "-"; exit }
        printf "%.2fx", low ? b / a : a / b }'
}
best_c() {  # the better of the two C configurations for this row
    awk -v a="$1" -v b="$2" -v low="$3" 'BEGIN { if (low) print (a + 0 < b + 0 ? a : b); else print (a + 0 > b + 0 ? a : b) }'
}

echo
echo "Medians of $repeats runs; servers on core 0, load generator on core 1. Ratios: LWSKit callback"
echo "against the better C configuration and against NIO, and async against callback (above 1x:"
echo "LWSKit better; for latency and bytes per connection, lower figures are better)."
printf "%-38s" "scenario (figure)"
for server in "${servers[@]}"; do printf "%17s" "${server%%|*}"; done
printf "%12s%12s%14s\n" "cb / C" "cb / NIO" "async / cb"
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name _ _ reported <<<"$scenario"
    for figure in $reported; do
        key="$name $figure"
        printf "%-38s" "$name ($figure)"
        for server in "${servers[@]}"; do printf "%17s" "${result["$key|${server%%|*}"]}"; done
        low=0
        [[ $figure == p50_us || $figure == p99_us || $figure == bytes_per_connection ]] && low=1
        c=$(best_c "${result["$key|C lws 64K"]}" "${result["$key|C lws 1M"]}" "$low")
        printf "%12s%12s%14s\n" "$(ratio "${result["$key|LWSKit callback"]}" "$c" $low)" \
            "$(ratio "${result["$key|LWSKit callback"]}" "${result["$key|NIO"]}" $low)" \
            "$(ratio "${result["$key|LWSKit async"]}" "${result["$key|LWSKit callback"]}" $low)"
    done
done
echo
echo "CPU use during each run, server% / load generator% (100 = one core busy):"
printf "%-38s" "scenario"
for server in "${servers[@]}"; do printf "%17s" "${server%%|*}"; done
echo
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name _ _ reported <<<"$scenario"
    [[ $reported == bytes_per_connection ]] && continue
    printf "%-38s" "$name"
    for server in "${servers[@]}"; do printf "%17s" "${cpu["$name|${server%%|*}"]:-n/a}"; done
    echo
done
