"""Raw WebSocket / RawSocket / WAMP over plain blocking sockets.

For what a real client library will not send: malformed frames, unmasked
frames, invalid UTF-8, messages out of order, options Autobahn does not
expose (`disclose_me`, `ppt_*`). Every socket operation has a timeout.
"""

import base64
import json
import os
import socket
import struct

import cbor2
import msgpack

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

HELLO, WELCOME, ABORT, CHALLENGE, AUTHENTICATE, GOODBYE, ERROR = 1, 2, 3, 4, 5, 6, 8
PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, EVENT = 16, 17, 32, 33, 36

# what a raw peer announces in HELLO (payload passthru included: the tests that use
# it need the router to know the peer supports it)
CLIENT_ROLES = {
    "publisher": {
        "features": {
            "publisher_exclusion": True,
            "publisher_identification": True,
            "subscriber_blackwhite_listing": True,
            "payload_passthru_mode": True,
        }
    },
    "subscriber": {
        "features": {
            "pattern_based_subscription": True,
            "publisher_identification": True,
            "payload_passthru_mode": True,
        }
    },
}


class Closed(Exception):
    """The peer closed the connection. `code`/`reason` from a WebSocket close frame, if any."""

    def __init__(self, code=None, reason=""):
        super().__init__(f"closed (code={code}, reason={reason!r})")
        self.code = code
        self.reason = reason


# ---------------------------------------------------------------- serializers


def _json_default(o):
    if isinstance(o, (bytes, bytearray)):
        # WAMP's JSON convention for binary: "\0" + base64
        return "\x00" + base64.b64encode(bytes(o)).decode("ascii")
    raise TypeError(o)


def _json_unbin(o):
    if isinstance(o, str) and o.startswith("\x00"):
        return base64.b64decode(o[1:])
    if isinstance(o, list):
        return [_json_unbin(x) for x in o]
    if isinstance(o, dict):
        return {k: _json_unbin(v) for k, v in o.items()}
    return o


def encode(serializer, msg):
    if serializer == "json":
        return json.dumps(msg, default=_json_default, ensure_ascii=False).encode("utf-8")
    if serializer == "msgpack":
        return msgpack.packb(msg, use_bin_type=True)
    if serializer == "cbor":
        return cbor2.dumps(msg)
    raise ValueError(serializer)


def decode(serializer, data):
    if serializer == "json":
        return _json_unbin(json.loads(data.decode("utf-8")))
    if serializer == "msgpack":
        return msgpack.unpackb(data, raw=False)
    if serializer == "cbor":
        return cbor2.loads(data)
    raise ValueError(serializer)


RS_SERIALIZER_IDS = {"json": 1, "msgpack": 2, "cbor": 3}


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return bytes(buf)


# ------------------------------------------------------------------ WebSocket


class RawWebSocket:
    """A minimal RFC 6455 client over a blocking socket, with full control of framing."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.host, self.port = host, port
        self.status = None
        self.headers = {}
        self.protocol = None
        self.close_code = None
        self.close_reason = ""

    def handshake(self, path="/ws", protocols=("wamp.2.json",), extra_headers=(), send=None):
        """Send the opening handshake (through `send(bytes)` if given); returns the HTTP
        status code."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        lines.extend(extra_headers)
        (send or self.sock.sendall)(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = bytearray()
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
            if len(head) > 65536:
                break
        text, _, self._pending = bytes(head).partition(b"\r\n\r\n")
        lines = text.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            raise Closed(reason=f"no HTTP response: {bytes(head)[:200]!r}")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.protocol = self.headers.get("sec-websocket-protocol")
        return self.status

    def _read(self, n):
        if self._pending:
            take, self._pending = self._pending[:n], self._pending[n:]
            if len(take) == n:
                return take
            return take + _recv_exact(self.sock, n - len(take))
        return _recv_exact(self.sock, n)

    def send_frame(self, opcode, payload, fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            header = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            header = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            header = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = _mask(payload, key)
            header += key
        self.sock.sendall(header + payload)

    def send_header_only(self, opcode, length, mask=True):
        """Announce a frame of `length` bytes and send only its header."""
        b0 = 0x80 | opcode
        mbit = 0x80 if mask else 0
        header = struct.pack("!BBQ", b0, mbit | 127, length)
        if mask:
            header += os.urandom(4)
        self.sock.sendall(header)

    def recv_frame(self):
        """Returns (opcode, payload); answers pings; raises Closed on a close frame or EOF."""
        while True:
            b0, b1 = self._read(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            key = self._read(4) if b1 & 0x80 else None
            payload = self._read(n) if n else b""
            if key:
                payload = _mask(payload, key)
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close_code = code
                self.close_reason = payload[2:].decode("utf-8", "replace")
                raise Closed(code, self.close_reason)
            if opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            return opcode, payload

    def wait_closed(self):
        """Read until the peer closes; returns the close code (None if the TCP connection
        just ended). Answers the close handshake."""
        try:
            while True:
                self.recv_frame()
        except Closed as c:
            if c.code is not None:
                try:
                    self.send_frame(OP_CLOSE, struct.pack("!H", c.code))
                except OSError:
                    pass
            return c.code
        except (ConnectionResetError, BrokenPipeError):
            return None

    def close(self, abort=False):
        try:
            if abort:
                # RST instead of FIN
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


def _mask(data, key):
    if not data:
        return b""
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big")


# ------------------------------------------------------------------ RawSocket


class RawSocketConn:
    """A minimal WAMP RawSocket client over a blocking socket."""

    def __init__(self, host, port, timeout=5.0, source_address=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=source_address
        )
        self.sock.settimeout(timeout)
        self.max_len_exp = None

    def handshake(self, serializer="json", max_len_exp=0xF):
        self.sock.sendall(bytes([0x7F, (max_len_exp << 4) | RS_SERIALIZER_IDS[serializer], 0, 0]))
        reply = _recv_exact(self.sock, 4)
        if reply[0] != 0x7F:
            raise Closed(reason=f"bad RawSocket handshake reply {reply!r}")
        if reply[1] & 0x0F == 0:
            raise Closed(code=reply[1] >> 4, reason="RawSocket handshake refused")
        self.max_len_exp = reply[1] >> 4
        return reply

    def send_frame(self, payload, frame_type=0):
        self.sock.sendall(struct.pack("!I", (frame_type << 24) | len(payload)) + payload)

    def recv_frame(self):
        while True:
            (h,) = struct.unpack("!I", _recv_exact(self.sock, 4))
            ftype, n = h >> 24, h & 0xFFFFFF
            payload = _recv_exact(self.sock, n)
            if ftype == 1:  # PING -> PONG
                self.send_frame(payload, 2)
                continue
            if ftype == 2:
                continue
            return payload

    def close(self, abort=False):
        try:
            if abort:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


# ----------------------------------------------------------------------- WAMP


class RawWamp:
    """WAMP messages as plain lists over a RawWebSocket or RawSocketConn."""

    def __init__(self, router, transport="ws", serializer="json", timeout=5.0):
        self.serializer = serializer
        self.transport = transport
        self.session_id = None
        self.welcome_details = None
        self._req = 0
        if transport == "ws":
            self.conn = RawWebSocket("127.0.0.1", router.ws_port, timeout=timeout)
            status = self.conn.handshake(router.ws_path, protocols=(f"wamp.2.{serializer}",))
            if status != 101:
                raise Closed(reason=f"WebSocket handshake refused: HTTP {status}")
        else:
            self.conn = RawSocketConn("127.0.0.1", router.rs_port, timeout=timeout)
            self.conn.handshake(serializer)

    @classmethod
    def wrap(cls, conn, transport, serializer):
        """A RawWamp over an already open RawWebSocket / RawSocketConn."""
        self = cls.__new__(cls)
        self.serializer = serializer
        self.transport = transport
        self.session_id = None
        self.welcome_details = None
        self._req = 0
        self.conn = conn
        return self

    def next_request(self):
        self._req += 1
        return self._req

    def send(self, msg):
        data = encode(self.serializer, msg)
        if self.transport == "ws":
            self.conn.send_frame(OP_TEXT if self.serializer == "json" else OP_BINARY, data)
        else:
            self.conn.send_frame(data)

    def recv(self):
        if self.transport == "ws":
            _, data = self.conn.recv_frame()
        else:
            data = self.conn.recv_frame()
        return decode(self.serializer, data)

    def recv_until(self, msg_type, max_messages=10000):
        """Receive until a message of `msg_type` arrives (bounded); returns it."""
        for _ in range(max_messages):
            m = self.recv()
            if m[0] == msg_type:
                return m
        raise AssertionError(f"no message of type {msg_type} in {max_messages} messages")

    def hello(self, realm="realm1", roles=None, details=None):
        d = {"roles": roles or CLIENT_ROLES}
        d.update(details or {})
        self.send([HELLO, realm, d])
        return self.recv()

    def join(self, realm="realm1", roles=None):
        m = self.hello(realm, roles)
        if m[0] != WELCOME:
            raise AssertionError(f"expected WELCOME, got {m!r}")
        self.session_id = m[1]
        self.welcome_details = m[2]
        return m

    def subscribe(self, topic, options=None):
        req = self.next_request()
        self.send([SUBSCRIBE, req, options or {}, topic])
        for _ in range(10000):
            m = self.recv()
            if m[0] == SUBSCRIBED and m[1] == req:
                return m[2]
            if m[0] == ERROR and m[1] == SUBSCRIBE and m[2] == req:
                raise AssertionError(f"SUBSCRIBE {topic!r} refused: {m!r}")
        raise AssertionError("no SUBSCRIBED")

    def publish(self, topic, args=None, kwargs=None, options=None):
        req = self.next_request()
        msg = [PUBLISH, req, options or {}, topic]
        if args is not None or kwargs is not None:
            msg.append(args if args is not None else [])
        if kwargs is not None:
            msg.append(kwargs)
        self.send(msg)
        return req

    def close(self, abort=False):
        self.conn.close(abort=abort)

    def expect_closed(self):
        """Read until the router ends the session; returns ('abort'|'goodbye'|'close'|'eof',
        reason or close code) for the first ending signal seen."""
        try:
            for _ in range(1000):
                m = self.recv()
                if m[0] == ABORT:
                    return ("abort", m[2])
                if m[0] == GOODBYE:
                    return ("goodbye", m[2])
        except Closed as c:
            if c.code is not None:
                return ("close", c.code)
            return ("eof", None)
        except (ConnectionResetError, BrokenPipeError):
            return ("eof", None)
        raise AssertionError("router kept talking after a protocol violation")
