"""Messages split across TCP segments at every awkward place must be reassembled: real clients
do this (Autobahn's RawSocket client writes the 4-byte prefix and the payload separately)."""

import struct
import time

import pytest

from rawwamp import (
    EVENT,
    OP_CONT,
    OP_TEXT,
    PUBLISHED,
    WELCOME,
    RawWamp,
    _mask,
    encode,
)

pytestmark = pytest.mark.timeout(60)

HELLO = [1, "realm1", {"roles": {"publisher": {}, "subscriber": {}}}]
GAP = 0.02  # long enough for the router to read each piece separately


def _dribble(sock, data, cuts):
    """Send data in pieces, cut at the given offsets, pausing between them."""
    last = 0
    for cut in list(cuts) + [len(data)]:
        if cut > last:
            sock.sendall(data[last:cut])
            time.sleep(GAP)
            last = cut


def _ws_frame(payload, opcode=OP_TEXT, fin=True):
    key = b"\x11\x22\x33\x44"
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    else:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    return head + key + _mask(payload, key)


@pytest.mark.parametrize("cuts", [[4], [1], [2, 3], [6, 20]], ids=["after-prefix", "in-prefix", "prefix-bytes", "in-payload"])
@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_rawsocket_frame_split_across_segments(router, serializer, cuts):
    c = RawWamp(router, "rs", serializer)
    try:
        data = encode(serializer, HELLO)
        _dribble(c.conn.sock, struct.pack("!I", len(data)) + data, cuts)
        m = c.recv()
        assert m[0] == WELCOME, m
        # and the next one, split the same way, too
        data = encode(serializer, [16, 1, {"acknowledge": True}, "com.interop.split", ["x" * 40]])
        _dribble(c.conn.sock, struct.pack("!I", len(data)) + data, cuts)
        m = c.recv()
        assert m[:2] == [PUBLISHED, 1], m
    finally:
        c.close()


@pytest.mark.parametrize("cuts", [[1], [2], [3, 5], [6], [10, 30]], ids=["b0", "header", "in-mask", "after-mask", "in-payload"])
def test_websocket_frame_split_across_segments(router, cuts):
    c = RawWamp(router, "ws", "json")
    try:
        _dribble(c.conn.sock, _ws_frame(encode("json", HELLO)), cuts)
        m = c.recv()
        assert m[0] == WELCOME, m
        pub = encode("json", [16, 1, {"acknowledge": True}, "com.interop.split", ["x" * 40]])
        _dribble(c.conn.sock, _ws_frame(pub), cuts)
        m = c.recv()
        assert m[:2] == [PUBLISHED, 1], m
    finally:
        c.close()


def test_websocket_fragmented_message_in_separate_segments(router):
    c = RawWamp(router, "ws", "json")
    try:
        data = encode("json", HELLO)
        c.conn.sock.sendall(_ws_frame(data[:10], OP_TEXT, fin=False))
        time.sleep(GAP)
        c.conn.sock.sendall(_ws_frame(data[10:20], OP_CONT, fin=False))
        time.sleep(GAP)
        c.conn.sock.sendall(_ws_frame(data[20:], OP_CONT, fin=True))
        m = c.recv()
        assert m[0] == WELCOME, m
    finally:
        c.close()


def test_many_messages_in_one_segment(router, uid):
    """Several frames arriving in one read are all handled, in order."""
    sub = RawWamp(router, "ws", "msgpack")
    pub = RawWamp(router, "rs", "cbor")
    topic = f"com.interop.batch.{uid}"
    try:
        sub.join()
        sub.subscribe(topic)
        pub.join()
        blob = b""
        for i in range(50):
            data = encode("cbor", [16, i + 1, {}, topic, [i]])
            blob += struct.pack("!I", len(data)) + data
        pub.conn.sock.sendall(blob)
        got = [sub.recv_until(EVENT)[4][0] for _ in range(50)]
        assert got == list(range(50))
    finally:
        sub.close()
        pub.close()


def test_websocket_handshake_split_across_segments(router):
    from rawwamp import RawWebSocket

    w = RawWebSocket("127.0.0.1", router.ws_port)
    try:
        status = w.handshake(
            router.ws_path,
            protocols=("wamp.2.json",),
            send=lambda data: _dribble(w.sock, data, [5, 30, 60, len(data) - 2]),
        )
        assert status == 101
        c = RawWamp.wrap(w, "ws", "json")
        m = c.hello()
        assert m[0] == WELCOME, m
    finally:
        w.close()
