"""Independent room clients (Python `websockets`) for simple-server --mirror.

Usage: mirror_rooms.py rooms BASE_URL [--deflate] [--query QUERY] [--ca FILE]
    Three clients join /rooms/a and two /rooms/b. One `a` client sends text, another binary:
    all three `a` clients (the senders included) must receive both, as sent and in order, and
    no `b` client anything. With --deflate every client offers permessage-deflate (and checks
    the server accepted it); --query is added to every URL (token=T); --ca verifies wss.
Usage: mirror_rooms.py flood ROOM_URL --total BYTES --size BYTES
    A publisher and two receivers join ROOM_URL. The publisher sends TOTAL bytes in binary
    messages of SIZE bytes, each numbered and patterned, keeping at most 8 of its own in flight
    (it is a subscriber too, and waits for its copies); all three must receive every message,
    in order and intact.
Prints "OK" and exits 0, or prints the reason and exits 1.
"""
import argparse
import asyncio
import ssl
import struct
import sys

import websockets


def connect(url, deflate=False, ca=None):
    tls = ssl.create_default_context(cafile=ca) if url.startswith("wss:") else None
    return websockets.connect(url, subprotocols=["daniel"], max_size=None, open_timeout=10, close_timeout=10,
                              compression="deflate" if deflate else None, max_queue=None, ssl=tls)


async def rooms(base, deflate, query, ca):
    suffix = "?" + query if query else ""
    a = [await connect(base + "/rooms/a" + suffix, deflate, ca) for _ in range(3)]
    b = [await connect(base + "/rooms/b" + suffix, deflate, ca) for _ in range(2)]
    for client in a + b:
        accepted = client.response.headers.get("Sec-WebSocket-Extensions", "")
        if deflate != ("permessage-deflate" in accepted):
            raise SystemExit(f"extensions accepted: {accepted!r}")
    await a[0].send("hello room a")
    await a[1].send(b"\x00\x01\x02 binary for a")
    for number, client in enumerate(a):
        got = [await asyncio.wait_for(client.recv(), 10) for _ in range(2)]
        if got[0] != "hello room a" or got[1] != b"\x00\x01\x02 binary for a":
            raise SystemExit(f"a[{number}] received {got!r}")
    for number, client in enumerate(b):
        try:
            got = await asyncio.wait_for(client.recv(), 0.5)
            raise SystemExit(f"b[{number}] received {got!r}, published to room a")
        except asyncio.TimeoutError:
            pass
    for client in a + b:
        await client.close()
    print("OK")


def payload(number, size):
    head = struct.pack(">Q", number)
    body = bytes((number + index) & 0xFF for index in range(256))
    return head + (body * (size // 256 + 1))[: size - 8]


async def receive_all(client, count, size, name):
    for number in range(count):
        message = await asyncio.wait_for(client.recv(), 30)
        if not isinstance(message, bytes) or len(message) != size:
            raise SystemExit(f"{name}: message {number} is {type(message).__name__} of {len(message)} bytes")
        got = struct.unpack(">Q", message[:8])[0]
        if got != number:
            raise SystemExit(f"{name}: expected message {number}, got {got} (a gap or reordering)")
        if message != payload(number, size):
            raise SystemExit(f"{name}: message {number} is corrupted")


async def flood(url, total, size):
    count = total // size
    publisher = await connect(url)
    receivers = [await connect(url) for _ in range(2)]
    # A ping round trip through each receiver: they are subscribed before the first publish.
    for client in receivers + [publisher]:
        await (await client.ping())
    window = asyncio.Semaphore(8)
    own = asyncio.Queue()

    async def publish():
        for number in range(count):
            await window.acquire()
            await publisher.send(payload(number, size))

    async def own_copies():
        for number in range(count):
            message = await asyncio.wait_for(publisher.recv(), 30)
            got = struct.unpack(">Q", message[:8])[0]
            if got != number or message != payload(number, size):
                raise SystemExit(f"publisher: expected its message {number} intact, got {got}")
            window.release()

    await asyncio.gather(publish(), own_copies(),
                         *[receive_all(client, count, size, f"receiver {index}") for index, client in enumerate(receivers)])
    for client in receivers + [publisher]:
        await client.close()
    print(f"OK {count} messages of {size} bytes to 3 subscribers")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rooms", "flood"])
    parser.add_argument("url")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--query")
    parser.add_argument("--ca")
    parser.add_argument("--total", type=int, default=1 << 20)
    parser.add_argument("--size", type=int, default=64 << 10)
    arguments = parser.parse_args()
    try:
        if arguments.mode == "rooms":
            asyncio.run(rooms(arguments.url, arguments.deflate, arguments.query, arguments.ca))
        else:
            asyncio.run(flood(arguments.url, arguments.total, arguments.size))
    except SystemExit as failure:
        print(failure)
        sys.exit(1)


if __name__ == "__main__":
    main()
