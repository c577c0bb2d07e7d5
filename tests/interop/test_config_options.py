"""Crossbar.io options that change what clients see, with real Autobahn|Python clients:
a realm's `options.enable_meta_api: false` (no meta procedures: a CALL gets
wamp.error.no_such_procedure; no meta events) and a transport's `max_connections`
(connections over it are closed at once; a freed place is taken again)."""

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError

from authconfig import config_with_auth, realm
from conftest import ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from wampclient import Inbox, JoinFailed, close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(120)

NO_META = "com.example.nometa"
MAX_CONNECTIONS = 2


def make_config(ws_port, rs_port):
    no_meta = realm(NO_META)
    no_meta["options"] = {"enable_meta_api": False}
    anonymous = {"anonymous": {"type": "static", "role": "anonymous"}}
    config = config_with_auth(anonymous, realms=[realm(), no_meta])(ws_port, rs_port)
    rawsocket = config["workers"][0]["transports"][1]
    assert rawsocket["type"] == "rawsocket"
    rawsocket["max_connections"] = MAX_CONNECTIONS
    return config


@pytest.fixture(scope="module")
def options_router(router_setting, tmp_path_factory):
    r = RouterProcess(ROUTER_KIND, router_setting, tmp_path_factory.mktemp("options"), make_config)
    _start_or_fail(r)
    yield r
    _finish(r)


async def first_event_after_a_join(router, realm_name, uid):
    """Subscribes to wamp.session.on_join and a sentinel topic, lets another session join
    and publish the sentinel; the on_join events that came before the sentinel."""
    watcher = await connect(router, "ws", "json", realm=realm_name)
    other = None
    try:
        on_join, sentinel = Inbox(), Inbox()
        await subscribe(watcher, "wamp.session.on_join", inbox=on_join)
        await subscribe(watcher, f"com.example.{uid}.sentinel", inbox=sentinel)
        other = await connect(router, "ws", "msgpack", realm=realm_name)
        other.publish(f"com.example.{uid}.sentinel", 1)
        await sentinel.wait_count(1)
        # the join came before the publication, from the same session
        return list(on_join.events)
    finally:
        await close_all([s for s in (watcher, other) if s is not None])


def test_a_realm_without_the_meta_api(options_router, uid):
    async def body():
        session = await connect(options_router, "ws", "cbor", realm=NO_META)
        try:
            with pytest.raises(ApplicationError) as raised:
                await session.call("wamp.session.count")
            assert raised.value.error == "wamp.error.no_such_procedure"
        finally:
            await session.close()
        assert await first_event_after_a_join(options_router, NO_META, uid) == []

        # realm1 of the same router offers it
        session = await connect(options_router, "rs", "json")
        try:
            assert await session.call("wamp.session.count") >= 1
        finally:
            await session.close()
        assert len(await first_event_after_a_join(options_router, "realm1", uid)) == 1

    run(body())


async def connect_capped(router):
    """A RawSocket session, retried while the cap is held by connections the router has
    not seen closing yet (the start-up probe's)."""
    for _ in range(50):
        try:
            return await connect(router, "rs", "json", timeout=3)
        except (JoinFailed, OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
    raise AssertionError("no RawSocket session within the cap")


async def refused(router):
    with pytest.raises((JoinFailed, OSError, asyncio.TimeoutError)):
        s = await connect(router, "rs", "msgpack", timeout=3)
        await s.close()


def test_max_connections_closes_what_is_over_it(options_router):
    async def body():
        sessions = [await connect_capped(options_router) for _ in range(MAX_CONNECTIONS)]
        try:
            await refused(options_router)
            # the joined sessions still work; the WebSocket transport has no such cap
            assert await sessions[0].call("wamp.session.count") >= MAX_CONNECTIONS
            more = await connect(options_router, "ws", "json")
            await more.close()
            # a freed place is taken again
            await sessions.pop().close()
            sessions.append(await connect_capped(options_router))
            await refused(options_router)
        finally:
            await close_all(sessions)

    run(body())
