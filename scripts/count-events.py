#!/usr/bin/env python3
"""A WAMP subscriber that counts events, for benchmarks of what publishes.

    scripts/count-events.py HOST PORT REALM TOPIC COUNT [TIMEOUT]

Joins REALM over RawSocket with JSON, subscribes to TOPIC (exact match),
prints "subscribed" once the router confirmed it, then counts EVENT frames
until COUNT have arrived (COUNT 0: until none came for 2 s after the
first) and prints one JSON line: the events, the seconds from the first
to the last, and the rate between them. It reads frame
headers only and never decodes an event, so the measurement costs the
machine far less than the router's or the publisher's work (an
Autobahn|Python subscriber would be the slowest part). Exits 1 when
TIMEOUT seconds (default 300) pass first, with what had arrived.
"""

import json
import socket
import struct
import sys
import time

JSON = 1
PING, PONG = 1, 2
WELCOME, ABORT, SUBSCRIBED, ERROR, EVENT = 2, 3, 33, 8, 36
# How a JSON EVENT starts: counted by that, without decoding it.
EVENT_START = f"[{EVENT},".encode()
# With COUNT 0, the seconds without an event that end the count.
QUIET = 2.0


def frames(sock, buf):
    """Yields (type, payload) of each frame; buf keeps a partial one."""
    while True:
        while len(buf) >= 4:
            kind = buf[0] & 0x07
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                break
            yield kind, bytes(buf[4 : 4 + length])
            del buf[: 4 + length]
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("count-events.py: the router closed the connection")
        buf += chunk


def send(sock, message):
    payload = json.dumps(message).encode()
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def main():
    host, port, realm, topic, count = sys.argv[1:6]
    count = int(count)
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 300.0
    sock = socket.create_connection((host, int(port)))
    # magic, 16 MiB messages with JSON, reserved
    sock.sendall(bytes([0x7F, 0xF0 | JSON, 0, 0]))
    reply = sock.recv(4)
    if len(reply) != 4 or reply[0] != 0x7F or reply[1] & 0x0F != JSON:
        raise SystemExit(f"count-events.py: RawSocket handshake refused: {reply!r}")
    send(sock, [1, realm, {"roles": {"subscriber": {}}}])
    buf = bytearray()
    stream = frames(sock, buf)
    for kind, payload in stream:
        if kind == PING:
            sock.sendall(bytes([PONG]) + len(payload).to_bytes(3, "big") + payload)
            continue
        message = json.loads(payload)
        if message[0] == WELCOME:
            send(sock, [32, 1, {}, topic])
        elif message[0] == SUBSCRIBED:
            break
        elif message[0] in (ABORT, ERROR):
            raise SystemExit(f"count-events.py: refused: {message}")
    print("subscribed", flush=True)
    seen, first, last = count_events(sock, stream, count, timeout)
    seconds = (last - first) if seen > 1 else 0.0
    rate = (seen - 1) / seconds if seconds > 0 else 0.0
    print(json.dumps({"events": seen, "seconds": round(seconds, 3), "events_per_s": round(rate)}))
    sys.exit(0 if seen == count or (count == 0 and seen > 0) else 1)


def count_events(sock, stream, count, timeout):
    """Counts EVENT frames until `count` (0: until QUIET seconds pass with
    none after the first) or `timeout` seconds; (events, first, last)."""
    deadline = time.monotonic() + timeout
    seen, first, last = 0, None, None
    sock.settimeout(timeout)
    try:
        for kind, payload in stream:
            if kind == PING:
                sock.sendall(bytes([PONG]) + len(payload).to_bytes(3, "big") + payload)
                continue
            if payload.startswith(EVENT_START):
                last = time.monotonic()
                if first is None:
                    first = last
                    if count == 0:
                        sock.settimeout(QUIET)
                seen += 1
                if seen == count:
                    break
            if time.monotonic() > deadline:
                break
    except socket.timeout:
        pass
    return seen, first, last


if __name__ == "__main__":
    main()
