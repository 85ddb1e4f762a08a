"""Many concurrent WebSocket clients (Python `websockets`) for servers with several loops.

Usage: many_clients.py echo URL --clients N --messages M [--ca FILE] [--room-per-client]
    N clients connect at once; each sends M numbered messages (text and binary in turn, of
    varied sizes) and must receive each back, as sent and in order. With --room-per-client
    client I connects to URL/client-I (a room of its own on simple-server --mirror).
Usage: many_clients.py room URL --clients N --messages M
    N subscribers join the room at URL (simple-server --mirror, or a server publishing every
    message to the room of its path, sender included); then one more client, the publisher,
    sends M numbered messages. Every subscriber must receive all M, in order and intact.
Usage: many_clients.py hold URL --clients N
    N clients connect and print "ready N"; then each waits for the server to close it. Every
    one must see close code 1001 (going away).
Prints "OK ..." and exits 0, or prints the reason and exits 1.
"""
import argparse
import asyncio
import ssl
import sys

import websockets


def connect(url, ca=None):
    tls = ssl.create_default_context(cafile=ca) if url.startswith("wss:") else None
    return websockets.connect(url, subprotocols=["daniel"], max_size=None, open_timeout=30, close_timeout=10,
                              ping_interval=None, max_queue=None, ssl=tls)


def message(client, number):
    if number % 2:
        return bytes((client + number + index) & 0xFF for index in range(number * 37 % 3000))
    return f"client {client} message {number} " + "x" * (number * 53 % 2000)


async def echo(url, clients, messages, ca, room_per_client):
    async def one(index):
        async with connect(f"{url}/client-{index}" if room_per_client else url, ca) as client:
            for number in range(messages):
                sent = message(index, number)
                await client.send(sent)
                got = await asyncio.wait_for(client.recv(), 30)
                if got != sent:
                    raise SystemExit(f"client {index}: message {number} came back as {got!r:.80}")
    await asyncio.gather(*(one(index) for index in range(clients)))
    print(f"OK {clients} clients echoed {messages} messages each")


async def room(url, clients, messages):
    subscribers = [await connect(url) for _ in range(clients)]
    # A ping round trip each: the server has taken every subscription before the first publish.
    for client in subscribers:
        await (await client.ping())
    publisher = await connect(url)
    await (await publisher.ping())

    async def receive(index, client):
        for number in range(messages):
            got = await asyncio.wait_for(client.recv(), 30)
            if got != message(1000, number):
                raise SystemExit(f"subscriber {index}: expected message {number}, got {got!r:.80}")

    async def publish():
        for number in range(messages):
            await publisher.send(message(1000, number))

    await asyncio.gather(publish(), *(receive(index, client) for index, client in enumerate(subscribers)))
    for client in subscribers + [publisher]:
        await client.close()
    print(f"OK {clients} subscribers received {messages} messages each, in order")


async def hold(url, clients):
    held = await asyncio.gather(*(connect(url) for _ in range(clients)))
    print(f"ready {len(held)}", flush=True)

    async def until_closed(client):
        try:
            await asyncio.wait_for(client.recv(), 60)
            return "a message"
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else "no close frame"

    codes = await asyncio.gather(*(until_closed(client) for client in held))
    wrong = [code for code in codes if code != 1001]
    if wrong:
        raise SystemExit(f"{len(wrong)} of {clients} clients saw {sorted(set(map(str, wrong)))} instead of 1001")
    print(f"OK {clients} clients closed with 1001")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "room", "hold"])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--ca")
    parser.add_argument("--room-per-client", action="store_true")
    arguments = parser.parse_args()
    if arguments.mode == "echo":
        asyncio.run(echo(arguments.url, arguments.clients, arguments.messages, arguments.ca, arguments.room_per_client))
    elif arguments.mode == "room":
        asyncio.run(room(arguments.url, arguments.clients, arguments.messages))
    else:
        asyncio.run(hold(arguments.url, arguments.clients))


if __name__ == "__main__":
    sys.exit(main())
