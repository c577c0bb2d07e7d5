"""Sessions: HELLO/WELCOME, ABORT for a missing realm, GOODBYE both ways."""

import pytest

from rawwamp import ABORT, GOODBYE, WELCOME, RawWamp
from wampclient import COMBO_IDS, COMBOS, JoinFailed, connect, run

pytestmark = pytest.mark.timeout(60)

MAX_ID = 2**53


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_join_realm1_welcome_announces_broker(router, transport, serializer):
    async def body():
        s = await connect(router, transport, serializer)
        try:
            details = s.joined.result()
            assert details.realm == "realm1"
            assert 1 <= details.session <= MAX_ID
            assert details.authrole == "anonymous"
            assert isinstance(details.authid, str) and details.authid
            assert "broker" in s.welcome.roles, s.welcome.roles
        finally:
            await s.close()

    run(body())


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_join_missing_realm_is_no_such_realm(router, transport, serializer):
    async def body():
        with pytest.raises(JoinFailed) as e:
            s = await connect(router, transport, serializer, realm="com.example.no_such_realm")
            await s.close()
        assert e.value.reason == "wamp.error.no_such_realm"

    run(body())


def test_session_ids_are_distinct(router):
    async def body():
        sessions = [await connect(router, t, s) for t, s in COMBOS for _ in range(2)]
        try:
            ids = [s.session_id for s in sessions]
            assert len(set(ids)) == len(ids), ids
            assert all(1 <= i <= MAX_ID for i in ids)
            authids = [s.authid for s in sessions]
            assert len(set(authids)) == len(authids), authids
        finally:
            for s in sessions:
                await s.close()

    run(body())


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_leave_with_goodbye_closes_session(router, transport, serializer):
    """The client's GOODBYE is answered with GOODBYE (Autobahn's onLeave), then the transport closes."""

    async def body():
        import asyncio

        s = await connect(router, transport, serializer)
        await asyncio.wait_for(s.leave("wamp.close.close_realm"), 10)
        details = await asyncio.wait_for(s.left, 10)
        assert details.reason.startswith("wamp.close."), details
        await asyncio.wait_for(s.disconnected, 10)

    run(body())


@pytest.mark.crossbar_differs(
    reason="Crossbar.io answers GOODBYE with wamp.close.normal; the spec says wamp.close.goodbye_and_out"
)
@pytest.mark.parametrize("transport,serializer", [("ws", "json"), ("rs", "cbor")], ids=["ws-json", "rs-cbor"])
def test_goodbye_reply_reason_is_goodbye_and_out(router, transport, serializer):
    c = RawWamp(router, transport, serializer)
    try:
        c.join()
        c.send([GOODBYE, {}, "wamp.close.close_realm"])
        reply = c.recv_until(GOODBYE)
        assert reply[2] == "wamp.close.goodbye_and_out", reply
    finally:
        c.close()


def test_hello_raw_welcome_details(router):
    """WELCOME.Details has roles.broker with its features as a dict; realm, authid, authrole."""
    c = RawWamp(router, "ws", "msgpack")
    try:
        m = c.hello("realm1")
        assert m[0] == WELCOME, m
        assert isinstance(m[1], int) and 1 <= m[1] <= MAX_ID
        details = m[2]
        broker = details["roles"]["broker"]
        assert isinstance(broker, dict)
        features = broker.get("features", {})
        for f in (
            "publisher_exclusion",
            "subscriber_blackwhite_listing",
            "publisher_identification",
            "pattern_based_subscription",
        ):
            assert features.get(f) is True, (f, features)
        assert details.get("authrole") == "anonymous"
    finally:
        c.close()


def test_raw_hello_missing_realm_aborts(router):
    c = RawWamp(router, "rs", "json")
    try:
        m = c.hello("com.example.nope")
        assert m[0] == ABORT, m
        assert m[2] == "wamp.error.no_such_realm", m
    finally:
        c.close()
