"""Independent WebSocket client (Python `websockets`) for the interop tests.

Usage: ws_client.py URL [--protocol NAME] [--ca FILE] [--deflate] [--origin ORIGIN] [--header 'Name: value' ...]
With --deflate: offers permessage-deflate, fails unless the server accepts it, and adds 4 MiB
random and compressible messages. Without it, offers no extension.
Connects, checks the negotiated subprotocol, sends text, binary, empty, 1 MiB and fragmented
messages, checks each echo byte for byte and type for type, closes with 1000.
Prints one line per check and "OK" at the end; exits 1 with the reason otherwise.
With --origin: sends that Origin header, as a browser page would; with --header, those headers.
A refused handshake prints "refused: HTTP <status> <body>" and exits 3.
"""
import argparse
import asyncio
import os
import ssl
import sys

import websockets


async def run(url, protocol, ca, deflate, origin, headers):
    subprotocols = [protocol] if protocol else None
    tls = ssl.create_default_context(cafile=ca) if url.startswith("wss:") else None
    try:
        ws = await websockets.connect(url, subprotocols=subprotocols, max_size=None, ssl=tls,
                                      compression="deflate" if deflate else None, origin=origin,
                                      additional_headers=headers,
                                      open_timeout=10, close_timeout=10)
    except websockets.exceptions.InvalidStatus as refused:
        print(f"refused: HTTP {refused.response.status_code} {refused.response.body.decode(errors='replace').strip()}")
        sys.exit(3)
    async with ws:
        if ws.subprotocol != protocol:
            raise SystemExit(f"subprotocol: expected {protocol!r}, got {ws.subprotocol!r}")
        print(f"subprotocol {ws.subprotocol}")
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        print(f"extensions {accepted or '(none)'}")
        if deflate and "permessage-deflate" not in accepted:
            raise SystemExit("permessage-deflate was not accepted")
        cases = [
            ("text", "hello daniel"),
            ("unicode text", "ünïcødé ✓ " * 100),
            ("binary", bytes(range(256))),
            ("empty text", ""),
            ("empty binary", b""),
            ("1 MiB binary", os.urandom(1 << 20)),
            ("1 MiB text", "x" * (1 << 20)),
            ("1 MiB compressible binary", b"daniel " * (1 << 20 // 7)),
        ]
        if deflate:
            cases += [
                ("4 MiB random binary", os.urandom(4 << 20)),
                ("4 MiB compressible text", "hello daniel " * ((4 << 20) // 13)),
            ]
        for name, payload in cases:
            await ws.send(payload)
            reply = await asyncio.wait_for(ws.recv(), 30)
            if type(reply) is not type(payload) or reply != payload:
                raise SystemExit(f"{name}: echo differs ({type(reply).__name__}, {len(reply)} bytes)")
            print(f"{name}: ok")
        # A message the peer fragments into several frames (text and binary).
        await ws.send(["frag", "mented ", "text"])
        if await ws.recv() != "fragmented text":
            raise SystemExit("fragmented text: echo differs")
        await ws.send([b"\x01" * 70000, b"\x02" * 70000, b"\x03"])
        if await ws.recv() != b"\x01" * 70000 + b"\x02" * 70000 + b"\x03":
            raise SystemExit("fragmented binary: echo differs")
        print("fragmented: ok")
        await ws.close(1000, "bye")
        if ws.close_code != 1000:
            raise SystemExit(f"close: expected 1000, got {ws.close_code}")
    print("OK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--protocol", default="daniel")
    parser.add_argument("--ca", help="PEM CA file to trust for wss:// (default: the system's)")
    parser.add_argument("--deflate", action="store_true", help="require permessage-deflate")
    parser.add_argument("--origin", help="send this Origin header, as a page from it would")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' to send with the handshake")
    args = parser.parse_args()
    headers = [tuple(part.strip() for part in header.split(":", 1)) for header in args.header]
    asyncio.run(run(args.url, args.protocol or None, args.ca, args.deflate, args.origin, headers))


if __name__ == "__main__":
    main()
