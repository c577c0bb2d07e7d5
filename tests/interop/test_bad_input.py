"""Bad input from one peer closes that peer's connection the right way and harms nobody else.

Every test keeps two bystander sessions (a raw CBOR subscriber over WebSocket and a raw JSON
publisher over RawSocket) joined across the bad input, checks they still exchange an event
afterwards, and that a fresh Autobahn publisher/subscriber pair works too.

What Crossbar.io 26.10 does (checked): unsupported or missing subprotocol -> HTTP 400;
unmasked frame, reserved bits, reserved opcode, fragmented control frame, stray continuation
-> close 1002; invalid UTF-8 -> close 1007; oversized frame or message -> close 1009; unknown
WAMP message type, unparseable message, a message that is not a list -> close 1002 (no ABORT);
PUBLISH/SUBSCRIBE before HELLO and a second HELLO -> silently ignored; RawSocket oversized
frame -> connection closed; bad RawSocket magic or serializer -> connection reset (no error
reply).
"""

import os
import select
import socket
import struct
import uuid

import pytest

from conftest import MAX_MESSAGE_SIZE
from rawwamp import (
    ABORT,
    EVENT,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    PUBLISHED,
    Closed,
    RawSocketConn,
    RawWamp,
    WELCOME,
    RawWebSocket,
    decode,
    encode,
)
from wampclient import assert_pubsub_works, run

pytestmark = pytest.mark.timeout(60)

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"


class Bystanders:
    """A subscriber and a publisher that stay joined while another peer misbehaves."""

    def __init__(self, router):
        self.topic = f"com.bystander.b{uuid.uuid4().hex[:12]}"
        self.sub = RawWamp(router, "ws", "cbor")
        self.sub.join()
        self.sub.subscribe(self.topic)
        self.pub = RawWamp(router, "rs", "json")
        self.pub.join()

    def check(self):
        token = uuid.uuid4().hex
        req = self.pub.publish(self.topic, [token], options={"acknowledge": True})
        m = self.pub.recv_until(PUBLISHED)
        assert m[1] == req, m
        ev = self.sub.recv_until(EVENT)
        assert ev[4] == [token], ev

    def close(self):
        self.sub.close()
        self.pub.close()


@pytest.fixture
def bystanders(router):
    b = Bystanders(router)
    yield b
    b.close()


def others_fine(router, bystanders):
    bystanders.check()
    run(assert_pubsub_works(router))


def ws(router, protocol="wamp.2.json", join=True):
    """A raw WebSocket with the WAMP subprotocol, joined to realm1 unless join=False."""
    ser = protocol.rsplit(".", 1)[-1]
    w = RawWebSocket("127.0.0.1", router.ws_port)
    status = w.handshake(router.ws_path, protocols=(protocol,))
    assert status == 101, (status, w.headers)
    if join:
        hello = [1, "realm1", {"roles": {"publisher": {}, "subscriber": {}}}]
        w.send_frame(OP_TEXT if ser == "json" else OP_BINARY, encode(ser, hello))
        _, data = w.recv_frame()
        assert decode(ser, data)[0] == WELCOME, data[:100]
    return w


# ------------------------------------------------------------------ handshake


@pytest.mark.parametrize("protocols", [("wamp.2.bogus",), ("chat", "superchat")], ids=["bogus", "other"])
def test_unsupported_subprotocol_is_http_4xx(router, bystanders, protocols):
    w = RawWebSocket("127.0.0.1", router.ws_port)
    try:
        status = w.handshake(router.ws_path, protocols=protocols)
        assert 400 <= status < 500, (status, w.headers)
    finally:
        w.close()
    others_fine(router, bystanders)


def test_garbage_instead_of_http_closes(router, bystanders):
    s = socket.create_connection(("127.0.0.1", router.ws_port), timeout=5)
    try:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert not data or data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.0 4"), data[:100]
    finally:
        s.close()
    others_fine(router, bystanders)


# ------------------------------------------------------------------ WebSocket framing


def test_unmasked_client_frame_closes_1002(router, bystanders):
    w = ws(router)
    try:
        w.send_frame(OP_TEXT, b'[16, 1, {}, "com.x", [1]]', mask=False)
        assert w.wait_closed() == 1002
    finally:
        w.close()
    others_fine(router, bystanders)


def test_unmasked_frame_before_hello_closes_1002(router, bystanders):
    w = ws(router, join=False)
    try:
        w.send_frame(OP_TEXT, b'[1,"realm1",{"roles":{"subscriber":{}}}]', mask=False)
        assert w.wait_closed() == 1002
    finally:
        w.close()
    others_fine(router, bystanders)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(dict(opcode=OP_TEXT, payload=b"[]", rsv=4), id="rsv1-without-extension"),
        pytest.param(dict(opcode=0x3, payload=b"abc"), id="reserved-opcode-3"),
        pytest.param(dict(opcode=0xB, payload=b"abc"), id="reserved-control-opcode-0xB"),
        pytest.param(dict(opcode=OP_PING, payload=b"abc", fin=False), id="fragmented-ping"),
        pytest.param(dict(opcode=OP_PING, payload=b"p" * 126), id="control-frame-over-125"),
        pytest.param(dict(opcode=OP_CONT, payload=b"abc"), id="continuation-without-start"),
    ],
)
def test_malformed_frame_closes_1002(router, bystanders, frame):
    w = ws(router)
    try:
        w.send_frame(**frame)
        assert w.wait_closed() == 1002
    finally:
        w.close()
    others_fine(router, bystanders)


def test_invalid_utf8_text_frame_closes_1007(router, bystanders):
    w = ws(router)
    try:
        w.send_frame(OP_TEXT, b'[16, 1, {}, "com.x", ["bad \xff\xfe utf8"]]')
        assert w.wait_closed() == 1007
    finally:
        w.close()
    others_fine(router, bystanders)


def test_invalid_utf8_across_fragments_closes_1007(router, bystanders):
    w = ws(router)
    try:
        w.send_frame(OP_TEXT, b'[16, 1, {}, "com.x", ["split \xe2\x82', fin=False)
        w.send_frame(OP_CONT, b'\x28 here"]]', fin=True)  # \xe2\x82\x28: invalid sequence
        assert w.wait_closed() == 1007
    finally:
        w.close()
    others_fine(router, bystanders)


def _stream_frame(w, opcode, length, fin=True):
    """Send one frame of `length` bytes in chunks, stopping early once the router answers."""
    b0 = (0x80 if fin else 0) | opcode
    w.sock.sendall(struct.pack("!BBQ", b0, 0x80 | 127, length) + b"\0\0\0\0")  # zero mask key
    chunk = b"\x00" * 65536
    sent = 0
    while sent < length:
        readable, _, _ = select.select([w.sock], [], [], 0)
        if readable:
            return False
        n = min(len(chunk), length - sent)
        try:
            w.sock.sendall(chunk[:n])
        except OSError:
            return False
        sent += n
    return True


def test_oversized_frame_closes_1009(router, bystanders):
    w = ws(router, protocol="wamp.2.msgpack")
    try:
        _stream_frame(w, OP_BINARY, 2 * MAX_MESSAGE_SIZE)
        assert w.wait_closed() == 1009
    finally:
        w.close()
    others_fine(router, bystanders)


def test_oversized_fragmented_message_closes_1009(router, bystanders):
    """Each frame is within the limits, the message they make is not."""
    w = ws(router, protocol="wamp.2.msgpack")
    try:
        part = MAX_MESSAGE_SIZE // 2
        if _stream_frame(w, OP_BINARY, part, fin=False):
            if _stream_frame(w, OP_CONT, part, fin=False):
                _stream_frame(w, OP_CONT, part, fin=True)
        assert w.wait_closed() == 1009
    finally:
        w.close()
    others_fine(router, bystanders)


def test_message_at_the_limit_is_accepted(router, bystanders):
    """A PUBLISH just under max_message_size goes through."""
    import msgpack

    w = ws(router, protocol="wamp.2.msgpack")
    try:
        blob = b"x" * (MAX_MESSAGE_SIZE - 200)
        msg = msgpack.packb([16, 1, {"acknowledge": True}, "com.interop.big", [blob]], use_bin_type=True)
        assert len(msg) <= MAX_MESSAGE_SIZE
        w.send_frame(OP_BINARY, msg)
        op, data = w.recv_frame()
        assert msgpack.unpackb(data)[:2] == [PUBLISHED, 1]
    finally:
        w.close()
    others_fine(router, bystanders)


def test_client_close_frame_is_answered(router, bystanders):
    w = ws(router)
    try:
        w.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
        with pytest.raises(Closed) as c:
            for _ in range(100):
                w.recv_frame()
        assert c.value.code == 1000
    finally:
        w.close()
    others_fine(router, bystanders)


# ------------------------------------------------------------------ WAMP protocol violations


def _ended(c):
    """How the router ended a raw WAMP connection: ('abort', reason) | ('close', code) | ('eof', None)."""
    return c.expect_closed()


def _is_protocol_violation(outcome, transport):
    kind, value = outcome
    if kind == "abort":
        return value == PROTOCOL_VIOLATION
    if transport == "ws":
        return kind == "close" and value == 1002
    return kind in ("eof", "close")  # RawSocket has no close codes


BAD_AFTER_JOIN = {
    "unknown-type-999": [999, 1, {}],
    "unknown-type-4": [4, {}],
    "client-sends-welcome": [2, 1, {"roles": {"broker": {}}}],
    "not-a-list": {"a": 1},
    "empty-list": [],
    "publish-bad-request-id": [16, "x", {}, "com.x"],
    "subscribe-missing-topic": [32, 1, {}],
}


@pytest.mark.parametrize("bad", list(BAD_AFTER_JOIN), ids=list(BAD_AFTER_JOIN))
@pytest.mark.parametrize("transport,serializer", [("ws", "json"), ("rs", "msgpack")], ids=["ws-json", "rs-msgpack"])
def test_invalid_message_after_join_is_protocol_violation(router, bystanders, transport, serializer, bad):
    c = RawWamp(router, transport, serializer)
    try:
        c.join()
        c.send(BAD_AFTER_JOIN[bad])
        outcome = _ended(c)
        assert _is_protocol_violation(outcome, transport), outcome
    finally:
        c.close()
    others_fine(router, bystanders)


@pytest.mark.crossbar_differs(
    reason="Crossbar.io closes the WebSocket with 1002 (no ABORT) or resets the RawSocket; the spec says ABORT wamp.error.protocol_violation"
)
@pytest.mark.parametrize("transport,serializer", [("ws", "json"), ("rs", "cbor")], ids=["ws-json", "rs-cbor"])
def test_unknown_message_type_after_join_aborts_protocol_violation(router, bystanders, transport, serializer):
    c = RawWamp(router, transport, serializer)
    try:
        c.join()
        c.send([999, 1, {}])
        assert _ended(c) == ("abort", PROTOCOL_VIOLATION)
    finally:
        c.close()
    others_fine(router, bystanders)


def test_unparseable_json_closes(router, bystanders):
    w = ws(router)
    try:
        w.send_frame(OP_TEXT, b'[16, 1, {}')
        outcome = RawWamp.wrap(w, "ws", "json").expect_closed()
        assert _is_protocol_violation(outcome, "ws"), outcome
    finally:
        w.close()
    others_fine(router, bystanders)


def test_binary_frame_on_json_subprotocol_closes(router, bystanders):
    w = ws(router, join=False)
    try:
        w.send_frame(OP_BINARY, b'[1,"realm1",{"roles":{"subscriber":{}}}]')
        outcome = RawWamp.wrap(w, "ws", "json").expect_closed()
        assert _is_protocol_violation(outcome, "ws"), outcome
    finally:
        w.close()
    others_fine(router, bystanders)


_BEFORE_HELLO_DIFFERS = pytest.mark.crossbar_differs(
    reason="Crossbar.io silently ignores messages before HELLO and a second HELLO; the spec calls them protocol violations"
)


@_BEFORE_HELLO_DIFFERS
@pytest.mark.parametrize(
    "transport,serializer", [("ws", "json"), ("ws", "msgpack"), ("rs", "cbor")], ids=["ws-json", "ws-msgpack", "rs-cbor"]
)
@pytest.mark.parametrize(
    "first", [[16, 1, {}, "com.x", [1]], [32, 1, {}, "com.x"]], ids=["publish", "subscribe"]
)
def test_message_before_hello_is_protocol_violation(router, bystanders, transport, serializer, first):
    c = RawWamp(router, transport, serializer)
    try:
        c.send(first)
        outcome = _ended(c)
        assert outcome[0] in ("abort", "close", "eof"), outcome
        if outcome[0] == "abort":
            assert outcome[1] == PROTOCOL_VIOLATION, outcome
        elif outcome[0] == "close":
            assert outcome[1] == 1002, outcome
    finally:
        c.close()
    others_fine(router, bystanders)


@_BEFORE_HELLO_DIFFERS
def test_second_hello_is_protocol_violation(router, bystanders):
    c = RawWamp(router, "ws", "json")
    try:
        c.join()
        c.send([1, "realm1", {"roles": {"subscriber": {}}}])
        outcome = _ended(c)
        assert _is_protocol_violation(outcome, "ws"), outcome
    finally:
        c.close()
    others_fine(router, bystanders)


@pytest.mark.crossbar_differs(
    reason="Crossbar.io closes the WebSocket with 1011 on a HELLO whose realm is not a valid URI, instead of ABORT"
)
def test_hello_with_invalid_realm_uri_aborts(router, bystanders):
    c = RawWamp(router, "ws", "json")
    try:
        m = c.hello("not a realm")
        assert m[0] == ABORT, m
        assert m[2] in ("wamp.error.invalid_uri", "wamp.error.no_such_realm"), m
    finally:
        c.close()
    others_fine(router, bystanders)


# ------------------------------------------------------------------ RawSocket


def test_rawsocket_oversized_frame_closes_connection(router, bystanders):
    c = RawSocketConn("127.0.0.1", router.rs_port)
    try:
        c.handshake("json")
        assert c.max_len_exp is not None
        c.sock.sendall(struct.pack("!I", 2 * MAX_MESSAGE_SIZE) + b"[" * 1024)
        # the router closes the connection, perhaps after an ABORT
        for _ in range(10):
            try:
                frame = c.recv_frame()
            except (Closed, ConnectionResetError):
                break
            assert decode("json", frame)[0] == ABORT, frame
        else:
            raise AssertionError("connection not closed")
    finally:
        c.close()
    others_fine(router, bystanders)


@pytest.mark.parametrize(
    "hello", [b"\x00\xf1\x00\x00", b"GET / HTTP/1.1\r\n\r\n"], ids=["zero-magic", "http"]
)
def test_rawsocket_bad_magic_closes_connection(router, bystanders, hello):
    s = socket.create_connection(("127.0.0.1", router.rs_port), timeout=5)
    try:
        s.sendall(hello)
        try:
            data = s.recv(16)
        except ConnectionResetError:
            data = b""
        assert data == b"", data
    finally:
        s.close()
    others_fine(router, bystanders)


def test_rawsocket_unsupported_serializer_is_refused(router, bystanders):
    """Spec: the router answers error 1 (serializer unsupported) and closes; a plain close
    (Crossbar.io resets the connection) is accepted too."""
    s = socket.create_connection(("127.0.0.1", router.rs_port), timeout=5)
    try:
        s.sendall(b"\x7f\xf9\x00\x00")
        try:
            data = s.recv(16)
        except ConnectionResetError:
            data = b""
        assert data in (b"", b"\x7f\x10\x00\x00"), data
    finally:
        s.close()
    others_fine(router, bystanders)


@pytest.mark.crossbar_differs(
    reason="Crossbar.io resets the connection without the spec's error reply 0x7F 0x10 (serializer unsupported)"
)
def test_rawsocket_unsupported_serializer_gets_error_reply(router, bystanders):
    s = socket.create_connection(("127.0.0.1", router.rs_port), timeout=5)
    try:
        s.sendall(b"\x7f\xf9\x00\x00")
        assert s.recv(16) == b"\x7f\x10\x00\x00"
    finally:
        s.close()
    others_fine(router, bystanders)
