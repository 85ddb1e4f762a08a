"""Independent WebSocket echo server (Python `websockets`) for the interop tests.

Usage: ws_echo_server.py [--port P] [--fragment-size N] [--reply TEXT]
Listens on 127.0.0.1 (port 0: a free one), prints "listening on PORT", selects the "daniel"
subprotocol when offered, and echoes every message with its type. With --fragment-size, echoes
longer than N bytes are sent as fragments of N bytes. With --reply, every message is answered
with TEXT instead (a deliberately wrong echo). Offers permessage-deflate to clients that ask;
prints "extensions VALUE" (the accepted Sec-WebSocket-Extensions) for each connection.
Runs until killed.
"""
import argparse
import asyncio

import websockets


def fragments(message, size):
    for start in range(0, len(message), size):
        yield message[start:start + size]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fragment-size", type=int, default=0)
    parser.add_argument("--reply")
    args = parser.parse_args()

    async def echo(ws):
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions", "(none)")
        print(f"extensions {accepted}", flush=True)
        async for message in ws:
            if args.reply is not None:
                await ws.send(args.reply)
            elif args.fragment_size and len(message) > args.fragment_size:
                await ws.send(fragments(message, args.fragment_size))
            else:
                await ws.send(message)

    async with websockets.serve(echo, "127.0.0.1", args.port, subprotocols=["daniel"],
                                max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
