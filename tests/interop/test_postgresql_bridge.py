"""The PostgreSQL bridge (`"type": "postgresql-bridge"`) against a private PostgreSQL
cluster (tests/interop/postgres.py) with Autobahn|Python clients: transactions publish
(committed ones in commit order, rolled-back ones never), SQL functions answer calls (args,
kwargs, every result shape, SQL errors, wrong arguments, timeouts and cancels), events fill
a table through a subscription, and SQL calls an Autobahn callee.

The router is not under test here (the bridge is a client of it): one I/O backend is
enough."""

import asyncio
import json
import subprocess
import tempfile
import time

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions

from conftest import (
    FEATURE_CORES, IO_BACKENDS, RINGBAR_BIN, ROUTER_KIND, RouterProcess, RouterSetting,
)
from conftest import _finish, _start_or_fail, router_config
from postgres import postgres  # noqa: F401  (the fixture)
from wampclient import close_all, connect, subscribe

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(ROUTER_KIND != "ringbar", reason="the PostgreSQL bridge is ringbar's"),
]

T = 30  # seconds the bridge may take to install its schema and join
DB = "bridge"

FUNCTIONS = """
CREATE SCHEMA api;
CREATE FUNCTION public.add2(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql AS 'SELECT a + b';
CREATE FUNCTION api.greet(name text) RETURNS text LANGUAGE sql AS $$SELECT 'hello ' || name$$;
CREATE TYPE api.pair AS (x integer, label text);
CREATE FUNCTION api.pair(x integer) RETURNS api.pair LANGUAGE sql AS $$SELECT x, 'n' || x$$;
CREATE FUNCTION api.series(n integer) RETURNS SETOF integer
    LANGUAGE sql AS 'SELECT generate_series(1, n)';
CREATE FUNCTION api.squares(n integer) RETURNS TABLE (i integer, sq bigint)
    LANGUAGE sql AS 'SELECT g, g * g FROM generate_series(1, n) g';
CREATE FUNCTION api.nothing() RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION api.types() RETURNS TABLE (n numeric, t timestamptz, u uuid, b bytea, a text[], j jsonb)
    LANGUAGE sql AS $$SELECT 1.50, '2024-01-02T03:04:05Z'::timestamptz,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '\\x0102'::bytea, ARRAY['x', 'y'], '{"k": [1]}'::jsonb$$;
CREATE FUNCTION api.fail() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'no luck' USING DETAIL = 'the detail', HINT = 'the hint', ERRCODE = '22012';
END $$;
CREATE FUNCTION api.slow(seconds float) RETURNS integer
    LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(seconds)';
CREATE SEQUENCE public.locked_runs;
CREATE FUNCTION api.locked() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('public.locked_runs');  -- not rolled back: counts every run
    PERFORM pg_advisory_xact_lock(4242);
    RETURN 7;
END $$;
CREATE FUNCTION api.whoami() RETURNS text[] LANGUAGE sql AS $$SELECT ARRAY[
    current_setting('ringbar.caller_authid', true),
    current_setting('ringbar.caller_authrole', true),
    current_setting('ringbar.caller_session', true)]$$;
CREATE TYPE api.who AS (authid text, x integer);
CREATE FUNCTION api.whoami_row(x integer) RETURNS api.who LANGUAGE plpgsql AS $$
BEGIN
    RETURN (current_setting('ringbar.caller_authid', true), x);
END $$;
CREATE FUNCTION api.whoami_set(n integer) RETURNS TABLE (authid text, i integer)
    LANGUAGE sql AS $$SELECT current_setting('ringbar.caller_authid', true), g
        FROM generate_series(1, n) g$$;
CREATE FUNCTION api.over(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a';
CREATE FUNCTION api.over(a text) RETURNS text LANGUAGE sql AS 'SELECT a';
CREATE TABLE sensor_events (topic text, args jsonb, kwargs jsonb, publisher jsonb);
CREATE FUNCTION public.on_sensor(topic text, args jsonb, kwargs jsonb, details jsonb) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF args ->> 0 = 'poison' THEN
        RAISE EXCEPTION 'poisoned event' USING ERRCODE = '22023';
    END IF;
    INSERT INTO sensor_events VALUES (topic, args, kwargs, details -> 'publisher');
END $$;
"""


def bridge_worker(postgres, **extra):
    worker = {
        "type": "postgresql-bridge",
        "id": "pg1",
        "router": {"realm": "realm1", "authid": "pgbridge"},
        "database": postgres.database_config(DB),
        "publisher": True,
        "procedures": [
            {"procedure": "com.example.add2", "function": "public.add2"},
            {"prefix": "com.example.api.", "schema": "api"},
        ],
        "subscriptions": [
            {"topic": "com.example.sensor.", "match": "prefix", "function": "public.on_sensor"}
        ],
        "caller": True,
    }
    worker.update(extra)
    return worker


@pytest.fixture(scope="module")
def node(postgres):  # noqa: F811
    """A ringbar node that is router and PostgreSQL bridge, on a fresh database."""
    postgres.create_database(DB)
    postgres.sql(FUNCTIONS, DB)

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        config["workers"].append(bridge_worker(postgres))
        return config

    with tempfile.TemporaryDirectory(prefix="interop-pg-") as d:
        r = RouterProcess(ROUTER_KIND, RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), d, make)
        _start_or_fail(r)
        postgres.wait_for("SELECT to_regproc('ringbar.publish') IS NOT NULL", "t", DB, T)
        yield r
        _finish(r)


def run(coro, timeout=T * 4):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def call_when_registered(caller, procedure, *args, **kwargs):
    deadline = time.monotonic() + T
    while True:
        try:
            return await caller.call(procedure, *args, **kwargs)
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_committed_events_arrive_in_commit_order_rolled_back_never(node, postgres):  # noqa: F811
    async def body():
        subscriber = await connect(node, "ws", "json")
        _, inbox = await subscribe(subscriber, "com.pg.order.", match="prefix")
        # an earlier transaction that commits later goes out later
        slow = postgres.background(
            "BEGIN; SELECT ringbar.publish('com.pg.order.a', '[\"late\"]'); "
            "SELECT pg_sleep(1); COMMIT;", DB)
        await asyncio.sleep(0.3)
        postgres.sql(
            "BEGIN; SELECT ringbar.publish('com.pg.order.a', '[1]', '{\"k\": \"v\"}');"
            "SELECT ringbar.publish('com.pg.order.b', '[2]'); COMMIT;"
            "BEGIN; SELECT ringbar.publish('com.pg.order.a', '[\"never\"]'); ROLLBACK;"
            "SELECT ringbar.publish('com.pg.order.c', '[3]', NULL, '{\"outbox_id\": true}');", DB)
        assert slow.wait(10) == 0, slow.stderr.read()
        await inbox.wait_count(4, timeout=T)
        await asyncio.sleep(0.5)
        assert [e[0] for e in inbox.events] == [[1], [2], [3], ["late"]]
        assert inbox.events[0][1] == {"k": "v"}
        assert inbox.events[0][2].topic == "com.pg.order.a"
        outbox_id = inbox.events[2][1]["outbox_id"]
        assert isinstance(outbox_id, int) and outbox_id > 0
        assert postgres.sql("SELECT count(*) FROM ringbar.outbox", DB) == "0"
        await close_all([subscriber])

    run(body())


def test_publish_checks_topics_and_payloads_in_sql(node, postgres):  # noqa: F811
    for query, message in [
        ("SELECT ringbar.publish('wamp.session.x')", "reserved"),
        ("SELECT ringbar.publish('com..bad')", "not a valid WAMP URI"),
        ("SELECT ringbar.publish('com.ok', '{\"a\": 1}')", "args must be a JSON array"),
        ("SELECT ringbar.publish('com.ok', NULL, '[1]')", "kwargs must be a JSON object"),
    ]:
        done = postgres.sql(query, DB, check=False)
        assert done.returncode != 0 and message in done.stderr, (query, done.stderr)
    # a large event: no NOTIFY payload limit applies
    big = "x" * 100_000
    async def body():
        subscriber = await connect(node, "rs", "msgpack")
        _, inbox = await subscribe(subscriber, "com.pg.big")
        postgres.sql(f"SELECT ringbar.publish('com.pg.big', jsonb_build_array('{big}'))", DB)
        await inbox.wait_count(1, timeout=T)
        assert inbox.events[0][0] == [big]
        await close_all([subscriber])

    run(body())


def test_an_outbox_row_the_router_cannot_take_is_dropped_alone(node, postgres):  # noqa: F811
    # Rows written into the outbox past ringbar.publish: args an object, args nested deeper
    # than a WAMP message may be, kwargs a string; the event after them goes out, to a
    # subscriber of another serializer (the rows' JSON text is transcoded once).
    deep = "[" * 70 + "]" * 70

    async def body():
        subscriber = await connect(node, "ws", "cbor")
        _, inbox = await subscribe(subscriber, "com.pg.raw")
        dropped = bridge_status(node)["dropped_failed"]
        postgres.sql(
            "BEGIN;"
            "INSERT INTO ringbar.outbox (topic, args) VALUES ('com.pg.raw', '{\"a\": 1}');"
            f"INSERT INTO ringbar.outbox (topic, args) VALUES ('com.pg.raw', '{deep}');"
            "INSERT INTO ringbar.outbox (topic, kwargs) VALUES ('com.pg.raw', '\"s\"');"
            "SELECT ringbar.publish('com.pg.raw', '[\"after\", 2]', '{\"k\": [1.5, null]}');"
            "COMMIT;", DB)
        await inbox.wait_count(1, timeout=T)
        assert inbox.events[0][0] == ["after", 2]
        assert inbox.events[0][1] == {"k": [1.5, None]}
        postgres.wait_for("SELECT count(*) FROM ringbar.outbox", "0", DB, T)
        assert bridge_status(node)["dropped_failed"] == dropped + 3
        await close_all([subscriber])

    run(body())
    log = node.log()
    assert "cannot be published (args must be a JSON array, not an object); dropped" in log
    assert "nests deeper than 64 levels); dropped" in log
    assert "cannot be published (kwargs must be a JSON object, not a string); dropped" in log


def test_sql_functions_answer_calls_in_every_shape(node, postgres):  # noqa: F811
    async def body():
        caller = await connect(node, "ws", "cbor")
        assert await call_when_registered(caller, "com.example.add2", 1, 2) == 3
        assert await caller.call("com.example.add2", 5) == 6
        assert await caller.call("com.example.add2", a=5, b=6) == 11
        assert await caller.call("com.example.add2", 1, b=10) == 11
        assert await call_when_registered(caller, "com.example.api.greet", "ann") == "hello ann"
        assert await caller.call("com.example.api.pair", 7) == {"x": 7, "label": "n7"}
        assert await caller.call("com.example.api.series", 3) == [1, 2, 3]
        assert await caller.call("com.example.api.squares", 2) == [
            {"i": 1, "sq": 1}, {"i": 2, "sq": 4}]
        assert await caller.call("com.example.api.nothing") is None
        assert await caller.call("com.example.api.types") == [{
            "n": 1.5, "t": "2024-01-02T03:04:05+00:00",
            "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "b": "\\x0102",
            "a": ["x", "y"], "j": {"k": [1]}}]
        authid, authrole, session = await caller.call("com.example.api.whoami")
        joined = caller.joined.result()
        assert (authid, authrole, int(session)) == (joined.authid, joined.authrole, joined.session)
        # the identity is set before the function runs, whatever its shape
        assert await caller.call("com.example.api.whoami_row", 4) == {"authid": authid, "x": 4}
        assert await caller.call("com.example.api.whoami_set", 2) == [
            {"authid": authid, "i": 1}, {"authid": authid, "i": 2}]
        # an overloaded function is not registered
        with pytest.raises(ApplicationError) as e:
            await caller.call("com.example.api.over", 1)
        assert e.value.error == "wamp.error.no_such_procedure"
        await close_all([caller])

    run(body())
    assert "com.example.api.over is not registered: api.over is overloaded" in node.log()


def test_sql_errors_and_wrong_arguments_are_wamp_errors(node, postgres):  # noqa: F811
    async def body():
        caller = await connect(node, "rs", "json")
        with pytest.raises(ApplicationError) as e:
            await call_when_registered(caller, "com.example.api.fail")
        assert e.value.error == "ringbar.error.postgresql"
        assert e.value.kwargs == {
            "sqlstate": "22012", "message": "no luck", "detail": "the detail", "hint": "the hint"}
        for args, kwargs, says in [
            ((), {}, '"a" is missing'),
            ((True,), {}, 'parameter "a" takes integer, not a bool'),
            ((1, 2, 3), {}, "at most 2 positional"),
            ((1,), {"c": 1}, 'no parameter "c"'),
        ]:
            with pytest.raises(ApplicationError) as e:
                await caller.call("com.example.add2", *args, **kwargs)
            assert e.value.error == "wamp.error.invalid_argument", e.value
            assert says in e.value.args[0], e.value.args
        # a number out of the type's range is PostgreSQL's error
        with pytest.raises(ApplicationError) as e:
            await caller.call("com.example.add2", 2**40)
        assert (e.value.error, e.value.kwargs["sqlstate"]) == ("ringbar.error.postgresql", "22003")
        await close_all([caller])

    run(body())


RUNNING_SLEEPS = (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
    "AND query LIKE '%api\"%slow%' AND pid <> pg_backend_pid()")


def running_sleeps(postgres):  # noqa: F811
    return postgres.sql(RUNNING_SLEEPS, DB)


def test_timeouts_and_cancels_cancel_the_statement(node, postgres):  # noqa: F811
    async def body():
        caller = await connect(node, "ws", "json")
        await call_when_registered(caller, "com.example.api.slow", 0)
        started = time.monotonic()
        with pytest.raises(ApplicationError) as e:
            await caller.call("com.example.api.slow", 30, options=CallOptions(timeout=300))
        assert e.value.error in ("wamp.error.timeout", "wamp.error.canceled"), e.value
        assert time.monotonic() - started < 10
        call = asyncio.ensure_future(caller.call("com.example.api.slow", 30))
        await asyncio.sleep(0.5)
        assert running_sleeps(postgres) == "1"
        call.cancel()
        with pytest.raises((asyncio.CancelledError, ApplicationError)):
            await call
        await close_all([caller])

    run(body())
    postgres.wait_for(RUNNING_SLEEPS, "0", DB, 10)


@pytest.fixture(scope="module")
def one_connection_node(node, postgres):  # noqa: F811
    """A second node whose bridge has one connection (on `node`'s database), so
    that calls share it: their statements wait behind each other."""
    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        database = dict(postgres.database_config(DB), pool_size=1)
        config["workers"].append(
            bridge_worker(postgres, database=database, publisher=False, subscriptions=[],
                          caller=False))
        return config

    with tempfile.TemporaryDirectory(prefix="interop-pg-one-") as d:
        r = RouterProcess(ROUTER_KIND, RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), d, make)
        _start_or_fail(r)
        yield r
        _finish(r)


def test_a_cancel_reaches_only_the_statement_of_its_call(one_connection_node, postgres):  # noqa: F811
    """Calls share the bridge's one connection, the first waiting for a lock: cancelling
    the second call never cancels the first one's statement (a cancel request cancels
    whatever the connection runs; the bridge would run it again), and the second's
    statement does not run on."""
    holder = postgres.background("SELECT pg_advisory_lock(4242);\nSELECT pg_sleep(3);\n", DB)
    try:
        postgres.wait_for(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
            "AND granted", "1", DB)

        async def body():
            caller = await connect(one_connection_node, "ws", "json")
            await call_when_registered(caller, "com.example.api.slow", 0)
            first = asyncio.ensure_future(caller.call("com.example.api.locked"))
            second = asyncio.ensure_future(caller.call("com.example.api.slow", 30))
            await asyncio.sleep(0.5)
            second.cancel()
            with pytest.raises((asyncio.CancelledError, ApplicationError)):
                await second
            assert await first == 7
            await close_all([caller])

        run(body())
    finally:
        holder.wait(timeout=30)
    assert postgres.sql("SELECT last_value FROM public.locked_runs", DB) == "1", \
        "the first call's statement was cancelled and ran again"
    postgres.wait_for(RUNNING_SLEEPS, "0", DB, 10)


def test_a_subscription_fills_a_table(node, postgres):  # noqa: F811
    async def body():
        publisher = await connect(node, "ws", "msgpack")
        deadline = time.monotonic() + T
        while postgres.sql("SELECT count(*) FROM sensor_events", DB) == "0":
            assert time.monotonic() < deadline, "no event reached the table"
            publisher.publish("com.example.sensor.probe", 0)
            await asyncio.sleep(0.2)
        postgres.sql("DELETE FROM sensor_events", DB)
        for i in range(50):
            publisher.publish("com.example.sensor.t1", i, unit="C")
        postgres.wait_for("SELECT count(*) FROM sensor_events", "50", DB, T)
        rows = postgres.sql(
            "SELECT topic, args, kwargs FROM sensor_events ORDER BY (args->>0)::int LIMIT 2", DB)
        assert rows.splitlines() == [
            'com.example.sensor.t1|[0]|{"unit": "C"}', 'com.example.sensor.t1|[1]|{"unit": "C"}']
        await close_all([publisher])

    run(body())


def bridge_status(node):
    status = subprocess.run([RINGBAR_BIN, "status", str(node.dir), "--json"],
                            capture_output=True, text=True, check=True).stdout
    return json.loads(status)["bridges"][0]


def test_an_event_its_function_refuses_is_dropped_alone(node, postgres):  # noqa: F811
    async def body():
        publisher = await connect(node, "rs", "json")
        deadline = time.monotonic() + T
        while postgres.sql("SELECT count(*) FROM sensor_events", DB) == "0":
            assert time.monotonic() < deadline, "no event reached the table"
            publisher.publish("com.example.sensor.probe", 0)
            await asyncio.sleep(0.2)
        postgres.sql("DELETE FROM sensor_events", DB)
        dropped = bridge_status(node)["dropped_failed"]
        # one burst: the poisoned events share batches with good ones
        for i in range(300):
            publisher.publish("com.example.sensor.t2", "poison" if i % 100 == 50 else i)
        postgres.wait_for("SELECT count(*) FROM sensor_events", "297", DB, T)
        await asyncio.sleep(0.5)
        assert postgres.sql("SELECT count(*) FROM sensor_events", DB) == "297"
        assert bridge_status(node)["dropped_failed"] == dropped + 3
        await close_all([publisher])

    run(body())
    assert "a subscription function failed (poisoned event (SQLSTATE 22023))" in node.log()


def test_sql_calls_an_autobahn_callee(node, postgres):  # noqa: F811
    async def body():
        callee = await connect(node, "rs", "cbor")
        await callee.register(lambda a, b, scale=1: a * b * scale, "com.example.mul")
        listener = postgres.background(
            "LISTEN ringbar_call_done;\nSELECT pg_sleep(4);\nSELECT 1;\n", DB)
        await asyncio.sleep(0.5)
        first = postgres.sql("SELECT ringbar.call('com.example.mul', '[3, 4]', '{\"scale\": 2}')", DB)
        missing = postgres.sql("SELECT ringbar.call('com.example.missing')", DB)
        # in a thread: the callee answers on this event loop meanwhile
        await asyncio.to_thread(
            postgres.wait_for, f"SELECT state, args FROM ringbar.call_result({first})",
            "done|[24]", DB, T)
        await asyncio.to_thread(
            postgres.wait_for, f"SELECT state, error FROM ringbar.call_result({missing})",
            "failed|wamp.error.no_such_procedure", DB, T)
        await asyncio.to_thread(listener.wait, 10)
        out = listener.stdout.read()
        assert f'"ringbar_call_done" with payload "{first}"' in out, out
        # rolled back: never performed
        postgres.sql("BEGIN; SELECT ringbar.call('com.example.mul', '[1, 1]'); ROLLBACK;", DB)
        bad = postgres.sql("SELECT ringbar.call('wamp.x')", DB, check=False)
        assert bad.returncode != 0 and "reserved" in bad.stderr
        await close_all([callee])

    run(body())


def test_the_printed_schema_installs_and_installs_again(postgres):  # noqa: F811
    schema = subprocess.run([RINGBAR_BIN, "sql", "schema"], capture_output=True, text=True,
                            check=True).stdout
    name = postgres.create_database("printed_schema")
    for _ in range(2):
        postgres.sql(schema, name)
    assert postgres.sql("SELECT max(version) FROM ringbar.migrations", name) == "3"
    postgres.sql("BEGIN; SELECT ringbar.publish('com.example.x'); COMMIT;", name)
    assert postgres.sql("SELECT count(*) FROM ringbar.outbox WHERE seq IS NOT NULL", name) == "1"
