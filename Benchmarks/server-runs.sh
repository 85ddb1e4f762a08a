# Shared by echo-compare.sh and fanout-compare.sh (sourced): starting and stopping the server
# under test, and reading the load generators' key=value lines. The caller sets `work` (its
# scratch directory) and `port` (one below the first port to use).

# The median of the numbers on standard input, one per line; "-" when there are none.
median() { { grep -v '^$' || true; } | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }

# The value of `name=` in a load generator's line: field NAME LINE.
field() { sed -n "s/.* $1=\([-0-9.]*\).*/\1/p" <<<" $2"; }

# Starts COMMAND pinned to $server_cores (default core 0) on the next port (PORT, CERT and KEY in it are replaced by
# the port and by $work/cert.pem and $work/key.pem), sets server_pid and waits until the port
# answers (10 s at most).
start_server() {
    port=$((port + 1))
    local command=${1//PORT/$port}
    command=${command//CERT/$work/cert.pem}
    command=${command//KEY/$work/key.pem}
    taskset -c "${server_cores:-0}" $command >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$(basename "$0" .sh): server did not start: $command" >&2
    cat "$work/server.log" >&2
    exit 1
}

# Stops the server start_server started.
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
