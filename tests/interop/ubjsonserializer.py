"""`wamp.2.ubjson` for Autobahn|Python, backed by py-ubjson (UBJSON draft 12).

Autobahn|Python 26.6 and later back its own "ubjson" serializer with the
`bjdata` package, which writes BJData (little-endian integers, other markers)
under the same name; it is not the UBJSON the WAMP spec names. This plugs
py-ubjson into Autobahn's `Serializer`, as Autobahn itself did up to 25.12,
so the tests speak the spec's `wamp.2.ubjson`, batched or not, over WebSocket
and RawSocket (serializer id 4).
"""

import struct

import ubjson
from autobahn.wamp.serializer import Serializer

# a batched binary message: each WAMP message behind its length, 4 bytes big-endian
_LENGTH = struct.Struct(">I")


class _UbjsonObjects:
    """Autobahn's object-serializer interface: Python values to bytes and back."""

    NAME = "ubjson"
    BINARY = True

    def __init__(self, batched):
        self._batched = batched

    def serialize(self, obj):
        data = ubjson.dumpb(obj)
        return _LENGTH.pack(len(data)) + data if self._batched else data

    def unserialize(self, payload):
        if not self._batched:
            return [ubjson.loadb(payload)]
        messages, at = [], 0
        while at < len(payload):
            if at + _LENGTH.size > len(payload):
                raise ValueError(f"batch cut off in a length prefix at byte {at}")
            (length,) = _LENGTH.unpack_from(payload, at)
            end = at + _LENGTH.size + length
            if end > len(payload):
                raise ValueError(f"batched message at byte {at} cut off")
            messages.append(ubjson.loadb(payload[at + _LENGTH.size : end]))
            at = end
        return messages


class UbjsonSerializer(Serializer):
    """`wamp.2.ubjson` (or `wamp.2.ubjson.batched`), RawSocket serializer 4."""

    RAWSOCKET_SERIALIZER_ID = 4
    PAYLOAD_SERIALIZER_ID = "ubjson"
    MIME_TYPE = "application/ubjson"

    def __init__(self, batched=False):
        super().__init__(_UbjsonObjects(batched))
        self.SERIALIZER_ID = "ubjson.batched" if batched else "ubjson"
