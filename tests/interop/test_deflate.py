"""permessage-deflate (RFC 7692) with Autobahn|Python clients: the router's WebSocket path
has `compression.deflate` (with and without context takeover), the clients offer
permessage-deflate through their factory's `perMessageCompressionOffers`, and pub/sub and
RPC go through compressed in both directions."""

import asyncio

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateResponse,
    PerMessageDeflateResponseAccept,
)

from conftest import ROUTER_KIND, WS_PATH, router_config
from wampclient import DEFAULT_TIMEOUT, SERIALIZERS, Client, run, subscribe

pytestmark = pytest.mark.timeout(120)

DEFLATE = {
    "context-takeover": {},
    "no-context-takeover": {
        "no_context_takeover": True,
        "request_no_context_takeover": True,
        "request_max_window_bits": 10,
        "max_window_bits": 12,
        "memory_level": 5,
    },
}

# a payload that compresses well and is longer than any "too short to compress" bound
TEXT = "the quick brown fox jumps over the lazy dog " * 40


def with_deflate(deflate):
    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        for transport in config["workers"][0]["transports"]:
            if transport["type"] == "web":
                transport["paths"][WS_PATH]["options"]["compression"] = {"deflate": deflate}
        return config

    return make


async def connect_deflate(router, serializer):
    """A session over WebSocket whose client offers permessage-deflate; returns it with
    the WebSocket protocol, whose `_perMessageCompress` is what was agreed."""
    loop = asyncio.get_running_loop()
    created = loop.create_future()

    def make():
        session = Client(ComponentConfig("realm1"))
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(
        make, url=router.ws_url, serializers=[SERIALIZERS[serializer]()]
    )

    def accept(response):
        if isinstance(response, PerMessageDeflateResponse):
            return PerMessageDeflateResponseAccept(response)
        return None

    factory.setProtocolOptions(
        perMessageCompressionOffers=[
            PerMessageDeflateOffer(accept_max_window_bits=True, accept_no_context_takeover=True)
        ],
        perMessageCompressionAccept=accept,
    )
    _, protocol = await loop.create_connection(factory, "127.0.0.1", router.ws_port)
    session = await asyncio.wait_for(created, DEFAULT_TIMEOUT)
    await asyncio.wait_for(asyncio.shield(session.joined), DEFAULT_TIMEOUT)
    return session, protocol


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
@pytest.mark.parametrize("mode", sorted(DEFLATE))
def test_pubsub_and_rpc_compressed(router_factory, mode, serializer):
    router = router_factory(make_config=with_deflate(DEFLATE[mode]))

    async def body():
        (subscriber, sub_proto), (publisher, pub_proto) = [
            await connect_deflate(router, serializer) for _ in range(2)
        ]
        for proto in (sub_proto, pub_proto):
            agreed = proto._perMessageCompress
            assert agreed is not None, "permessage-deflate was not negotiated"
            if mode == "no-context-takeover":
                # ringbar announces the server's own no_context_takeover; Crossbar.io
                # compresses without context and does not say so
                assert agreed.server_no_context_takeover == (ROUTER_KIND == "ringbar")
                assert agreed.client_no_context_takeover
                assert agreed.client_max_window_bits == 10
        _, inbox = await subscribe(subscriber, "com.deflate.topic")
        for i in range(5):
            publisher.publish("com.deflate.topic", i, TEXT, short="hi")
        await inbox.wait_for(lambda events: len(events) == 5)
        assert inbox.args == [[i, TEXT] for i in range(5)]
        assert all(kwargs == {"short": "hi"} for _, kwargs, _ in inbox.events)

        await subscriber.register(lambda a, b: a + b, "com.deflate.concat")
        for i in range(3):
            result = await asyncio.wait_for(
                publisher.call("com.deflate.concat", TEXT, str(i)), DEFAULT_TIMEOUT
            )
            assert result == TEXT + str(i)
        await subscriber.close()
        await publisher.close()

    run(body())
