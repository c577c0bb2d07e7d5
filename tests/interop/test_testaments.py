"""Testaments (WAMP spec, Testament Meta API): events a session leaves with the router,
published when it goes -- cleanly or not -- and flushed on request."""

import time

import pytest
from autobahn.wamp.exception import ApplicationError

from wampclient import close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(60)


def _topic(name):
    return f"com.testament.{name}.t{time.monotonic_ns()}"


def test_testaments_are_published_when_the_session_leaves(router):
    async def body():
        watcher = await connect(router, "ws", "json", label="watcher")
        leaver = await connect(router, "rs", "msgpack", label="leaver")
        try:
            destroyed, detached = _topic("destroyed"), _topic("detached")
            _, inbox = await subscribe(watcher, destroyed)
            _, early = await subscribe(watcher, detached)
            await leaver.call("wamp.session.add_testament", destroyed, ["seeya", 1], {"who": "leaver"})
            await leaver.call("wamp.session.add_testament", detached, ["first"], {}, scope="detached")
            await leaver.close()
            await inbox.wait_count(1)
            await early.wait_count(1)
            args, kwargs, _ = inbox.events[0]
            assert args == ["seeya", 1] and kwargs == {"who": "leaver"}
            assert early.args == [["first"]]
        finally:
            await close_all([watcher, leaver])

    run(body())


def test_a_lost_connection_publishes_the_testament_too(router):
    async def body():
        watcher = await connect(router, "ws", "cbor", label="watcher")
        lost = await connect(router, "ws", "json", label="lost")
        try:
            topic = _topic("lost")
            _, inbox = await subscribe(watcher, topic)
            await lost.call("wamp.session.add_testament", topic, ["gone"], {})
            lost._transport.abort() if hasattr(lost._transport, "abort") else lost._transport.close()
            await inbox.wait_arg("gone")
        finally:
            await close_all([watcher])

    run(body())


def test_flushed_testaments_are_not_published(router):
    async def body():
        watcher = await connect(router, "ws", "json", label="watcher")
        leaver = await connect(router, "ws", "json", label="leaver")
        try:
            flushed, kept = _topic("flushed"), _topic("kept")
            _, gone = await subscribe(watcher, flushed)
            _, stays = await subscribe(watcher, kept)
            await leaver.call("wamp.session.add_testament", flushed, ["never"], {})
            await leaver.call("wamp.session.flush_testaments")
            # the sentinel comes after any event of the flushed testament would
            await leaver.call("wamp.session.add_testament", kept, ["sentinel"], {})
            await leaver.close()
            await stays.wait_arg("sentinel")
            assert gone.events == []
        finally:
            await close_all([watcher, leaver])

    run(body())


@pytest.mark.crossbar_differs(
    reason="Crossbar.io 26.10.1 accepts a testament on an invalid topic URI (and can never publish it)"
)
def test_a_testament_on_a_bad_topic_is_refused(router):
    async def body():
        session = await connect(router, "ws", "json")
        try:
            with pytest.raises(ApplicationError) as refused:
                await session.call("wamp.session.add_testament", "not a uri!", [], {})
            assert refused.value.error == "wamp.error.invalid_uri"
        finally:
            await close_all([session])

    run(body())
