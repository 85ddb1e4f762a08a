"""Loads a page in headless Chromium and waits for text to appear in its #log element.

Usage: browser_page.py URL --expect TEXT [--expect TEXT ...] [--timeout SECONDS]
Starts Chromium (`chromium`, or $LWSKIT_CHROMIUM) headless with a throw-away profile and
`--ignore-certificate-errors` (the tests' CA is not in its store), drives it over the DevTools
protocol (the browser's own WebSocket, spoken with Python `websockets`), opens URL and polls
`#log` until every TEXT is in it. Prints "user-agent UA", "page-protocol P" (the page's ALPN:
h2 or http/1.1), then the log, then "OK"; exits 1 with the log so far when the time runs out or
Chromium fails.
"""
import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def start_chromium(profile):
    chromium = os.environ.get("LWSKIT_CHROMIUM") or shutil.which("chromium") or "chromium"
    arguments = [
        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--no-default-browser-check", "--ignore-certificate-errors",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
    ]
    return subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def devtools_port(profile, browser, deadline):
    """Chromium writes the port it chose into DevToolsActivePort once it listens."""
    marker = os.path.join(profile, "DevToolsActivePort")
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise SystemExit(f"chromium exited with {browser.returncode}: {browser.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            with open(marker) as file:
                return int(file.readline())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise SystemExit("chromium did not open its DevTools port in time")


class Page:
    """One tab, driven over its DevTools WebSocket."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    async def call(self, method, **params):
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


async def drive(port, url, expected, deadline):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        target = json.load(response)
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
        page = Page(socket)
        print(f"user-agent {await page.evaluate('navigator.userAgent')}", flush=True)
        await page.call("Page.navigate", url=url)
        text = ""
        while time.monotonic() < deadline:
            text = await page.evaluate("(document.getElementById('log') || {}).innerText || ''") or ""
            if all(item in text for item in expected):
                protocol = await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
                print(f"page-protocol {protocol}")
                print(text)
                print("OK")
                return True
            await asyncio.sleep(0.1)
        print(text)
        print(f"timed out waiting for {[item for item in expected if item not in text]}")
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--expect", action="append", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    profile = tempfile.mkdtemp(prefix="lwskit-chromium-")
    browser = start_chromium(profile)
    try:
        port = devtools_port(profile, browser, deadline)
        ok = asyncio.run(drive(port, args.url, args.expect, deadline))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
