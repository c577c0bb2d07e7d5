"""Faults of the PostgreSQL bridge: PostgreSQL restarted while the bridge publishes, and the
bridge's node SIGKILLed and restarted while it publishes. Every committed event reaches the
subscriber, in commit order; a redelivery (the documented at-least-once case) carries the
outbox id it had. A call SQL queued that was running when the node was killed is finished
as failed (ringbar.error.bridge_lost), never performed twice. The bridge runs in a node of
its own, joined by URL to a router node that the subscriber stays connected to."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import (
    ANSI, FEATURE_CORES, IO_BACKENDS, RINGBAR_BIN, ROUTER_KIND, RouterProcess, RouterSetting,
)
from authconfig import started_router
from conftest import _finish, _start_or_fail, router_config
from postgres import postgres  # noqa: F401  (the fixture)
from wampclient import close_all, connect, subscribe

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(ROUTER_KIND != "ringbar", reason="the PostgreSQL bridge is ringbar's"),
]

T = 30
DB = "faults"
TOPIC = "com.pg.stream"
EVENTS_PER_BATCH = 4000


class BridgeNode:
    """A ringbar node that is only a PostgreSQL bridge, joined to `router` by URL."""

    def __init__(self, router, postgres, credentials=None, **work):  # noqa: F811
        self.dir = Path(tempfile.mkdtemp(prefix="interop-pgbridge-"))
        config = {
            "version": 2,
            "workers": [{
                "type": "postgresql-bridge",
                "id": "pg1",
                "router": {"realm": "realm1", "url": router.ws_url, **(credentials or {})},
                "database": {**postgres.database_config(DB), "connect_timeout_ms": 2000},
                **(work or {"publisher": True}),
            }],
        }
        (self.dir / "config.json").write_text(json.dumps(config))
        self.proc = None
        self.log_path = self.dir / "node.log"

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [RINGBAR_BIN, "start", str(self.dir), "--loglevel", "info"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=dict(os.environ, NO_COLOR="1"), start_new_session=True)
        return self

    def log(self):
        return ANSI.sub("", self.log_path.read_text(errors="replace"))

    def wait_log(self, text, count=1, timeout=T):
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"bridge node exited {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} ({count}x) in the log:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                assert self.proc.wait(15) == 0, self.log()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def router():
    with tempfile.TemporaryDirectory(prefix="interop-pgrouter-") as d:
        r = RouterProcess(ROUTER_KIND, RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), d)
        _start_or_fail(r)
        yield r
        _finish(r)


@pytest.fixture
def bridge(router, postgres):  # noqa: F811
    postgres.create_database(DB)
    node = BridgeNode(router, postgres).start()
    node.wait_log("joined realm realm1")
    yield node
    node.stop()


def publish_batch(postgres, first, count):  # noqa: F811
    """Commits `count` events numbered from `first`, 500 per transaction."""
    for start in range(first, first + count, 500):
        n = min(500, first + count - start)
        postgres.sql(
            f"SELECT count(ringbar.publish('{TOPIC}', jsonb_build_array(i), NULL, "
            f"'{{\"outbox_id\": true}}')) FROM generate_series({start}, {start + n - 1}) i", DB)


def check_stream(inbox, total):
    """Every number 0..total-1 arrived, first arrivals in order; redeliveries carry the
    same outbox id as the first delivery."""
    first_seen = {}
    order = []
    for args, kwargs, _ in inbox.events:
        number = args[0]
        if number in first_seen:
            assert first_seen[number] == kwargs["outbox_id"], "a redelivery has another id"
            continue
        first_seen[number] = kwargs["outbox_id"]
        order.append(number)
    assert order == list(range(total)), f"missing or out of order: {sorted(set(range(total)) - set(order))[:10]}"


def numbers(inbox):
    return {e[0][0] for e in inbox.events}


def stream_through(router, postgres, fault, transport, serializer):  # noqa: F811
    """Commits two batches of events with `fault` between them, while the bridge publishes
    the first; every event must arrive."""

    async def body():
        subscriber = await connect(router, transport, serializer)
        _, inbox = await subscribe(subscriber, TOPIC)
        publish_batch(postgres, 0, EVENTS_PER_BATCH)
        await inbox.wait_for(lambda ev: len(ev) > 0, timeout=T)
        fault()
        await inbox.wait_for(lambda ev: len(numbers(inbox)) >= 2 * EVENTS_PER_BATCH,
                             timeout=T * 2, what="every event")
        check_stream(inbox, 2 * EVENTS_PER_BATCH)
        await close_all([subscriber])

    asyncio.run(asyncio.wait_for(body(), T * 4))


def test_postgresql_restarted_mid_stream_loses_no_committed_event(router, bridge, postgres):  # noqa: F811
    def fault():
        postgres.restart()
        publish_batch(postgres, EVENTS_PER_BATCH, EVENTS_PER_BATCH)

    stream_through(router, postgres, fault, "ws", "json")
    log = bridge.log()
    assert "cannot work with PostgreSQL app@127.0.0.1" in log, log
    assert "is reachable again" in log, log


def test_bridge_node_killed_mid_stream_loses_no_committed_event(router, bridge, postgres):  # noqa: F811
    def fault():
        bridge.kill()
        publish_batch(postgres, EVENTS_PER_BATCH, EVENTS_PER_BATCH)
        bridge.start()

    stream_through(router, postgres, fault, "rs", "msgpack")


def test_a_call_running_when_the_node_is_killed_fails_and_is_not_performed_again(
        router, postgres):  # noqa: F811
    postgres.create_database(DB)
    node = BridgeNode(router, postgres, caller=True).start()
    invoked = []

    async def body():
        callee = await connect(router, "rs", "json")

        def hang(n):
            invoked.append(n)
            # never answered: the call runs until its caller goes
            return asyncio.get_running_loop().create_future()

        await callee.register(hang, "com.pg.hang")
        node.wait_log("(caller) joined realm realm1")
        listener = postgres.background(
            "LISTEN ringbar_call_done;\nSELECT pg_sleep(8);\nSELECT 1;\n", DB)
        call = postgres.sql("SELECT ringbar.call('com.pg.hang', '[1]')", DB)
        await asyncio.to_thread(
            postgres.wait_for, f"SELECT state FROM ringbar.calls WHERE id = {call}",
            "running", DB, T)
        assert invoked == [1]
        node.kill()
        node.start()
        await asyncio.to_thread(
            postgres.wait_for, f"SELECT state, error FROM ringbar.call_result({call})",
            "failed|ringbar.error.bridge_lost", DB, T)
        await asyncio.to_thread(node.wait_log, "(caller) joined realm realm1", 2)
        # a later call is performed; the lost one never again
        later = postgres.sql("SELECT ringbar.call('com.pg.hang', '[2]')", DB)
        await asyncio.to_thread(
            postgres.wait_for, f"SELECT state FROM ringbar.calls WHERE id = {later}",
            "running", DB, T)
        assert invoked == [1, 2]
        await asyncio.to_thread(listener.wait, 15)
        out = listener.stdout.read()
        assert f'"ringbar_call_done" with payload "{call}"' in out, out
        await close_all([callee])

    try:
        asyncio.run(asyncio.wait_for(body(), T * 4))
        assert "marked failed (ringbar.error.bridge_lost)" in node.log(), node.log()
    finally:
        node.stop()


def test_the_bridge_joins_a_remote_router_with_wampcra(postgres):  # noqa: F811
    auth = {
        "anonymous": {"type": "static", "role": "anonymous"},
        "wampcra": {"type": "static", "users": {
            "pgbridge": {"secret": "s3cret", "role": "backend"},
            "salty": {"secret": "pepper", "role": "user", "salt": "salt123",
                      "iterations": 100, "keylen": 32},
        }},
    }
    roles = ["anonymous", "backend", "user"]
    realm = {"name": "realm1", "roles": [
        {"name": role, "permissions": [{"uri": "", "match": "prefix", "allow": {
            "call": True, "register": True, "publish": True, "subscribe": True}}]}
        for role in roles]}
    postgres.create_database(DB)
    with started_router(RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), auth, [realm]) as router:
        for authid, secret, role in [("pgbridge", "s3cret", "backend"), ("salty", "pepper", "user")]:
            node = BridgeNode(router, postgres, {"authid": authid, "secret": secret},
                              publisher=True).start()
            try:
                node.wait_log(f"joined realm realm1 on {router.ws_url}")
                assert f"role {role})" in node.log(), node.log()

                async def body():
                    subscriber = await connect(router, "ws", "json")
                    _, inbox = await subscribe(subscriber, TOPIC)
                    postgres.sql(f"SELECT ringbar.publish('{TOPIC}', '[\"{authid}\"]')", DB)
                    await inbox.wait_count(1, timeout=T)
                    assert inbox.events[0][0] == [authid]
                    await close_all([subscriber])

                asyncio.run(asyncio.wait_for(body(), T))
            finally:
                node.stop()
        wrong = BridgeNode(router, postgres, {"authid": "pgbridge", "secret": "wrong"},
                           publisher=True).start()
        try:
            wrong.wait_log("cannot work with realm realm1")
            assert "joined realm" not in wrong.log()
        finally:
            wrong.stop()


def test_bad_credentials_are_logged_and_the_router_keeps_working(postgres):  # noqa: F811
    database = {k: v for k, v in postgres.database_config("app").items() if k != "password_env"}

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        config["workers"].append({
            "type": "postgresql-bridge", "id": "pg1", "router": {"realm": "realm1"},
            "database": {**database, "password": "wrong"}, "publisher": True,
        })
        return config

    with tempfile.TemporaryDirectory(prefix="interop-pgbad-") as d:
        r = RouterProcess(ROUTER_KIND, RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), d, make)
        _start_or_fail(r)
        deadline = time.monotonic() + T
        while 'password authentication failed for user "app"' not in r.log():
            assert time.monotonic() < deadline, r.log()
            time.sleep(0.1)
        assert "wrong" not in r.log()

        async def body():
            session = await connect(r, "ws", "json")
            _, inbox = await subscribe(session, "com.pg.alive")
            session.publish("com.pg.alive", 1, options=PublishOptions(exclude_me=False))
            await inbox.wait_count(1)
            await close_all([session])

        asyncio.run(asyncio.wait_for(body(), T))
        _finish(r)
