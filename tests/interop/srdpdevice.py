"""A simulated SRDP adapter for the SRDP bridge tests, written from the SRDP documents
(oberstet/SRDP doc/SRDP.md, doc/EDS.md, ansic/srdp/srdp.h): frames of a 12-byte header
of six little-endian u16 (opdev, seq, reg, pos, len, crc16) and data, CRC-16/XMODEM over
the header with the CRC zero and the data. It answers READ (len 0: from pos to the end,
at most one frame) and WRITE, ERR -3 for a register it lacks, and sends CHANGE requests.
Transports: the other end of a pseudo terminal (os.openpty; the bridge opens a symlink
to the terminal, so a new terminal after an unplug has the same name), or a UDP socket.
"""

import os
import select
import socket
import struct
import threading
import tty
import uuid as uuidlib

REQ, ACK, ERR = 1, 2, 3
SYNC, READ, WRITE, CHANGE = 0, 1, 2, 3
MAX_DATA = 69
HEADER = 12


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode(ft, op, dev, seq, reg, pos, length, data=b""):
    opdev = (ft << 14) | (op << 12) | (dev & 0x0FFF)
    header = struct.pack("<HHHHHH", opdev, seq, reg, pos, length, 0)
    crc = crc16(header + data)
    return struct.pack("<HHHHHH", opdev, seq, reg, pos, length, crc) + data


def carries_data(ft, op):
    return not ((ft == REQ and op in (SYNC, READ)) or (ft == ACK and op == WRITE))


def string(text):
    raw = text.encode()
    return struct.pack("<H", len(raw)) + raw


ADAPTER_EDS = "urn:ringbar:test:adapter"
BOARD_EDS = "urn:ringbar:test:board"

EDS_FILES = {
    "base.json": {
        "uri": "urn:ringbar:test:base",
        "label": "Base",
        "registers": [
            {"index": 1, "path": "/system/id", "access": "read", "type": "uint8", "count": 16},
            {"index": 2, "path": "/system/eds", "access": "read", "type": "char", "count": "uint16"},
        ],
    },
    "adapter.json": {
        "uri": ADAPTER_EDS,
        "label": "Test adapter",
        "registers": [
            "urn:ringbar:test:base",
            {"index": 5, "path": "/system/devices", "access": "read", "type": "uint16", "count": "uint16"},
        ],
    },
    "board.json": {
        "uri": BOARD_EDS,
        "label": "Test board",
        "registers": [
            "urn:ringbar:test:base",
            {"index": 1024, "path": "/light/color#rgb", "access": "readwrite", "type": [
                {"field": "red", "type": "uint8"}, {"field": "green", "type": "uint8"},
                {"field": "blue", "type": "uint8"}]},
            {"index": 1025, "path": "/light#flashrate", "access": "readwrite", "type": "float"},
            {"index": 1026, "path": "/offset", "access": "readwrite", "type": "int16"},
            {"index": 1027, "path": "/samples", "access": "readwrite", "type": "uint16", "count": 4},
            {"index": 1028, "path": "/name", "access": "readwrite", "type": "char", "count": "uint16"},
            {"index": 1029, "path": "/memory", "access": "readwrite", "type": "uint8", "count": 200},
            {"index": 1030, "path": "/button", "access": "read", "type": [
                {"field": "time", "type": "uint32"}, {"field": "state", "type": "uint8"}]},
            {"index": 1031, "path": "/missing", "access": "readwrite", "type": "uint8"},
            {"index": 1032, "path": "/log", "access": "read", "type": "char", "count": "uint16"},
        ],
    },
}


def registers():
    """The adapter (device 1) with one device (2); register 1031 is in the EDS only."""
    return {
        (1, 1): bytearray(uuidlib.UUID("550e8400-e29b-41d4-a716-446655440000").bytes),
        (1, 2): bytearray(string(ADAPTER_EDS)),
        (1, 5): bytearray(struct.pack("<HHH", 2, 2, 0)),
        (2, 1): bytearray(uuidlib.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8").bytes),
        (2, 2): bytearray(string(BOARD_EDS)),
        (2, 1024): bytearray(b"\x10\x20\x30"),
        (2, 1025): bytearray(struct.pack("<f", 2.5)),
        (2, 1026): bytearray(struct.pack("<h", -300)),
        (2, 1027): bytearray(struct.pack("<4H", 1, 2, 3, 65535)),
        (2, 1028): bytearray(string("board")),
        (2, 1029): bytearray(bytes(i % 256 for i in range(200))),
        (2, 1030): bytearray(struct.pack("<IB", 0, 1)),
        (2, 1032): bytearray(string("boot ok; " * 12)),
    }


VARIABLE = {(1, 2), (1, 5), (2, 2), (2, 1028), (2, 1032)}


class Device:
    """The adapter's register logic, whatever the transport."""

    def __init__(self):
        self.registers = registers()
        self.lock = threading.Lock()
        self.seq = 0
        self.garbage_before_next = b""
        self.corrupt_next = False
        self.frames = []  # every frame received: (ft, op, dev, seq, reg, pos, len)

    def answer(self, ft, op, dev, seq, reg, pos, length, data):
        """The bytes to send back for one frame from the host."""
        self.frames.append((ft, op, dev, seq, reg, pos, length))
        if ft != REQ or op not in (READ, WRITE):
            return b""
        with self.lock:
            register = self.registers.get((dev, reg))
            if register is None:
                reply = encode(ERR, op, dev, seq, reg, 0, 4, struct.pack("<i", -3))
            elif op == READ:
                end = min(len(register), pos + MAX_DATA) if length == 0 else pos + length
                if pos > len(register) or end > len(register):
                    reply = encode(ERR, op, dev, seq, reg, 0, 4, struct.pack("<i", -4))
                else:
                    chunk = bytes(register[pos:end])
                    reply = encode(ACK, READ, dev, seq, reg, pos, len(chunk), chunk)
            else:
                if (dev, reg) in VARIABLE:
                    del register[pos:]
                    register.extend(data)
                    reply = encode(ACK, WRITE, dev, seq, reg, pos, len(data))
                elif pos + len(data) > len(register):
                    reply = encode(ERR, op, dev, seq, reg, 0, 4, struct.pack("<i", -4))
                else:
                    register[pos : pos + len(data)] = data
                    reply = encode(ACK, WRITE, dev, seq, reg, pos, len(data))
            garbage, self.garbage_before_next = self.garbage_before_next, b""
            if self.corrupt_next:
                self.corrupt_next = False
                reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
        return garbage + reply

    def change(self, dev, reg, value, pos=0):
        """A CHANGE request: the register takes `value` at `pos`; the frame carries it."""
        with self.lock:
            register = self.registers[(dev, reg)]
            register[pos : pos + len(value)] = value
            self.seq = (self.seq + 1) & 0xFFFF
            return encode(REQ, CHANGE, dev, self.seq, reg, pos, len(value), bytes(value))


class Parser:
    """Frames out of a byte stream (the host sends valid frames; this one resyncs on
    anything else by dropping a byte)."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER:
            opdev, seq, reg, pos, length, crc = struct.unpack("<HHHHHH", self.buffer[:HEADER])
            ft, op, dev = opdev >> 14, (opdev >> 12) & 3, opdev & 0x0FFF
            size = length if carries_data(ft, op) else 0
            if ft == 0 or size > MAX_DATA:
                self.buffer = self.buffer[1:]
                continue
            if len(self.buffer) < HEADER + size:
                break
            data = self.buffer[HEADER : HEADER + size]
            if crc16(self.buffer[:10] + b"\0\0" + data) != crc:
                self.buffer = self.buffer[1:]
                continue
            self.buffer = self.buffer[HEADER + size :]
            frames.append((ft, op, dev, seq, reg, pos, length, data))
        return frames


class SerialAdapter:
    """The device behind a pseudo terminal whose name is the symlink `link`."""

    def __init__(self, device, link):
        self.device = device
        self.link = link
        self.master = None
        self.slave = None
        self.thread = None
        self.running = False
        self.lock = threading.Lock()

    def plug(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = self.link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)
        self.running = True
        self.thread = threading.Thread(target=self._serve, args=(self.master,), daemon=True)
        self.thread.start()
        return self

    def unplug(self):
        self.running = False
        self.thread.join(5)
        with self.lock:
            os.close(self.master)
            os.close(self.slave)
            self.master = None

    def send(self, data):
        with self.lock:
            if self.master is not None:
                os.write(self.master, data)

    def _serve(self, master):
        parser = Parser()
        while self.running:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                continue
            for frame in parser.feed(data):
                reply = self.device.answer(*frame)
                if reply:
                    self.send(reply)


class UdpAdapter:
    """The device on a UDP socket on 127.0.0.1; it answers whoever asked last."""

    def __init__(self, device):
        self.device = device
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.host = None
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.socket.close()

    def send(self, data):
        if self.host is not None:
            self.socket.sendto(data, self.host)

    def _serve(self):
        while self.running:
            ready, _, _ = select.select([self.socket], [], [], 0.05)
            if not ready:
                continue
            datagram, self.host = self.socket.recvfrom(65536)
            frames = Parser().feed(datagram)
            for frame in frames:
                reply = self.device.answer(*frame)
                if reply:
                    self.send(reply)
