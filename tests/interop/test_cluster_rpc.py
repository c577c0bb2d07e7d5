"""Cluster mode (`ringbar.cluster`): remote procedure calls across nodes, as real
Autobahn|Python clients (and raw peers for what Autobahn does not send: disclose_me,
disclose_caller, CANCEL modes) see them. Three nodes node-0..node-2 share realm1 through
NATS (the `cluster` fixture in conftest.py); the callee is on node 1 unless a test says
otherwise.

What the tests hold the cluster to:
- a procedure registered on one node can be called from every node: RESULT with its
  arguments intact (JSON, MessagePack and CBOR callers, the callee on another serializer),
  application errors with their URI and payload, progressive results in order;
- a registration is effective cluster-wide after a short propagation delay: after
  REGISTERED, a caller on another node calls (every INTERVAL s, for up to CONVERGE s) while
  the answer is wamp.error.no_such_procedure, then checks what it means to on fresh calls;
  every call is answered (within T s), those made before the registration reached the
  caller's node included;
- caller disclosure (disclose_me on CALL, disclose_caller on REGISTER) gives the callee the
  caller's session id, authid and authrole on its own node;
- a `single` registration is unique cluster-wide and claimed atomically: while node 1 holds
  it, a REGISTER on any other node is refused at once (procedure_already_exists); once it is
  gone, another node can claim it (after a short delay);
- shared registrations (roundrobin) span the nodes: calls from one node reach every callee;
- the caller's call timeout (wamp.error.timeout, as on one node), CANCEL in every mode
  (skip, kill, killnowait) and Autobahn's own cancel work across nodes, the callee getting
  the INTERRUPT where the mode says so;
- a callee's node killed (SIGKILL) fails the calls in flight to it (wamp.error.canceled)
  within the failure timeout, and its registrations go: the procedure can be registered
  again elsewhere;
- an UNREGISTER, or a callee leaving, is effective cluster-wide after a short delay;
- progressive call invocations cross nodes: every part of a call reaches, in order, the
  callee (and so the node) that got its first part, under one INVOCATION request id, with
  the first CALL's options; a callee that does not announce the feature is refused at once
  (feature_not_supported);
- payload passthru in calls: ppt_* options and the opaque payload cross as they are, both
  ways;
- a caller leaving (GOODBYE or its connection dropped) with a call in flight to another
  node: the callee gets an INTERRUPT (killnowait) if it announced call_canceling, nothing
  otherwise, and the next call works.
"""

import asyncio
import select
import time
from collections import Counter

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, CallResult, RegisterOptions

from rawwamp import ERROR, GOODBYE
from test_cluster import CONVERGE, FAILURE_TIMEOUT_MS, HEARTBEAT_MS, INTERVAL
from test_pubsub import PAYLOAD_ARGS, PAYLOAD_KWARGS
from test_rpc import T, other
from test_rpc_raw import (
    CALL,
    CANCEL,
    INTERRUPT,
    INVOCATION,
    NO_CANCEL_ROLES,
    OPAQUE,
    OPAQUE_RESULT,
    PPT,
    RESULT,
    ROLES,
    SERIALIZERS,
    YIELD,
    nothing_within,
    peer,
    register,
)
from test_rpc_raw import expect as raw_expect
from test_rpc_raw import call as raw_call
from wampclient import close_all, connect, run, strict_equal

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.ringbar_only(reason="ringbar.cluster (NATS) is ringbar's"),
]

NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
ALREADY_EXISTS = "wamp.error.procedure_already_exists"
# how long a single registration that ended may still be held cluster-wide (s)
RELEASE = 5.0


def proc_for(uid, name):
    return f"com.cluster.rpc.{name}.{uid}"


# ------------------------------------------------------------ helpers (Autobahn peers)


async def call(session, procedure, *args, **kwargs):
    """A call answered within T s (a RESULT or an ERROR: an ApplicationError)."""
    try:
        return await asyncio.wait_for(session.call(procedure, *args, **kwargs), T)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"call of {procedure} from {session.label} got no answer (RESULT or ERROR) within {T}s"
        ) from None


async def call_error(session, procedure, *args, **kwargs):
    """A call that must fail; returns the ApplicationError."""
    try:
        r = await call(session, procedure, *args, **kwargs)
    except ApplicationError as e:
        return e
    raise AssertionError(f"call of {procedure} from {session.label} succeeded: {r!r}")


async def until_routed(caller, procedure, *args, timeout=CONVERGE, accept_error=False, **kwargs):
    """Calls `procedure` every INTERVAL s while the answer is wamp.error.no_such_procedure
    (the registration has not reached the caller's node yet); returns the first result (or,
    with `accept_error`, the first other ApplicationError). Fails after `timeout` s, or at
    once if a call gets no answer at all within T s."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    k = 0
    while True:
        k += 1
        try:
            return await call(caller, procedure, *args, **kwargs)
        except ApplicationError as e:
            if e.error != NO_SUCH_PROCEDURE:
                if accept_error:
                    return e
                raise
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"{procedure} not routed from {caller.label} within {timeout}s: {k} calls every"
                f" {INTERVAL}s, each answered {NO_SUCH_PROCEDURE}"
            )
        await asyncio.sleep(INTERVAL)


async def until_gone(caller, procedure, timeout=CONVERGE):
    """Calls `procedure` every INTERVAL s until the answer is wamp.error.no_such_procedure
    (results meanwhile are fine); returns the seconds it took."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while True:
        try:
            r = await call(caller, procedure)
        except ApplicationError as e:
            if e.error == NO_SUCH_PROCEDURE:
                return loop.time() - t0
            raise
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"{procedure} still routed from {caller.label} {timeout}s after it was"
                f" unregistered (last result {r!r})"
            )
        await asyncio.sleep(INTERVAL)


async def register_refused(session, procedure, where, **options):
    """A REGISTER that must be refused at once; returns the ApplicationError."""
    try:
        await asyncio.wait_for(
            session.register(lambda: where, procedure, options=RegisterOptions(**options)), T
        )
    except ApplicationError as e:
        return e
    raise AssertionError(
        f"REGISTER of {procedure} on {where} succeeded: a single registration held on another"
        " node must make it fail with " + ALREADY_EXISTS
    )


async def until_registered(session, endpoint, procedure, timeout=RELEASE):
    """REGISTERs (every INTERVAL s) while the answer is procedure_already_exists; returns
    the Registration."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while True:
        try:
            return await asyncio.wait_for(session.register(endpoint, procedure), T)
        except ApplicationError as e:
            if e.error != ALREADY_EXISTS:
                raise
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"REGISTER of {procedure} on {session.label} still refused with {ALREADY_EXISTS}"
                f" {timeout}s after the registration it collided with ended"
            )
        await asyncio.sleep(INTERVAL)


async def slow_callee(node, procedure, transport, serializer, seconds=30.0, label="callee"):
    """A callee on `node` whose `procedure` answers "pong" at once to "ping" (for the
    convergence loops) and otherwise sleeps `seconds` s. Returns (session, started,
    interrupted): futures set when a slow invocation starts and when it is interrupted."""
    callee = await connect(node, transport, serializer, label=label)
    loop = asyncio.get_running_loop()
    started, interrupted = loop.create_future(), loop.create_future()

    async def slow(what=None):
        if what == "ping":
            return "pong"
        started.done() or started.set_result(loop.time())
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            interrupted.done() or interrupted.set_result(loop.time())
            raise
        return "finished"

    await callee.register(slow, procedure)
    return callee, started, interrupted


# ------------------------------------------------------------ helpers (raw peers)


def expect(p, msg_type):
    """The next message of raw peer `p`, of type `msg_type` (within its socket timeout)."""
    try:
        return raw_expect(p, msg_type)
    except (TimeoutError, OSError) as e:
        name = {ERROR: "ERROR", RESULT: "RESULT", INVOCATION: "INVOCATION", INTERRUPT: "INTERRUPT"}
        raise AssertionError(
            f"no {name.get(msg_type, msg_type)} within the socket timeout: {e!r}"
        ) from None


def _readable(peers, timeout):
    """The raw peers among `peers` with something to read within `timeout` s."""
    pending = [p for p in peers if getattr(p.conn, "_pending", b"")]
    if pending:
        return pending
    ready, _, _ = select.select([p.conn.sock for p in peers], [], [], timeout)
    return [p for p in peers if p.conn.sock in ready]


def raw_until_invoked(caller, callee, procedure, args=None, options=None, timeout=CONVERGE):
    """The raw `caller` calls `procedure` every INTERVAL s while answered
    no_such_procedure, until the raw `callee` gets the INVOCATION; returns (CALL request id,
    INVOCATION), the invocation unanswered."""
    deadline = time.monotonic() + timeout
    k = 0
    while True:
        k += 1
        req = raw_call(caller, procedure, args, options)
        ready = _readable([callee, caller], T)
        if callee in ready:
            return req, expect(callee, INVOCATION)
        if not ready:
            raise AssertionError(f"no answer to CALL {procedure} within {T}s")
        m = caller.recv()
        assert m[0] == ERROR and m[1:3] == [CALL, req] and m[4] == NO_SUCH_PROCEDURE, m
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{procedure} not routed within {timeout}s: {k} calls every {INTERVAL}s, each"
                f" answered {NO_SUCH_PROCEDURE}"
            )
        time.sleep(INTERVAL)


def raw_warm(caller, callee, procedure, options=None):
    """raw_until_invoked, then the callee answers and the caller gets the RESULT."""
    req, inv = raw_until_invoked(caller, callee, procedure, options=options)
    callee.send([YIELD, inv[1], {}, ["warm"]])
    r = expect(caller, RESULT)
    assert r[1] == req and r[3] == ["warm"], r
    return inv


async def raw_call_until_routed(caller, procedure, options=None, timeout=CONVERGE):
    """The raw `caller` calls `procedure` (answered by an Autobahn callee in this event loop)
    every INTERVAL s while answered no_such_procedure; returns the first RESULT."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    k = 0
    while True:
        k += 1
        req = raw_call(caller, procedure, [], options)
        try:
            m = await asyncio.to_thread(caller.recv)
        except (TimeoutError, OSError) as e:
            raise AssertionError(
                f"call of {procedure} got no answer (RESULT or ERROR): {e!r}"
            ) from None
        if m[0] == RESULT and m[1] == req:
            return m
        assert m[0] == ERROR and m[1:3] == [CALL, req] and m[4] == NO_SUCH_PROCEDURE, m
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"{procedure} not routed within {timeout}s: {k} calls every {INTERVAL}s, each"
                f" answered {NO_SUCH_PROCEDURE}"
            )
        await asyncio.sleep(INTERVAL)


# ------------------------------------------------------------ calls cross nodes


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_call_reaches_callee_on_another_node(cluster, uid, serializer):
    """A callee on node 1 (another serializer and transport than the callers); callers on
    nodes 0, 2 and 1 with `serializer`: each gets the RESULT with the arguments and keyword
    arguments intact (every kind of value), and the callee gets them as sent."""
    c = cluster()
    procedure = proc_for(uid, "echo")

    async def body():
        callee = await connect(c.nodes[1], *other("ws", serializer), label="callee")
        callers = [
            await connect(c.nodes[0], "ws", serializer, label="node0"),
            await connect(c.nodes[2], "rs", serializer, label="node2"),
            await connect(c.nodes[1], "ws", serializer, label="node1"),
        ]
        try:
            received = []

            def echo(*args, **kwargs):
                received.append((list(args), kwargs))
                return CallResult(*args, **kwargs)

            await callee.register(echo, procedure)
            for caller in callers:
                assert await until_routed(caller, procedure, "warm") == "warm"
            for caller in callers:
                received.clear()
                r = await call(caller, procedure, *PAYLOAD_ARGS, **PAYLOAD_KWARGS)
                assert isinstance(r, CallResult), (caller.label, r)
                diff = strict_equal([list(r.results), r.kwresults], [PAYLOAD_ARGS, PAYLOAD_KWARGS])
                assert diff is None, f"{caller.label}: RESULT {diff}"
                assert len(received) == 1, (caller.label, received)
                diff = strict_equal(list(received[0]), [PAYLOAD_ARGS, PAYLOAD_KWARGS])
                assert diff is None, f"{caller.label}: INVOCATION {diff}"
                # keyword arguments only, and no arguments at all
                r = await call(caller, procedure, k="v", n=2**40)
                assert isinstance(r, CallResult), (caller.label, r)
                assert (list(r.results), r.kwresults) == ([], {"k": "v", "n": 2**40}), caller.label
                assert await call(caller, procedure) is None, caller.label
        finally:
            await close_all([callee] + callers)

    run(body(), timeout=45)


def test_application_error_crosses_nodes(cluster, uid):
    """The callee on node 1 raises ApplicationError("com.example.error.x", 1, 2, a=3):
    callers on nodes 0 and 2 get that error URI, args and kwargs."""
    c = cluster()
    procedure = proc_for(uid, "fail")

    async def body():
        callee = await connect(c.nodes[1], "ws", "cbor", label="callee")
        callers = [
            await connect(c.nodes[0], "rs", "json", label="node0"),
            await connect(c.nodes[2], "ws", "msgpack", label="node2"),
        ]
        try:

            def fail(*args, **kwargs):
                raise ApplicationError("com.example.error.x", 1, 2, a=3)

            await callee.register(fail, procedure)
            for caller in callers:
                first = await until_routed(caller, procedure, accept_error=True)
                assert isinstance(first, ApplicationError), (caller.label, first)
            for caller in callers:
                e = await call_error(caller, procedure, "ignored", k=1)
                assert e.error == "com.example.error.x", (caller.label, e)
                assert list(e.args) == [1, 2] and e.kwargs == {"a": 3}, (caller.label, e)
        finally:
            await close_all([callee] + callers)

    run(body(), timeout=45)


def test_progressive_results_cross_nodes(cluster, uid):
    """The callee on node 1 sends progressive results, then the final one: callers on nodes
    0 and 2 get every progressive result, in order, then the final result."""
    c = cluster()
    procedure = proc_for(uid, "count")

    async def body():
        callee = await connect(c.nodes[1], "rs", "cbor", label="callee")
        callers = [
            await connect(c.nodes[0], "ws", "json", label="node0"),
            await connect(c.nodes[2], "rs", "msgpack", label="node2"),
        ]
        try:

            async def count(n, details=None):
                for i in range(n):
                    details.progress(i, half=i / 2)
                    await asyncio.sleep(0.01 if n <= 3 else 0)
                return CallResult("done", n=n)

            await callee.register(
                count, procedure, options=RegisterOptions(details_arg="details")
            )
            for caller in callers:
                log = []
                options = CallOptions(on_progress=lambda i, half: log.append(("progress", i, half)))
                await until_routed(caller, procedure, 1, options=options)
                for n in (3, 50):
                    log.clear()
                    r = await call(caller, procedure, n, options=options)
                    log.append(("result", list(r.results), r.kwresults))
                    expected = [("progress", i, i / 2) for i in range(n)]
                    expected.append(("result", ["done"], {"n": n}))
                    assert log == expected, f"{caller.label}, {n} progressive results: {log}"
        finally:
            await close_all([callee] + callers)

    run(body(), timeout=45)


# ------------------------------------------------------------ caller disclosure


def test_caller_disclosed_by_disclose_me_across_nodes(cluster, uid):
    """An Autobahn callee on node 1 (details_arg); a raw caller on node 0 (Autobahn 26.10
    has no disclose_me): with disclose_me=True the callee sees details.caller == the
    caller's session id on node 0, and its authid and authrole; without, none of them."""
    c = cluster()
    procedure = proc_for(uid, "who")

    async def body():
        callee = await connect(c.nodes[1], "ws", "msgpack", label="callee")
        raw = await asyncio.to_thread(peer, c.nodes[0], "rs", "json")
        try:
            me = raw.welcome_details
            assert me.get("authid") and me.get("authrole"), me

            def who(details=None):
                return [details.caller, details.caller_authid, details.caller_authrole]

            await callee.register(who, procedure, options=RegisterOptions(details_arg="details"))
            await raw_call_until_routed(raw, procedure, {"disclose_me": True})
            m = await raw_call_until_routed(raw, procedure, {"disclose_me": True}, timeout=0)
            assert m[3] == [[raw.session_id, me["authid"], me["authrole"]]], m
            m = await raw_call_until_routed(raw, procedure, {}, timeout=0)
            assert m[3] == [[None, None, None]], m
        finally:
            raw.close()
            await callee.close()

    run(body(), timeout=45)


def test_caller_disclosed_by_disclose_caller_across_nodes(cluster, uid):
    """A raw callee on node 1 registers with disclose_caller=True: a (raw) caller on node 2
    that does not ask to be disclosed is, in the INVOCATION: caller, caller_authid and
    caller_authrole are its own."""
    c = cluster()
    procedure = proc_for(uid, "always")
    callee = peer(c.nodes[1], "rs", "cbor")
    caller = peer(c.nodes[2], "ws", "json")
    try:
        me = caller.welcome_details
        register(callee, procedure, {"disclose_caller": True})
        raw_warm(caller, callee, procedure)
        req = raw_call(caller, procedure, [], {})
        inv = expect(callee, INVOCATION)
        callee.send([YIELD, inv[1], {}, ["ok"]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == ["ok"], r
        details = inv[3]
        got = (details.get("caller"), details.get("caller_authid"), details.get("caller_authrole"))
        assert got == (caller.session_id, me["authid"], me["authrole"]), details
    finally:
        callee.close()
        caller.close()


# ------------------------------------------------------------ registrations


def test_single_registration_is_unique_cluster_wide(cluster, uid):
    """A single registration on node 1: a REGISTER of the procedure on node 2 and on node 0
    is refused at once (procedure_already_exists, no propagation delay: the claim is
    atomic), and node 1's callee keeps serving. Once it unregisters, node 2's REGISTER
    succeeds (within RELEASE s); calls from node 0 reach node 2's callee, and node 1 is now
    the one refused."""
    c = cluster()
    procedure = proc_for(uid, "single")

    async def body():
        owner = await connect(c.nodes[1], "ws", "json", label="node1")
        rival2 = await connect(c.nodes[2], "rs", "msgpack", label="node2")
        rival0 = await connect(c.nodes[0], "ws", "cbor", label="node0")
        caller = await connect(c.nodes[0], "rs", "json", label="caller")
        sessions = [owner, rival2, rival0, caller]
        try:
            reg = await owner.register(lambda: "node1", procedure)
            for rival, where in ((rival2, "node 2"), (rival0, "node 0")):
                e = await register_refused(rival, procedure, where)
                assert e.error == ALREADY_EXISTS, (where, e)
            assert await until_routed(caller, procedure) == "node1"
            e = await register_refused(rival2, procedure, "node 2")
            assert e.error == ALREADY_EXISTS, e

            await reg.unregister()
            await until_registered(rival2, lambda: "node2", procedure)
            # node 0 may still route to node 1 for a moment: no_such_procedure there is retried
            assert await until_routed(caller, procedure) == "node2"
            assert await call(caller, procedure) == "node2"
            e = await register_refused(owner, procedure, "node 1")
            assert e.error == ALREADY_EXISTS, e
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


@pytest.mark.parametrize("invoke", ["roundrobin", "random"])
def test_shared_registration_across_nodes(cluster, uid, invoke):
    """Callees on nodes 0, 1 and 2 register the procedure with invoke=roundrobin (or random);
    a caller on node 0 calls until each has been reached (CONVERGE s), then 30 calls (60 for
    random: all on one or two callees by chance is under 10^-10) reach every one."""
    c = cluster()
    procedure = proc_for(uid, "shared")
    n = 30 if invoke == "roundrobin" else 60

    async def body():
        callees = [
            await connect(c.nodes[0], "ws", "json", label="node0"),
            await connect(c.nodes[1], "rs", "msgpack", label="node1"),
            await connect(c.nodes[2], "ws", "cbor", label="node2"),
        ]
        caller = await connect(c.nodes[0], "rs", "cbor", label="caller")
        try:
            for i, s in enumerate(callees):
                await s.register(
                    lambda i=i: i, procedure, options=RegisterOptions(invoke=invoke)
                )
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            seen = Counter()
            while len(seen) < len(callees):
                if loop.time() - t0 > CONVERGE:
                    raise AssertionError(
                        f"not every callee reached from node 0 within {CONVERGE}s: {dict(seen)}"
                    )
                seen[await until_routed(caller, procedure)] += 1
                await asyncio.sleep(INTERVAL)
            got = Counter([await call(caller, procedure) for _ in range(n)])
            assert set(got) == {0, 1, 2}, f"{n} calls from node 0 reached callees {dict(got)}"
        finally:
            await close_all(callees + [caller])

    run(body(), timeout=45)


def test_unregister_and_leaving_propagate(cluster, uid):
    """After node 1's callee unregisters, calls from node 0 get no_such_procedure (within
    CONVERGE s); likewise after a callee on node 2 leaves (its registrations go with it)."""
    c = cluster()
    procedure = proc_for(uid, "unreg")
    leaving = proc_for(uid, "leaving")

    async def body():
        callee = await connect(c.nodes[1], "rs", "cbor", label="node1")
        leaver = await connect(c.nodes[2], "ws", "msgpack", label="node2")
        caller = await connect(c.nodes[0], "ws", "json", label="node0")
        try:
            reg = await callee.register(lambda: "here", procedure)
            await leaver.register(lambda: "leaver", leaving)
            assert await until_routed(caller, procedure) == "here"
            assert await until_routed(caller, leaving) == "leaver"

            await reg.unregister()
            await until_gone(caller, procedure)
            e = await call_error(caller, procedure)
            assert e.error == NO_SUCH_PROCEDURE, e

            await leaver.close()
            await until_gone(caller, leaving)
            # node 1's callee can register again, and be reached again
            await callee.register(lambda: "again", procedure)
            assert await until_routed(caller, procedure) == "again"
        finally:
            await close_all([callee, leaver, caller])

    run(body(), timeout=45)


# ------------------------------------------------------------ timeout and cancel


def test_call_timeout_across_nodes(cluster, uid):
    """The callee on node 1 sleeps; a caller on node 0 calls with timeout=500 (ms, as
    ringbar reads CALL.Options.timeout): it gets wamp.error.timeout (as from the dealer of
    one node, test_rpc.py) after about 0.5 s, and the callee is interrupted."""
    c = cluster()
    procedure = proc_for(uid, "slow")

    async def body():
        callee, started, interrupted = await slow_callee(c.nodes[1], procedure, "rs", "cbor", 5)
        caller = await connect(c.nodes[0], "ws", "json", label="node0")
        try:
            assert await until_routed(caller, procedure, "ping") == "pong"
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            e = await call_error(caller, procedure, options=CallOptions(timeout=500))
            took = loop.time() - t0
            assert e.error == "wamp.error.timeout", e
            assert started.done(), "the call timed out before reaching the callee"
            assert 0.4 <= took < 2.0, f"timed out after {took:.2f}s (timeout 0.5s)"
            await asyncio.wait_for(interrupted, 3)
            # both go on
            assert await call(caller, procedure, "ping") == "pong"
        finally:
            await close_all([callee, caller])

    run(body(), timeout=45)


def test_autobahn_cancel_interrupts_callee_on_another_node(cluster, uid):
    """A caller on node 0 cancels (asyncio, as in test_rpc.py: Autobahn sends CANCEL without
    a mode) a call to a slow callee on node 1: the callee is interrupted."""
    c = cluster()
    procedure = proc_for(uid, "wait")

    async def body():
        callee, started, interrupted = await slow_callee(c.nodes[1], procedure, "ws", "json")
        caller = await connect(c.nodes[0], "rs", "msgpack", label="node0")
        try:
            assert await until_routed(caller, procedure, "ping") == "pong"
            pending = asyncio.ensure_future(caller.call(procedure))
            await asyncio.wait_for(started, T)
            pending.cancel()
            await asyncio.wait_for(interrupted, T)
            # the sessions go on
            assert await call(caller, procedure, "ping") == "pong"
        finally:
            await close_all([callee, caller])

    run(body(), timeout=45)


@pytest.mark.parametrize("mode", ["skip", "kill", "killnowait"])
def test_cancel_modes_across_nodes(cluster, uid, mode):
    """test_rpc_raw.py's test_cancel_modes with the (raw) caller on node 0 and the callee on
    node 1: skip: the caller's ERROR at once, no INTERRUPT, a late YIELD is dropped; kill:
    an INTERRUPT (mode kill), the caller's ERROR only after the callee's; killnowait: the
    caller's ERROR and an INTERRUPT (mode killnowait), the callee's ERROR dropped. Then a
    CANCEL for the ended call is ignored and a new call works."""
    c = cluster()
    procedure = proc_for(uid, "cancel")
    callee = peer(c.nodes[1], "rs", "msgpack")
    caller = peer(c.nodes[0], "ws", "json")
    try:
        register(callee, procedure)
        raw_warm(caller, callee, procedure)
        req = raw_call(caller, procedure)
        inv = expect(callee, INVOCATION)
        caller.send([CANCEL, req, {"mode": mode}])
        if mode == "skip":
            e = expect(caller, ERROR)
            assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled", e
            nothing_within(callee, 0.3)
            callee.send([YIELD, inv[1], {}, ["skipped"]])
            nothing_within(caller, 0.3)
        elif mode == "kill":
            i = expect(callee, INTERRUPT)
            assert i[1] == inv[1] and i[2].get("mode") == "kill", i
            nothing_within(caller, 0.3)
            callee.send([ERROR, INVOCATION, inv[1], {}, "wamp.error.canceled", ["by callee"]])
            e = expect(caller, ERROR)
            assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled", e
        else:
            e = expect(caller, ERROR)
            assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled", e
            i = expect(callee, INTERRUPT)
            assert i[1] == inv[1] and i[2].get("mode") == "killnowait", i
            callee.send([ERROR, INVOCATION, inv[1], {}, "wamp.error.canceled"])
            nothing_within(caller, 0.3)
        # CANCEL for a call that has ended is ignored; the sessions go on
        caller.send([CANCEL, req, {"mode": mode}])
        req2 = raw_call(caller, procedure)
        inv2 = expect(callee, INVOCATION)
        callee.send([YIELD, inv2[1], {}, ["ok"]])
        r = expect(caller, RESULT)
        assert r[1] == req2 and r[3] == ["ok"], r
    finally:
        callee.close()
        caller.close()


# ------------------------------------------------------------ failures


def test_callee_node_killed_mid_call(cluster, uid):
    """A caller on node 0 has a call in flight to a slow callee on node 1; node 1 is killed
    (SIGKILL): the call fails with wamp.error.canceled within failure_timeout + 3 s, the
    procedure is then gone (no_such_procedure), and a new single registration of it on
    node 2 succeeds (within CONVERGE s) and is reached from node 0."""
    c = cluster(heartbeat_ms=HEARTBEAT_MS, failure_timeout_ms=FAILURE_TIMEOUT_MS)
    procedure = proc_for(uid, "doomed")
    limit = FAILURE_TIMEOUT_MS / 1000 + 3

    async def body():
        doomed, started, _ = await slow_callee(c.nodes[1], procedure, "ws", "msgpack")
        caller = await connect(c.nodes[0], "rs", "json", label="node0")
        heir = await connect(c.nodes[2], "ws", "cbor", label="node2")
        try:
            assert await until_routed(caller, procedure, "ping") == "pong"
            pending = asyncio.ensure_future(caller.call(procedure))
            await asyncio.wait_for(started, T)

            loop = asyncio.get_running_loop()
            t0 = loop.time()
            c.kill_node(1)
            try:
                await asyncio.wait_for(pending, limit)
            except ApplicationError as e:
                assert e.error == "wamp.error.canceled", e
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"the call in flight to the killed node got no answer within {limit}s"
                ) from None
            else:
                raise AssertionError(
                    f"the call to the killed node got a result: {pending.result()!r}"
                )
            took = loop.time() - t0
            e = await call_error(caller, procedure, "ping")
            assert e.error == NO_SUCH_PROCEDURE, f"after the call failed ({took:.2f}s): {e}"

            await until_registered(heir, lambda what=None: "node2", procedure, timeout=CONVERGE)
            assert await until_routed(caller, procedure) == "node2"
            assert await call(caller, procedure, "x") == "node2"
        finally:
            await close_all([doomed, caller, heir])

    run(body(), timeout=50)


# ------------------------------------------------------------ progressive call invocations


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_progressive_call_invocations_across_nodes(cluster, uid, serializer):
    """test_rpc_raw.py's test_progressive_call_invocations with the (raw) callee on node 1
    (`serializer`) and the caller on node 0 (the next serializer), both announcing
    progressive_call_invocations. A call in 10 parts (progress=true on all but the last,
    disclose_me on the first), sent back to back: the callee gets 10 INVOCATIONs, in order,
    all with the first's request id, progress on all but the last, and the caller disclosed
    on every one (the first CALL's options hold for every part); its YIELD is the caller's
    RESULT. Then a call whose parts are each sent once the previous one's INVOCATION has
    arrived does the same (another request id, the caller not disclosed), and nothing else
    reaches either peer."""
    c = cluster()
    procedure = proc_for(uid, "upload")
    callee = peer(c.nodes[1], "ws", serializer)
    caller = peer(c.nodes[0], "rs", SERIALIZERS[(SERIALIZERS.index(serializer) + 1) % 3])
    n = 10
    try:
        register(callee, procedure)
        warm = raw_warm(caller, callee, procedure)

        # every part sent at once: they must not overtake one another between the nodes
        req = raw_call(caller, procedure, [0], {"progress": True, "disclose_me": True})
        for i in range(1, n):
            raw_call(caller, procedure, [i], {"progress": True} if i < n - 1 else {}, req=req)
        parts = [expect(callee, INVOCATION) for _ in range(n)]
        first = parts[0]
        assert first[1] != warm[1], (warm, first)
        assert [p[1] for p in parts] == [first[1]] * n, f"INVOCATION request ids: {parts}"
        assert [p[4] for p in parts] == [[i] for i in range(n)], f"parts out of order: {parts}"
        progress = [bool(p[3].get("progress")) for p in parts]
        assert progress == [True] * (n - 1) + [False], f"details.progress: {parts}"
        callers = [p[3].get("caller") for p in parts]
        assert callers == [caller.session_id] * n, f"details.caller: {parts}"
        callee.send([YIELD, first[1], {}, [sum(range(n))]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == [sum(range(n))], r
        assert not r[2].get("progress"), r

        # part by part, each once the previous one has reached the callee
        req2 = raw_call(caller, procedure, ["a"], {"progress": True})
        got = [expect(callee, INVOCATION)]
        raw_call(caller, procedure, ["b"], {"progress": True}, req=req2)
        got.append(expect(callee, INVOCATION))
        raw_call(caller, procedure, ["c"], {}, req=req2)
        got.append(expect(callee, INVOCATION))
        assert got[0][1] != first[1], (first, got)
        assert [g[1] for g in got] == [got[0][1]] * 3, got
        assert [g[4] for g in got] == [["a"], ["b"], ["c"]], got
        assert [bool(g[3].get("progress")) for g in got] == [True, True, False], got
        assert all("caller" not in g[3] for g in got), got
        callee.send([YIELD, got[0][1], {}, ["abc"]])
        r = expect(caller, RESULT)
        assert r[1] == req2 and r[3] == ["abc"], r
        nothing_within(callee, 0.3)
        nothing_within(caller, 0.3)
    finally:
        callee.close()
        caller.close()


def test_progressive_call_to_a_callee_without_the_feature_across_nodes(cluster, uid):
    """test_rpc_raw.py's test_progressive_call_to_a_callee_without_the_feature_is_not_supported
    across nodes: the callee on node 1 does not announce progressive_call_invocations; a
    progressive CALL from node 0 gets wamp.error.feature_not_supported and the callee gets
    nothing; a plain call still reaches it."""
    c = cluster()
    procedure = proc_for(uid, "old")
    callee = peer(c.nodes[1], "ws", "json", roles=NO_CANCEL_ROLES)
    caller = peer(c.nodes[0], "rs", "cbor")
    try:
        register(callee, procedure)
        raw_warm(caller, callee, procedure)
        req = raw_call(caller, procedure, [1], {"progress": True})
        e = expect(caller, ERROR)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.feature_not_supported", e
        nothing_within(callee, 0.3)
        req = raw_call(caller, procedure, ["plain"])
        inv = expect(callee, INVOCATION)
        assert inv[4] == ["plain"], inv
        callee.send([YIELD, inv[1], {}, ["ok"]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == ["ok"], r
    finally:
        callee.close()
        caller.close()


def test_progressive_call_parts_follow_the_first_to_its_callee(cluster, uid):
    """Raw callees on nodes 1 and 2 share the procedure (roundrobin); once plain calls from
    node 0 reach both (CONVERGE s), 6 progressive calls of 3 parts each, every part sent at
    once: all the parts of a call reach the callee that got its first part, under one
    INVOCATION request id and in order, none the other callee, and the calls reach both
    callees."""
    c = cluster()
    procedure = proc_for(uid, "shared")
    callees = [peer(c.nodes[1], "ws", "msgpack"), peer(c.nodes[2], "rs", "cbor")]
    caller = peer(c.nodes[0], "ws", "json")
    try:
        for callee in callees:
            register(callee, procedure, {"invoke": "roundrobin"})
        # plain calls until both callees have been reached from node 0
        reached = set()
        deadline = time.monotonic() + CONVERGE
        while len(reached) < len(callees):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not both callees reached from node 0 within {CONVERGE}s: {reached}"
                )
            req = raw_call(caller, procedure, ["warm"])
            ready = _readable(callees + [caller], T)
            if not ready:
                raise AssertionError(f"no answer to CALL {procedure} within {T}s")
            invoked = [k for k, callee in enumerate(callees) if callee in ready]
            if invoked:
                k = invoked[0]
                inv = expect(callees[k], INVOCATION)
                callees[k].send([YIELD, inv[1], {}, [k]])
                r = expect(caller, RESULT)
                assert r[1] == req and r[3] == [k], r
                reached.add(k)
            else:
                m = caller.recv()
                assert m[0] == ERROR and m[1:3] == [CALL, req] and m[4] == NO_SUCH_PROCEDURE, m
            time.sleep(INTERVAL)

        served = []
        for j in range(6):
            req = raw_call(caller, procedure, [j, 0], {"progress": True})
            raw_call(caller, procedure, [j, 1], {"progress": True}, req=req)
            raw_call(caller, procedure, [j, 2], {}, req=req)
            ready = _readable(callees, T)
            if not ready:
                raise AssertionError(f"progressive call {j}: no INVOCATION within {T}s")
            k = callees.index(ready[0])
            parts = [expect(callees[k], INVOCATION) for _ in range(3)]
            assert [p[1] for p in parts] == [parts[0][1]] * 3, f"call {j}: {parts}"
            assert [p[4] for p in parts] == [[j, i] for i in range(3)], f"call {j}: {parts}"
            assert [bool(p[3].get("progress")) for p in parts] == [True, True, False], parts
            nothing_within(callees[1 - k], 0.3)
            callees[k].send([YIELD, parts[0][1], {}, [k]])
            r = expect(caller, RESULT)
            assert r[1] == req and r[3] == [k], r
            served.append(k)
        assert set(served) == {0, 1}, f"6 progressive calls from node 0 reached callees {served}"
    finally:
        for p in callees + [caller]:
            p.close()


# ------------------------------------------------------------ payload passthru


@pytest.mark.parametrize(
    "callee_wire,caller_wire",
    [(("ws", "msgpack"), ("rs", "cbor")), (("rs", "json"), ("ws", "msgpack"))],
    ids=["msgpack-cbor", "json-msgpack"],
)
def test_payload_passthru_in_calls_across_nodes(cluster, uid, callee_wire, caller_wire):
    """test_rpc_raw.py's test_payload_passthru_in_calls with the (raw) caller on node 0 and
    the callee on node 1, on other serializers: the CALL's ppt_* options are the
    INVOCATION's details and its payload (bytes no serializer would parse) arrives as is;
    the YIELD's ppt_* options and payload likewise reach the caller in the RESULT."""
    c = cluster()
    procedure = proc_for(uid, "ppt")
    callee = peer(c.nodes[1], *callee_wire)
    caller = peer(c.nodes[0], *caller_wire)
    try:
        assert caller.welcome_details["roles"]["dealer"]["features"]["payload_passthru_mode"]
        register(callee, procedure)
        raw_warm(caller, callee, procedure)
        req = raw_call(caller, procedure, [OPAQUE], dict(PPT))
        inv = expect(callee, INVOCATION)
        assert inv[4] == [OPAQUE], inv
        assert len(inv) == 5 or inv[5] in ({}, None), inv
        for k, v in PPT.items():
            assert inv[3].get(k) == v, inv
        callee.send([YIELD, inv[1], dict(PPT), [OPAQUE_RESULT]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == [OPAQUE_RESULT], r
        assert len(r) == 4 or r[4] in ({}, None), r
        for k, v in PPT.items():
            assert r[2].get(k) == v, r
    finally:
        callee.close()
        caller.close()


# ------------------------------------------------------------ a caller leaving mid-call


@pytest.mark.parametrize("how", ["goodbye", "drop"])
@pytest.mark.parametrize("canceling", [True, False], ids=["call_canceling", "no_call_canceling"])
def test_caller_leaving_mid_call_across_nodes(cluster, uid, how, canceling):
    """test_rpc.py's test_caller_leaving_mid_call_interrupts_the_callee with raw peers, the
    caller on node 0 and the callee on node 1: the caller leaves (`goodbye`: GOODBYE,
    answered with GOODBYE, then the connection closes; `drop`: the connection just closes)
    while the callee handles its call. A callee that announced call_canceling gets an
    INTERRUPT for that invocation (mode killnowait, reason wamp.error.canceled, as on one
    node when a caller goes); one that did not gets nothing. Its late YIELD goes nowhere,
    and a new caller on node 0 calls it and gets its own RESULT, nothing else."""
    c = cluster()
    procedure = proc_for(uid, "orphan")
    callee = peer(c.nodes[1], "rs", "msgpack", roles=ROLES if canceling else NO_CANCEL_ROLES)
    leaver = peer(c.nodes[0], "ws", "json")
    caller = None
    try:
        register(callee, procedure)
        raw_warm(leaver, callee, procedure)
        raw_call(leaver, procedure, ["in flight"])
        inv = expect(callee, INVOCATION)
        assert inv[4] == ["in flight"], inv
        if how == "goodbye":
            leaver.send([GOODBYE, {}, "wamp.close.close_realm"])
            m = leaver.recv()
            assert m[0] == GOODBYE and m[2] == "wamp.close.goodbye_and_out", m
        leaver.close()
        if canceling:
            i = expect(callee, INTERRUPT)
            assert i[1] == inv[1], (inv, i)
            assert i[2].get("mode") == "killnowait", i
            assert i[2].get("reason") == "wamp.error.canceled", i
        else:
            nothing_within(callee, 1.0)
        callee.send([YIELD, inv[1], {}, ["late"]])

        caller = peer(c.nodes[0], "rs", "cbor")
        req = raw_call(caller, procedure, ["next"])
        inv2 = expect(callee, INVOCATION)
        assert inv2[1] != inv[1] and inv2[4] == ["next"], inv2
        callee.send([YIELD, inv2[1], {}, ["ok"]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == ["ok"], r
        nothing_within(caller, 0.3)
        nothing_within(callee, 0.3)
    finally:
        for p in (callee, leaver, caller):
            if p is not None:
                p.close()
