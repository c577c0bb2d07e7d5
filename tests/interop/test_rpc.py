"""Routed RPC with Autobahn|Python callers and callees: calls, results and application
errors across serializers and transports, the dealer's errors, shared and pattern-based
registrations, progressive results, cancel, timeout, and sessions leaving mid-call.

Callee and caller use different serializers and transports where the test allows, so
payloads are transcoded between them."""

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, RegisterOptions

from wampclient import COMBO_IDS, COMBOS, close_all, connect, run

pytestmark = pytest.mark.timeout(120)

T = 10  # seconds any single wait may take


def other(transport, serializer):
    """A (transport, serializer) different in both from the given one."""
    nxt = {"json": "msgpack", "msgpack": "cbor", "cbor": "json"}
    return ("rs" if transport == "ws" else "ws", nxt[serializer])


async def call(session, procedure, *args, **kwargs):
    return await asyncio.wait_for(session.call(procedure, *args, **kwargs), T)


async def call_error(session, procedure, *args, **kwargs):
    with pytest.raises(ApplicationError) as e:
        await call(session, procedure, *args, **kwargs)
    return e.value


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_call_result_and_application_error(router, transport, serializer, uid):
    async def body():
        callee = await connect(router, transport, serializer)
        caller = await connect(router, *other(transport, serializer))
        try:

            def add(a, b, scale=1):
                return (a + b) * scale

            def fail(*args, **kwargs):
                raise ApplicationError(f"com.{uid}.oops", *args, **kwargs)

            def echo(*args, **kwargs):
                from autobahn.wamp.types import CallResult

                return CallResult(*args, **kwargs)

            await callee.register(add, f"com.{uid}.add")
            await callee.register(fail, f"com.{uid}.fail")
            await callee.register(echo, f"com.{uid}.echo")
            assert await call(caller, f"com.{uid}.add", 2, 3) == 5
            assert await call(caller, f"com.{uid}.add", 2, 3, scale=10) == 50
            value = ["héllo", 1 << 53, -7, 1.5, None, True, {"k": [1, 2]}]
            r = await call(caller, f"com.{uid}.echo", *value, kw="x")
            assert list(r.results) == value and r.kwresults == {"kw": "x"}
            e = await call_error(caller, f"com.{uid}.fail", 1, "two", three=3)
            assert e.error == f"com.{uid}.oops"
            assert list(e.args) == [1, "two"] and e.kwargs == {"three": 3}
        finally:
            await close_all([callee, caller])

    run(body())


def test_dealer_errors(router, uid):
    async def body():
        a = await connect(router, "ws", "json")
        b = await connect(router, "rs", "msgpack")
        try:
            e = await call_error(a, f"com.{uid}.nobody")
            assert e.error == "wamp.error.no_such_procedure"
            reg = await a.register(lambda: 1, f"com.{uid}.p")
            with pytest.raises(ApplicationError) as e:
                await b.register(lambda: 2, f"com.{uid}.p")
            assert e.value.error == "wamp.error.procedure_already_exists"
            assert await call(b, f"com.{uid}.p") == 1
            await reg.unregister()
            e = await call_error(b, f"com.{uid}.p")
            assert e.error == "wamp.error.no_such_procedure"
            # the wamp. namespace is the router's
            with pytest.raises(ApplicationError) as e:
                await a.register(lambda: 1, "wamp.session.count")
            assert e.value.error == "wamp.error.invalid_uri"
            # shared registrations must agree on the invocation policy
            await a.register(lambda: 1, f"com.{uid}.s", options=RegisterOptions(invoke="roundrobin"))
            with pytest.raises(ApplicationError) as e:
                await b.register(lambda: 2, f"com.{uid}.s", options=RegisterOptions(invoke="random"))
            assert e.value.error == "wamp.error.procedure_exists_with_different_invocation_policy"
            with pytest.raises(ApplicationError) as e:
                await b.register(lambda: 2, f"com.{uid}.s")
            assert e.value.error == "wamp.error.procedure_exists_with_different_invocation_policy"
        finally:
            await close_all([a, b])

    run(body())


def test_register_and_call_need_permission(router, uid):
    async def body():
        s = await connect(router, "ws", "cbor", realm="restricted")
        try:
            with pytest.raises(ApplicationError) as e:
                await s.register(lambda: 1, f"com.allowed.{uid}")
            assert e.value.error == "wamp.error.not_authorized"
            e = await call_error(s, f"com.allowed.{uid}")
            assert e.error == "wamp.error.not_authorized"
        finally:
            await s.close()

    run(body())


@pytest.mark.parametrize("policy", ["roundrobin", "first", "last", "random"])
def test_shared_registration(router, uid, policy):
    async def body():
        callees = [await connect(router, *COMBOS[i]) for i in range(3)]
        caller = await connect(router, "rs", "cbor")
        try:
            for n, c in enumerate(callees):
                await c.register(
                    lambda n=n: n, f"com.{uid}.shared", options=RegisterOptions(invoke=policy)
                )
            got = [await call(caller, f"com.{uid}.shared") for _ in range(12)]
            if policy == "roundrobin":
                assert got == [0, 1, 2] * 4
            elif policy == "first":
                assert got == [0] * 12
            elif policy == "last":
                assert got == [2] * 12
            else:
                assert set(got) <= {0, 1, 2}
                more = [await call(caller, f"com.{uid}.shared") for _ in range(30)]
                assert len(set(got + more)) > 1, "random picked one callee 42 times"
            # the first callee leaves: the others still serve the procedure
            await callees[0].close()
            rest = {await call(caller, f"com.{uid}.shared") for _ in range(6)}
            assert rest <= {1, 2} and rest
        finally:
            await close_all(callees + [caller])

    run(body())


def test_pattern_based_registration(router, uid):
    async def body():
        callee = await connect(router, "ws", "msgpack")
        caller = await connect(router, "rs", "json")
        try:

            def which(name):
                def handler(details=None):
                    return [name, details.procedure]

                return handler

            opts = lambda match: RegisterOptions(match=match, details_arg="details")  # noqa: E731
            await callee.register(which("exact"), f"com.{uid}.a.b", options=opts("exact"))
            await callee.register(which("short"), f"com.{uid}.a", options=opts("prefix"))
            await callee.register(which("long"), f"com.{uid}.a.b", options=opts("prefix"))
            await callee.register(which("wild"), f"com.{uid}..x", options=opts("wildcard"))
            assert (await call(caller, f"com.{uid}.a.b"))[0] == "exact"
            assert await call(caller, f"com.{uid}.a.b.c") == ["long", f"com.{uid}.a.b.c"]
            assert await call(caller, f"com.{uid}.a.c") == ["short", f"com.{uid}.a.c"]
            assert await call(caller, f"com.{uid}.q.x") == ["wild", f"com.{uid}.q.x"]
        finally:
            await close_all([callee, caller])

    run(body())


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_progressive_call_results(router, transport, serializer, uid):
    async def body():
        callee = await connect(router, transport, serializer)
        caller = await connect(router, *other(transport, serializer))
        try:

            async def count(n, details=None):
                for i in range(n):
                    details.progress(i, half=i / 2)
                    await asyncio.sleep(0)
                return "done"

            await callee.register(
                count, f"com.{uid}.count", options=RegisterOptions(details_arg="details")
            )
            progress = []
            r = await call(
                caller,
                f"com.{uid}.count",
                5,
                options=CallOptions(on_progress=lambda i, half: progress.append((i, half))),
            )
            assert r == "done"
            assert progress == [(i, i / 2) for i in range(5)]
        finally:
            await close_all([callee, caller])

    run(body())


async def blocking_callee(router, uid, transport="ws", serializer="json"):
    """A callee whose procedure waits until interrupted; returns (session, interrupted)."""
    callee = await connect(router, transport, serializer)
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    interrupted = loop.create_future()

    async def wait():
        started.done() or started.set_result(True)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            interrupted.done() or interrupted.set_result(True)
            raise
        return "finished"

    await callee.register(wait, f"com.{uid}.wait")
    return callee, started, interrupted


def test_cancel_interrupts_the_callee(router, uid):
    async def body():
        callee, started, interrupted = await blocking_callee(router, uid)
        caller = await connect(router, "rs", "msgpack")
        try:
            pending = asyncio.ensure_future(caller.call(f"com.{uid}.wait"))
            await asyncio.wait_for(started, T)
            pending.cancel()
            await asyncio.wait_for(interrupted, T)
            # the session goes on
            await callee.register(lambda: 7, f"com.{uid}.after")
            assert await call(caller, f"com.{uid}.after") == 7
        finally:
            await close_all([callee, caller])

    run(body())


@pytest.mark.crossbar_differs(
    "Crossbar.io reads CALL.Options.timeout in seconds and answers wamp.error.canceled"
)
def test_call_timeout_is_enforced_by_the_dealer(router, uid):
    async def body():
        callee, started, interrupted = await blocking_callee(router, uid, "rs", "cbor")
        caller = await connect(router, "ws", "json")
        try:
            assert caller.welcome.roles["dealer"].call_timeout is True
            e = await call_error(caller, f"com.{uid}.wait", options=CallOptions(timeout=200))
            assert e.error == "wamp.error.timeout"
            await asyncio.wait_for(interrupted, T)
        finally:
            await close_all([callee, caller])

    run(body())


def test_callee_leaving_mid_call_fails_the_call(router, uid):
    async def body():
        callee, started, _ = await blocking_callee(router, uid)
        caller = await connect(router, "rs", "json")
        try:
            pending = asyncio.ensure_future(caller.call(f"com.{uid}.wait"))
            await asyncio.wait_for(started, T)
            await callee.close()
            with pytest.raises(ApplicationError) as e:
                await asyncio.wait_for(pending, T)
            assert e.value.error == "wamp.error.canceled"
            e = await call_error(caller, f"com.{uid}.wait")
            assert e.error == "wamp.error.no_such_procedure"
        finally:
            await close_all([callee, caller])

    run(body())


def test_caller_leaving_mid_call_interrupts_the_callee(router, uid):
    async def body():
        callee, started, interrupted = await blocking_callee(router, uid, "rs", "msgpack")
        caller = await connect(router, "ws", "cbor")
        try:
            asyncio.ensure_future(caller.call(f"com.{uid}.wait"))
            await asyncio.wait_for(started, T)
            await caller.close()
            await asyncio.wait_for(interrupted, T)
        finally:
            await close_all([callee, caller])

    run(body())


def test_many_callers_one_callee(router, uid):
    """Callers on every transport and serializer (with two router cores, on both cores)
    calling one callee concurrently: every call gets its own answer."""

    async def body():
        callee = await connect(router, "ws", "msgpack")
        callers = [await connect(router, *COMBOS[i % 6]) for i in range(12)]
        try:

            async def square(x):
                await asyncio.sleep(0.001)
                return x * x

            await callee.register(square, f"com.{uid}.square")

            async def run_caller(k, c):
                xs = range(k * 100, k * 100 + 25)
                got = await asyncio.gather(*(c.call(f"com.{uid}.square", x) for x in xs))
                assert got == [x * x for x in xs]

            await asyncio.wait_for(
                asyncio.gather(*(run_caller(k, c) for k, c in enumerate(callers))), 30
            )
        finally:
            await close_all([callee] + callers)

    run(body())
