"""Drives a client in echo mode (simple-client --echo) from the server side.

Usage: ws_driver_server.py --count N
Listens on 127.0.0.1 (a free port, printed as "listening on PORT"), accepts one connection,
sends N text and N binary messages, checks each is echoed back unchanged, closes with 1000,
prints "OK" and exits 0 (1 with the reason otherwise).
"""
import argparse
import asyncio
import os
import sys

import websockets


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.get_running_loop().create_future()

    async def drive(ws):
        try:
            for number in range(args.count):
                for message in (f"driver message {number}", os.urandom(1000 + number)):
                    await ws.send(message)
                    reply = await asyncio.wait_for(ws.recv(), 10)
                    if reply != message or type(reply) is not type(message):
                        raise RuntimeError(f"echo of message {number} differs")
            await ws.close(1000, "driver done")
            result.set_result("OK")
        except Exception as error:  # report any failure as the result
            result.set_result(f"FAILED: {error!r}")

    async with websockets.serve(drive, "127.0.0.1", 0, subprotocols=["daniel"]) as server:
        print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
        outcome = await asyncio.wait_for(result, 60)
    print(outcome, flush=True)
    sys.exit(0 if outcome == "OK" else 1)


if __name__ == "__main__":
    asyncio.run(main())
