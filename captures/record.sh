#!/usr/bin/env bash
# Re-records the packet captures in this folder on the loopback interface with tcpdump:
#   ws_cap.pcap             simple-server <-> simple-client: the "daniel" handshake, three
#                           masked text messages and their echoes, a 1000 close.
#   ws_server_and_web.pcap  simple-server <-> headless Chromium: the test page over http, then
#                           its WebSocket (deep link: connect with "daniel", send one text).
# simple-server listens on 127.0.0.1:28709 (its default port) for both; the port must be free.
# usage: captures/record.sh   (as root: tcpdump captures on lo)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh --record
swift build -c release --product simple-server
swift build -c release --product simple-client
bin="$(swift build -c release --show-bin-path)"
LWSKIT_PYTHON="$(scripts/test-venv.sh)"
port=28709
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Runs "$@" (the session) while tcpdump writes every packet to or from $port into $1.
record() {
    local pcap=$1
    shift
    tcpdump -i lo --immediate-mode -U -s 0 -Z root -w "$work/capture.pcap" "tcp port $port" 2>"$work/tcpdump.log" &
    local tcpdump=$!
    for _ in $(seq 100); do grep -qs "listening on" "$work/tcpdump.log" && break; sleep 0.1; done
    sleep 0.5   # let the capture settle before the first packet
    "$bin/simple-server" --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
    local server=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
    grep -q "listening on" "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }
    "$@"
    kill -TERM "$server"
    wait "$server" || true
    sleep 1   # (tcpdump stops at SIGINT without reading what the kernel still holds)
    kill -INT "$tcpdump"
    wait "$tcpdump" || true
    local packets
    packets=$(tcpdump -r "$work/capture.pcap" 2>/dev/null | wc -l)
    if ((packets == 0)); then
        echo "record.sh: tcpdump captured nothing for $pcap" >&2
        cat "$work/tcpdump.log" >&2
        exit 1
    fi
    mv "$work/capture.pcap" "captures/$pcap"
    echo "captures/$pcap: $packets packets"
}

record ws_cap.pcap "$bin/simple-client" "ws://127.0.0.1:$port" --count 3
record ws_server_and_web.pcap "$LWSKIT_PYTHON" Tests/peers/browser_page.py \
    "http://127.0.0.1:$port/?url=ws://127.0.0.1:$port&protocol=daniel&send=hello%20from%20the%20browser" \
    --expect "RECEIVED: hello from the browser"
