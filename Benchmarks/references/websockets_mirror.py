"""Python `websockets` mirror server for Benchmarks/fanout-compare.sh: every message a client
sends goes to every client, the sender included, with `websockets.broadcast` (which frames the
message once and writes it to each connection without waiting).

usage: python websockets_mirror.py PORT
"""
import asyncio
import sys

import websockets

clients = set()


async def mirror(connection):
    clients.add(connection)
    try:
        async for message in connection:
            websockets.broadcast(clients, message)
    finally:
        clients.discard(connection)


async def main(port):
    async with websockets.serve(mirror, "127.0.0.1", port, subprotocols=["daniel"], compression=None,
                                max_size=None, ping_interval=None):
        print(f"websockets_mirror: listening on {port}", flush=True)
        await asyncio.Future()


asyncio.run(main(int(sys.argv[1])))
