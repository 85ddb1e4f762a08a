#!/usr/bin/env bash
# Cross-node fan-out: simple-server --mirror rooms shared through Redis (RedisTopicBroker),
# next to one node on its own in the same run. One load generator (C/fanout.c: every delivery
# checked for order and content) opens the subscribers, dealt in turn over the nodes, and a
# publisher on the first node keeping D of its messages in flight.
#
#   1 node           simple-server --mirror
#   1 node + Redis   the same with --redis: every publish also goes to Redis and comes back
#                    (dropped: the node's subscribers have it), the broker's whole cost
#   3 nodes + Redis  three simple-servers with --redis; two thirds of the subscribers are
#                    reached through Redis
#
# The nodes and Redis are pinned to --server-cores, the load generator to --loadgen-cores. On
# this 2-core machine that is one core for three nodes and Redis: the figures show what the
# broker costs, not how far several machines go. The table shows medians, each figure's ratio
# to one node, and the servers' CPU use together (100 = one core busy).
#
# usage: Benchmarks/cluster.sh [--repeats N] [--server-cores LIST] [--loadgen-cores LIST]
#        (defaults: 2 repeats; servers on core 0, load generator on core 1)
set -euo pipefail
cd "$(dirname "$0")"
repeats=2
server_cores=0
loadgen_cores=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --repeats) repeats=$2; shift 2 ;;
        --server-cores) server_cores=$2; shift 2 ;;
        --loadgen-cores) loadgen_cores=$2; shift 2 ;;
        *) echo "usage: $0 [--repeats N] [--server-cores LIST] [--loadgen-cores LIST]" >&2; exit 2 ;;
    esac
done

../scripts/install-dependencies.sh --test >/dev/null
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/fanout" C/fanout.c
# SwiftPM prints compiler errors on stdout: keep them for a failed build instead of discarding.
(cd .. && swift build -c release --product simple-server) >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$(cd .. && swift build -c release --show-bin-path)
ulimit -n 8192 2>/dev/null || true

source server-runs.sh
redis_port=29400
port=29410

# Waits until 127.0.0.1:$1 accepts connections (10 s at most).
wait_for_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "cluster: nothing listens on $1" >&2
    cat "$work"/*.log >&2
    exit 1
}

# Starts NODES simple-servers (with Redis if WITH_REDIS is 1): sets node_ports, node_pids.
start_nodes() {
    local nodes=$1 with_redis=$2
    node_ports=() node_pids=()
    if [[ $with_redis == 1 ]]; then
        taskset -c "$server_cores" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
            >"$work/redis.log" 2>&1 &
        redis_pid=$!
        wait_for_port "$redis_port"
    fi
    for number in $(seq "$nodes"); do
        port=$((port + 1))
        local redis=()
        [[ $with_redis == 1 ]] && redis=(--redis "redis://127.0.0.1:$redis_port" --node-name "P$number")
        taskset -c "$server_cores" "$bin/simple-server" --port "$port" --host 127.0.0.1 --mirror --log-level warning \
            "${redis[@]}" >"$work/node$number.log" 2>&1 &
        node_pids+=($!)
        node_ports+=("$port")
        wait_for_port "$port"
    done
    sleep 0.3  # (the brokers connect)
}

stop_nodes() {
    kill "${node_pids[@]}" 2>/dev/null || true
    wait "${node_pids[@]}" 2>/dev/null || true
    if [[ -n ${redis_pid:-} ]]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=
    fi
}

# name|nodes|with Redis
setups=("1 node|1|0" "1 node + Redis|1|1" "3 nodes + Redis|3|1")
# name|fanout arguments
scenarios=(
    "100 subscribers x 64 B, 16 in flight|-c 100 -d 16 -s 64 -n 20000"
    "1000 subscribers x 1 KiB, 3 in flight|-c 1000 -d 3 -s 1024 -n 2000"
)

declare -A result usage
for scenario in "${scenarios[@]}"; do
    IFS='|' read -r name arguments <<<"$scenario"
    for setup in "${setups[@]}"; do
        IFS='|' read -r label nodes with_redis <<<"$setup"
        lines=()
        for _ in $(seq "$repeats"); do
            start_nodes "$nodes" "$with_redis"
            extra=("${node_ports[@]:1}")
            pids=$(IFS=,; echo "${node_pids[*]}${redis_pid:+,$redis_pid}")
            line=$(taskset -c "$loadgen_cores" "$work/fanout" 127.0.0.1 "${node_ports[0]}" $arguments -p daniel \
                ${extra[@]:+-e "$(IFS=,; echo "${extra[*]}")"} -P "$pids" -t 60 || true)
            stop_nodes
            lines+=("$line")
            if [[ -z $line || $(field errors "$line") != 0 || $(field missing "$line") != 0 ]]; then
                echo "cluster: $label, $name: ${line:-no result}" >&2
            fi
        done
        for figure in deliveries_per_s p50_us p99_us; do
            result["$name $figure|$label"]=$(for line in "${lines[@]}"; do field "$figure" "$line"; done | median)
        done
        usage["$name|$label"]=$(for line in "${lines[@]}"; do field server_cpu_pct "$line"; done | median)
    done
done

echo
echo "Medians of $repeats runs; nodes and Redis on cores $server_cores, load generator on $loadgen_cores; every delivery checked."
printf "%-58s" "scenario (figure)"
for setup in "${setups[@]}"; do printf "%24s" "${setup%%|*}"; done
echo
for scenario in "${scenarios[@]}"; do
    name=${scenario%%|*}
    for figure in deliveries_per_s p50_us p99_us; do
        printf "%-58s" "$name ($figure)"
        reference=${result["$name $figure|1 node"]}
        for setup in "${setups[@]}"; do
            value=${result["$name $figure|${setup%%|*}"]}
            ratio=$(awk -v v="$value" -v r="$reference" 'BEGIN { if (v + 0 > 0 && r + 0 > 0) printf "%.2fx", v / r; else print "-" }')
            printf "%24s" "$value ($ratio)"
        done
        echo
    done
    printf "%-58s" "$name (servers' CPU %)"
    for setup in "${setups[@]}"; do printf "%24s" "${usage["$name|${setup%%|*}"]}"; done
    echo
done
