"""UBJSON (`wamp.2.ubjson`, RawSocket serializer 4) and the batched WebSocket
subprotocols (`wamp.2.json.batched`, `wamp.2.msgpack.batched`,
`wamp.2.cbor.batched`, `wamp.2.ubjson.batched`), with real Autobahn|Python
clients: pub/sub and RPC on each, and across serializers.

UBJSON clients use py-ubjson (see ubjsonserializer.py). Crossbar.io 26 speaks
BJData as `wamp.2.ubjson` (through Autobahn's bjdata backend), so the UBJSON
tests are marked crossbar_differs.
"""

import asyncio

import pytest
from autobahn.wamp.types import PublishOptions

from test_pubsub import PAYLOAD_ARGS, PAYLOAD_KWARGS
from wampclient import close_all, connect, run, strict_equal, subscribe

pytestmark = pytest.mark.timeout(60)

T = 10.0

UBJSON_DIFFERS = pytest.mark.crossbar_differs(
    reason="Crossbar.io 26 speaks BJData (Autobahn's bjdata backend) as wamp.2.ubjson, not UBJSON"
)

# (transport, serializer) of every new way to connect
NEW = [
    pytest.param("ws", "json.batched", id="ws-json.batched"),
    pytest.param("ws", "msgpack.batched", id="ws-msgpack.batched"),
    pytest.param("ws", "cbor.batched", id="ws-cbor.batched"),
    pytest.param("ws", "ubjson", id="ws-ubjson", marks=UBJSON_DIFFERS),
    pytest.param("ws", "ubjson.batched", id="ws-ubjson.batched", marks=UBJSON_DIFFERS),
    pytest.param("rs", "ubjson", id="rs-ubjson", marks=UBJSON_DIFFERS),
]


@pytest.mark.parametrize("transport,serializer", NEW)
def test_pubsub_on_the_serializer_and_across(router, uid, transport, serializer):
    """A subscriber and a publisher on the serializer, and JSON and CBOR peers on the
    other side: every event arrives with exactly the values published."""

    async def body():
        topic = f"com.interop.serializers.{uid}"
        peers = [
            await connect(router, transport, serializer),
            await connect(router, "ws", "json"),
            await connect(router, "rs", "cbor"),
        ]
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in peers]
            for n, pub in enumerate(peers):
                await pub.publish(
                    topic,
                    *PAYLOAD_ARGS,
                    options=PublishOptions(acknowledge=True, exclude_me=False),
                    **PAYLOAD_KWARGS,
                )
                for sub, inbox in zip(peers, inboxes):
                    await inbox.wait_count(n + 1)
                    args, kwargs, _ = inbox.events[n]
                    diff = strict_equal(args, PAYLOAD_ARGS, "args")
                    assert diff is None, f"{pub.label} -> {sub.label}: {diff}"
                    diff = strict_equal(kwargs, PAYLOAD_KWARGS, "kwargs")
                    assert diff is None, f"{pub.label} -> {sub.label}: {diff}"
        finally:
            await close_all(peers)

    run(body())


@pytest.mark.parametrize("transport,serializer", NEW)
def test_rpc_on_the_serializer_and_across(router, uid, transport, serializer):
    """The serializer as callee (a JSON caller) and as caller (a MessagePack callee)."""

    async def body():
        mine = await connect(router, transport, serializer)
        json_caller = await connect(router, "ws", "json")
        msgpack_callee = await connect(router, "rs", "msgpack")
        try:

            def echo(*args, **kwargs):
                return [list(args), kwargs]

            await mine.register(echo, f"com.{uid}.mine")
            await msgpack_callee.register(echo, f"com.{uid}.msgpack")
            for caller, procedure in [(json_caller, "mine"), (mine, "msgpack"), (mine, "mine")]:
                result = await asyncio.wait_for(
                    caller.call(f"com.{uid}.{procedure}", *PAYLOAD_ARGS, **PAYLOAD_KWARGS), T
                )
                diff = strict_equal(result, [PAYLOAD_ARGS, PAYLOAD_KWARGS], "result")
                assert diff is None, f"{caller.label} -> {procedure}: {diff}"
        finally:
            await close_all([mine, json_caller, msgpack_callee])

    run(body())


@UBJSON_DIFFERS
def test_ubjson_publisher_json_subscriber(router, uid):
    """The issue's case: a UBJSON publisher, a JSON subscriber, many events in order."""

    async def body():
        topic = f"com.interop.ubjson_to_json.{uid}"
        sub = await connect(router, "ws", "json")
        pub = await connect(router, "rs", "ubjson")
        try:
            _, inbox = await subscribe(sub, topic)
            for n in range(200):
                pub.publish(topic, n, "x" * (n % 7), b"\x00\xff" * (n % 3), big=2**40 + n)
            await inbox.wait_count(200)
            assert [e[0][0] for e in inbox.events] == list(range(200))
            assert all(e[1] == {"big": 2**40 + n} for n, e in enumerate(inbox.events))
            assert inbox.events[5][0] == [5, "xxxxx", b"\x00\xff\x00\xff"]
        finally:
            await close_all([sub, pub])

    run(body())


def test_a_default_autobahn_client_gets_batched_cbor(router, uid):
    """Autobahn|Python's default list offers wamp.2.cbor.batched first; the router takes
    the client's preference, as Crossbar.io does, and the session works on it."""

    async def body():
        topic = f"com.interop.default.{uid}"
        default = await connect(router, "ws", None)
        other = await connect(router, "rs", "json")
        try:
            assert default._transport.websocket_protocol_in_use == "wamp.2.cbor.batched"
            _, inbox = await subscribe(default, topic)
            await other.publish(topic, "hi", b"\x00", options=PublishOptions(acknowledge=True))
            await inbox.wait_count(1)
            assert inbox.events[0][0] == ["hi", b"\x00"]
        finally:
            await close_all([default, other])

    run(body())
