"""Raw HTTP/1.1 probe for the hostile-request tests: sends bytes no polite client sends.

Usage: http_probe.py PORT PAYLOAD_FILE [--ca FILE] [--seconds N]
Connects to 127.0.0.1:PORT (over TLS, verifying with FILE, when --ca is given; the name checked
is "localhost"), sends the bytes of PAYLOAD_FILE in one write, and reads until the server closes
the connection or N seconds (default 5) pass without it. Parses what came back as a sequence of
HTTP/1.1 responses framed by content-length and prints one JSON object:
{"responses": [{"status": 200, "body": "<hex>"}, ...], "closed": true/false, "rest": "<hex>"}
where "rest" holds bytes that are not a whole response. Exits 0 whenever it could connect.
"""
import argparse
import json
import socket
import ssl
import time


def parse(data):
    responses = []
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            break
        head = data[:head_end].decode("latin-1").split("\r\n")
        fields = [line.split(":", 1) for line in head[1:] if ":" in line]
        length = next((int(value.strip()) for name, value in fields if name.strip().lower() == "content-length"), 0)
        end = head_end + 4 + length
        if len(data) < end or not head[0].startswith("HTTP/1."):
            break
        responses.append({"status": int(head[0].split()[1]), "body": data[head_end + 4:end].hex()})
        data = data[end:]
    return responses, data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("payload_file")
    parser.add_argument("--ca")
    parser.add_argument("--seconds", type=float, default=5)
    arguments = parser.parse_args()

    connection = socket.create_connection(("127.0.0.1", arguments.port), timeout=10)
    if arguments.ca:
        context = ssl.create_default_context(cafile=arguments.ca)
        context.set_alpn_protocols(["http/1.1"])
        connection = context.wrap_socket(connection, server_hostname="localhost")
    try:
        with open(arguments.payload_file, "rb") as payload:
            connection.sendall(payload.read())
    except OSError:
        pass  # the server may close before reading everything: its answer still counts
    deadline = time.monotonic() + arguments.seconds
    data, closed = b"", False
    while not closed and time.monotonic() < deadline:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(1 << 20)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError):
            closed = True
            break
        closed = not chunk
        data += chunk
    responses, rest = parse(data)
    print(json.dumps({"responses": responses, "closed": closed, "rest": rest.hex()}))


if __name__ == "__main__":
    main()
