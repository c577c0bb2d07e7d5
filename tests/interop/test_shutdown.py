"""Graceful shutdown: on SIGTERM the router says GOODBYE wamp.close.system_shutdown to every
session, and the process exits (0 for ringbar) within a bound."""

import asyncio
import signal
import time

import pytest

from conftest import ROUTER_KIND, STOP_TIMEOUT, clean_exit_codes
from wampclient import connect, connect_many, run, subscribe

pytestmark = pytest.mark.timeout(120)

SHUTDOWN_BOUND = float(STOP_TIMEOUT)


_NO_GOODBYE = pytest.mark.crossbar_differs(
    reason="Crossbar.io drops the connections on SIGTERM/SIGINT without GOODBYE wamp.close.system_shutdown"
)


def test_sigterm_disconnects_clients_and_exits(router_factory):
    router = router_factory()

    async def body():
        sessions = await connect_many(router, [("ws", "json"), ("rs", "cbor")])
        t0 = time.monotonic()
        router.proc.send_signal(signal.SIGTERM)
        for s in sessions:
            await asyncio.wait_for(asyncio.shield(s.disconnected), SHUTDOWN_BOUND)
        rc = await asyncio.to_thread(router.proc.wait, SHUTDOWN_BOUND)
        print(f"\nrouter exited {rc} {time.monotonic() - t0:.2f}s after SIGTERM")
        assert rc in clean_exit_codes(), (rc, router.log()[-3000:])

    run(body(), timeout=SHUTDOWN_BOUND * 3)


@_NO_GOODBYE
def test_sigterm_sends_system_shutdown_goodbye_and_exits(router_factory):
    router = router_factory()

    async def body():
        sessions = await connect_many(
            router, [("ws", "json"), ("ws", "msgpack"), ("ws", "cbor"), ("rs", "json"), ("rs", "cbor")]
        )
        for i, s in enumerate(sessions):
            await subscribe(s, f"com.shutdown.t{i}")
        t0 = time.monotonic()
        router.proc.send_signal(signal.SIGTERM)
        for s in sessions:
            details = await asyncio.wait_for(asyncio.shield(s.left), SHUTDOWN_BOUND)
            assert details.reason == "wamp.close.system_shutdown", (s.label, details)
        for s in sessions:
            await asyncio.wait_for(asyncio.shield(s.disconnected), SHUTDOWN_BOUND)
        rc = await asyncio.to_thread(router.proc.wait, SHUTDOWN_BOUND)
        took = time.monotonic() - t0
        print(f"\nrouter exited {rc} {took:.2f}s after SIGTERM")
        assert rc in clean_exit_codes(), (rc, router.log()[-3000:])

    run(body(), timeout=SHUTDOWN_BOUND * 3)


@_NO_GOODBYE
def test_sigterm_while_publishing_exits_cleanly(router_factory):
    """Shutdown under load: a publisher flooding a subscriber still gets its GOODBYE."""
    router = router_factory()

    async def body():
        sub = await connect(router, "rs", "msgpack")
        pub = await connect(router, "ws", "json")
        _, inbox = await subscribe(sub, "com.shutdown.flood")
        for i in range(2000):
            pub.publish("com.shutdown.flood", i, "x" * 100)
        await inbox.wait_count(1)
        router.proc.send_signal(signal.SIGTERM)
        for s in (sub, pub):
            details = await asyncio.wait_for(asyncio.shield(s.left), SHUTDOWN_BOUND)
            assert details.reason == "wamp.close.system_shutdown", details
        got = [a[0] for a in inbox.args]
        assert got == list(range(len(got))), "events out of order or missing before shutdown"
        rc = await asyncio.to_thread(router.proc.wait, SHUTDOWN_BOUND)
        assert rc in clean_exit_codes(), (rc, router.log()[-3000:])

    run(body(), timeout=SHUTDOWN_BOUND * 3)


def test_sigterm_without_clients_exits_promptly(router_factory):
    router = router_factory()
    rc, took = router.stop(SHUTDOWN_BOUND)
    print(f"\nrouter exited {rc} {took:.2f}s after SIGTERM ({ROUTER_KIND})")
    assert rc in clean_exit_codes(), (rc, router.log()[-3000:])
