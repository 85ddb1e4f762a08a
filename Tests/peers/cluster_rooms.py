"""Room clients (Python `websockets`) for several simple-server --mirror nodes sharing rooms
through Redis.

Usage: cluster_rooms.py rooms URL [URL ...] [--per-node N] [--count N] [--size BYTES]
    On every node URL, N clients (default 2) join /rooms/x and one joins /rooms/y. The first
    `x` client of each node publishes COUNT messages (default 1000), text and binary by turns,
    every one numbered and patterned (binary ones SIZE bytes, default 256). Every `x` client,
    on every node, must receive every message of every publisher, each publisher's in order,
    every byte as sent, text as text; the `y` clients nothing.
Usage: cluster_rooms.py reach URL [URL ...] [--within SECONDS]
    One client per node joins /rooms/reach and sends probes every 50 ms until every client has
    received a probe from every node (cross-node delivery works), within SECONDS (default 10).
Usage: cluster_rooms.py big URL URL [--size BYTES]
    A client on the first node publishes one binary message of SIZE bytes (default 1 MiB) to
    /rooms/big; clients on the others must receive it intact.
Usage: cluster_rooms.py spread URL [--clients N]
    N clients (default 6) join /rooms/spread through URL (a load balancer) and one of them
    publishes: every client receives it.

Before publishing, `rooms` and `big` wait until every client has seen a probe of every
publisher (`barrier`): a node subscribes a room in Redis a moment after its first client
joins, and what is published before that is not carried to it (at most once).
Prints "OK ..." and exits 0, or prints the reason and exits 1.
"""
import argparse
import asyncio
import sys
import time

import websockets


def connect(url):
    return websockets.connect(url, subprotocols=["daniel"], max_size=None, open_timeout=10, close_timeout=10,
                              max_queue=None, ping_interval=None)


def fail(reason):
    print(reason)
    sys.exit(1)


PROBE = "probe "


async def barrier(publishers, receivers, within):
    """Every publisher sends probes until every receiver has one from each (other messages
    are not sent yet, so only probes arrive). Returns the seconds it took."""
    start = time.monotonic()
    seen = [set() for _ in receivers]
    wanted = set(range(len(publishers)))

    async def probe():
        while not all(s >= wanted for s in seen):
            for number, publisher in enumerate(publishers):
                await publisher.send(f"{PROBE}{number}")
            await asyncio.sleep(0.05)

    async def listen(index, client):
        while not seen[index] >= wanted:
            message = await client.recv()
            if not isinstance(message, str) or not message.startswith(PROBE):
                fail(f"receiver {index} got {message!r} before the barrier")
            seen[index].add(int(message[len(PROBE):]))

    try:
        await asyncio.wait_for(asyncio.gather(probe(), *(listen(i, c) for i, c in enumerate(receivers))), within)
    except asyncio.TimeoutError:
        fail(f"no cross-node delivery within {within} s: receivers saw probes from {[sorted(s) for s in seen]}")
    return time.monotonic() - start


def message(publisher, number, size):
    if number % 2 == 0:
        return f"p{publisher} m{number} " + "é-text-" * (number % 7)
    head = bytes([publisher]) + number.to_bytes(4, "big")
    return head + bytes((publisher * 31 + number + index) & 0xFF for index in range(size - len(head)))


async def rooms(urls, per_node, count, size):
    x = [[await connect(url + "/rooms/x") for _ in range(per_node)] for url in urls]
    y = [await connect(url + "/rooms/y") for url in urls]
    publishers = [clients[0] for clients in x]
    receivers = [client for clients in x for client in clients]
    await barrier(publishers, receivers, 15)

    async def publish(number, publisher):
        for index in range(count):
            await publisher.send(message(number, index, size))

    async def receive(index, client):
        expected = [0] * len(publishers)
        while sum(expected) < count * len(publishers):
            got = await asyncio.wait_for(client.recv(), 20)
            if isinstance(got, str) and got.startswith(PROBE):
                continue  # (a late probe of the barrier)
            sender = int(got[1:got.index(" ")]) if isinstance(got, str) else got[0]
            if sender >= len(publishers):
                fail(f"receiver {index} got {got[:40]!r} from no publisher")
            want = message(sender, expected[sender], size)
            if got != want:
                fail(f"receiver {index}: publisher {sender}'s message {expected[sender]} differs: {got[:40]!r}")
            expected[sender] += 1

    await asyncio.gather(*(publish(n, p) for n, p in enumerate(publishers)),
                         *(receive(i, c) for i, c in enumerate(receivers)))
    for number, client in enumerate(y):
        try:
            got = await asyncio.wait_for(client.recv(), 0.5)
            fail(f"y[{number}] received {got!r}, published to /rooms/x")
        except asyncio.TimeoutError:
            pass
    for client in receivers + y:
        await client.close()
    print(f"OK {len(receivers)} clients on {len(urls)} nodes received {count * len(publishers)} messages each")


async def reach(urls, within):
    clients = [await connect(url + "/rooms/reach") for url in urls]
    elapsed = await barrier(clients, clients, within)
    for client in clients:
        await client.close()
    print(f"OK reached every node in {elapsed:.2f} s")


async def big(urls, size):
    clients = [await connect(url + "/rooms/big") for url in urls]
    await barrier(clients[:1], clients, 15)
    payload = bytes((index * 7 + index // 251) & 0xFF for index in range(size))
    await clients[0].send(payload)
    for number, client in enumerate(clients):
        while True:
            got = await asyncio.wait_for(client.recv(), 20)
            if not (isinstance(got, str) and got.startswith(PROBE)):
                break
        if got != payload:
            fail(f"client {number} received {len(got)} bytes that differ from the {size} sent")
    for client in clients:
        await client.close()
    print(f"OK {size} bytes reached {len(clients)} nodes intact")


async def spread(url, count):
    clients = [await connect(url + "/rooms/spread") for _ in range(count)]
    await barrier(clients[:1], clients, 15)
    await clients[0].send("through the balancer")
    for number, client in enumerate(clients):
        while True:
            got = await asyncio.wait_for(client.recv(), 10)
            if not (isinstance(got, str) and got.startswith(PROBE)):
                break
        if got != "through the balancer":
            fail(f"client {number} received {got!r}")
    for client in clients:
        await client.close()
    print(f"OK {count} clients")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rooms", "reach", "big", "spread"])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--per-node", type=int, default=2)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int)
    parser.add_argument("--within", type=float, default=10)
    parser.add_argument("--clients", type=int, default=6)
    arguments = parser.parse_args()
    if arguments.mode == "rooms":
        asyncio.run(rooms(arguments.urls, arguments.per_node, arguments.count, arguments.size or 256))
    elif arguments.mode == "reach":
        asyncio.run(reach(arguments.urls, arguments.within))
    elif arguments.mode == "big":
        asyncio.run(big(arguments.urls, arguments.size or (1 << 20)))
    else:
        asyncio.run(spread(arguments.urls[0], arguments.clients))


if __name__ == "__main__":
    main()
