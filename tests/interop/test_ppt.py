"""Payload passthru mode (WAMP spec, advanced profile): PUBLISH.Options.ppt_* are forwarded in
EVENT.Details, and the payload -- one binary item in Arguments -- arrives unchanged, never parsed.

Autobahn|Python 26.10 has no ppt_* options (it speaks the older enc_algo/enc_serializer), so
these peers are raw WAMP clients that announce payload_passthru_mode in HELLO.
"""

import pytest

from rawwamp import EVENT, PUBLISHED, RawWamp

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.crossbar_differs(
        reason="Crossbar.io 26.10 implements Autobahn's enc_algo/enc_serializer passthru, not the spec's ppt_* options"
    ),
]

# the spec's predefined schemes and a custom one: the router forwards ppt_* without judging them
PPT_SETS = {
    "mqtt": {"ppt_scheme": "mqtt", "ppt_serializer": "mqtt"},
    "e2ee": {
        "ppt_scheme": "wamp.eth",
        "ppt_serializer": "cbor",
        "ppt_cipher": "xsalsa20poly1305",
        "ppt_keyid": "0x7c1e8a1f0f3f7d2f9bb1b4a3c3a1d0e2f4a5b6c7",
    },
    "custom": {
        "ppt_scheme": "x_interop",
        "ppt_serializer": "custom",
        "ppt_cipher": "x_none",
        "ppt_keyid": "key-1",
    },
}
# not valid MessagePack, CBOR or UTF-8: a router that parses the payload chokes on it
OPAQUE = b"\xc1\xff\x00\xfe garbage \x80\x81 payload"

SUBSCRIBERS = [("ws", "msgpack"), ("rs", "cbor"), ("ws", "json"), ("rs", "msgpack")]


@pytest.mark.parametrize(
    "transport,serializer",
    [("ws", "msgpack"), ("rs", "cbor"), ("ws", "json")],
    ids=["pub-ws-msgpack", "pub-rs-cbor", "pub-ws-json"],
)
@pytest.mark.parametrize("ppt", list(PPT_SETS), ids=list(PPT_SETS))
def test_ppt_options_and_payload_pass_through(router, uid, transport, serializer, ppt):
    PPT = PPT_SETS[ppt]
    topic = f"com.interop.ppt.{uid}"
    subs = [RawWamp(router, t, s) for t, s in SUBSCRIBERS]
    pub = RawWamp(router, transport, serializer)
    try:
        for s in subs:
            s.join()
            s.subscribe(topic)
        pub.join()
        req = pub.publish(topic, [OPAQUE], options=dict(PPT, acknowledge=True))
        m = pub.recv()
        assert m[:2] == [PUBLISHED, req], m
        for s, (t, ser) in zip(subs, SUBSCRIBERS):
            ev = s.recv_until(EVENT)
            assert ev[4] == [OPAQUE], (t, ser, ev)
            assert len(ev) == 5 or ev[5] in ({}, None), (t, ser, ev)
            details = ev[3]
            for k, v in PPT.items():
                assert details.get(k) == v, (t, ser, details)
    finally:
        for c in subs + [pub]:
            c.close()


def test_broker_announces_payload_passthru_mode(router):
    c = RawWamp(router, "ws", "json")
    try:
        c.join()
        features = c.welcome_details["roles"]["broker"].get("features", {})
        assert features.get("payload_passthru_mode") is True, features
    finally:
        c.close()
