#!/usr/bin/env bash
# Autobahn|Testsuite against the examples: fuzzingclient against simple-server ("server" run) and
# fuzzingserver against simple-client --echo ("client" run), all cases but the deflate sections
# 12 and 13 (about a minute). With --with-deflate (the test command's choice), also both again
# with permessage-deflate and every case ("server-deflate", "client-deflate"). Each server run
# goes side by side with its client run (two single-threaded wstest processes on two cores).
# Fails on any
# case that is not OK or INFORMATIONAL unless Tests/autobahn/expected-deviations.txt lists it
# for that run, with its reason. Reports: .build/autobahn/<run>/index.html and index.json.
#
# wstest is Python 2 only: it runs in a virtualenv made from CPython 2.7 (the machine image's
# pyenv 2.7.18; LWSKIT_PYTHON2 overrides). Every wstest run is bounded by a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

python2="${LWSKIT_PYTHON2:-}"
if [[ -z "$python2" ]]; then
    for root in "$(pyenv root 2>/dev/null || true)" "$HOME/.pyenv" /root/.pyenv; do
        candidate="$root/versions/2.7.18/bin/python"
        if [[ -n "$root" && -x "$candidate" ]]; then python2="$candidate"; break; fi
    done
fi
if [[ -z "$python2" ]]; then
    echo "autobahn: no CPython 2.7 found (pyenv 2.7.18); set LWSKIT_PYTHON2 to a python2.7" >&2
    exit 1
fi
python3="${LWSKIT_PYTHON:-python3}"   # with `websockets`: asks fuzzingserver for its case count

venv=.build/autobahn-venv
if ! "$venv/bin/wstest" --help >/dev/null 2>&1; then
    "$python2" -m pip install --quiet --disable-pip-version-check 'virtualenv<20.22' 2>/dev/null
    "$python2" -m virtualenv -q "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check autobahntestsuite 2>/dev/null
fi

swift build -c release --product simple-server
swift build -c release --product simple-client
bin="$(swift build -c release --show-bin-path)"
out="$PWD/.build/autobahn"
rm -rf "$out"
mkdir -p "$out"
free_port() { "$python3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
status=0

# simple-server under wstest's fuzzing client.
# Sections 12 and 13 test permessage-deflate: only the deflate runs take them.
excluded() { [[ "$1" == *deflate ]] && echo '[]' || echo '["12.*", "13.*"]'; }

server_run() {  # name, port, extra simple-server flags...
    local name="$1" port="$2"; shift 2
    "$bin/simple-server" --host 127.0.0.1 --port "$port" --log-level error "$@" > "$out/$name-server.log" 2>&1 &
    local server=$!
    sleep 0.5
    cat > "$out/$name.json" <<JSON
{"outdir": "$out/$name", "servers": [{"agent": "LWSKit", "url": "ws://127.0.0.1:$port"}],
 "cases": ["*"], "exclude-cases": $(excluded "$name"), "exclude-agent-cases": {}}
JSON
    timeout 1800 "$venv/bin/wstest" -m fuzzingclient -s "$out/$name.json" > "$out/$name-wstest.log" 2>&1 || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    check "$name"
}

# Checks a run's report against the expected deviations; its summary goes to NAME-summary.txt.
check() {  # name
    "$python3" Tests/autobahn/check.py "$out/$1/index.json" LWSKit Tests/autobahn/expected-deviations.txt "$1" \
        > "$out/$1-summary.txt" 2>&1
}

# simple-client --echo against wstest's fuzzing server, one process per case.
client_run() {  # name, port, extra simple-client flags...
    local name="$1" port="$2"; shift 2
    cat > "$out/$name.json" <<JSON
{"url": "ws://127.0.0.1:$port", "outdir": "$out/$name", "cases": ["*"], "exclude-cases": $(excluded "$name"),
 "exclude-agent-cases": {}}
JSON
    (cd "$out" && timeout 2400 "$OLDPWD/$venv/bin/wstest" -m fuzzingserver -s "$name.json") > "$out/$name-wstest.log" 2>&1 &
    local fuzzer=$!
    local count=""
    for _ in $(seq 1 100); do
        count="$("$python3" -c "
import asyncio, websockets
async def main():
    async with websockets.connect('ws://127.0.0.1:$port/getCaseCount') as ws:
        print(await ws.recv())
asyncio.run(main())" 2>/dev/null || true)"
        [[ -n "$count" ]] && break
        sleep 0.2
    done
    if [[ -z "$count" ]]; then
        echo "autobahn $name: the fuzzing server did not start" > "$out/$name-summary.txt"
        kill "$fuzzer" 2>/dev/null || true
        return 1
    fi
    for case in $(seq 1 "$count"); do
        timeout 120 "$bin/simple-client" "ws://127.0.0.1:$port/runCase?case=$case&agent=LWSKit" \
            --echo --protocol "" --timeout 100 "$@" > /dev/null 2>&1 || true
    done
    timeout 60 "$bin/simple-client" "ws://127.0.0.1:$port/updateReports?agent=LWSKit" --echo --protocol "" > /dev/null 2>&1 || true
    kill "$fuzzer" 2>/dev/null || true
    wait "$fuzzer" 2>/dev/null || true
    check "$name"
}

# A server run and a client run side by side: each wstest is one Python thread, so on two
# cores the pair takes about as long as the slower of the two. Summaries print in order.
pair() {  # server run name, client run name, extra flags for both examples...
    local server_name="$1" client_name="$2"; shift 2
    local server_port client_port
    server_port="$(free_port)"
    client_port="$(free_port)"
    while [[ "$client_port" == "$server_port" ]]; do client_port="$(free_port)"; done
    server_run "$server_name" "$server_port" "$@" &
    local server_job=$!
    client_run "$client_name" "$client_port" "$@" &
    local client_job=$!
    local result=0
    wait "$server_job" || result=1
    wait "$client_job" || result=1
    cat "$out/$server_name-summary.txt" "$out/$client_name-summary.txt"
    return "$result"
}

SECONDS=0
pair server client || status=1
if [[ "${1:-}" == "--with-deflate" ]]; then
    pair server-deflate client-deflate --permessage-deflate || status=1
fi
echo "autobahn: took ${SECONDS}s; reports in $out" >&2
exit "$status"
