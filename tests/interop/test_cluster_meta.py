"""Cluster mode (`ringbar.cluster`): the meta API answers for the whole realm across nodes,
as real Autobahn|Python clients see it. Three nodes node-0..node-2 share realm1 through NATS
(the `cluster` fixture in conftest.py); the asking session is on node 0, the sessions,
subscriptions and registrations asked about on nodes 1 and 2.

What the tests hold the cluster to:
- wamp.session.count / list on any node count and list the sessions of every node, with
  or without an authrole filter; wamp.session.get of another node's session answers its
  details as that node does (session, authid, authrole, authmethod);
- wamp.session.kill of another node's session closes it with GOODBYE, with the default
  reason of a kill on one node, or the reason and message given; kill_by_authid reaches a
  session on another node (anonymous sessions each get an authid of their own); a killed
  session leaves the other nodes' lists;
- a session that leaves, or whose node is killed (SIGKILL), leaves the other nodes' count
  and list (a killed node's within the failure timeout and a few seconds);
- meta events of one node reach subscribers on another: wamp.session.on_join / on_leave,
  wamp.subscription.on_create / on_subscribe, wamp.registration.on_create / on_register,
  with the ids and details the node where it happened gives;
- wamp.registration.lookup / match / list_callees / count_callees and
  wamp.subscription.lookup / match on one node find the registrations and subscriptions
  of the others.

Sessions, subscriptions and registrations reach the other nodes asynchronously (about a
millisecond on a LAN): each test polls (every INTERVAL s, up to CONVERGE s) until what it
asks about has arrived, then checks what it means to. Meta events are warmed up the same
way: throwaway sessions / subscriptions / registrations on the far node until a first event
of theirs arrives, then a fresh one is checked.

Not tested here: wamp.subscription.list_subscribers / count_subscribers, which answer for
the node asked (documented, docs/CLUSTER.md).
"""

import asyncio
import re
import time

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions

from test_cluster import (
    CONVERGE,
    FAILURE_TIMEOUT_MS,
    HEARTBEAT_MS,
    INTERVAL,
    until,
    with_device_role,
)
from test_cluster_rpc import call, call_error
from wampclient import DEFAULT_TIMEOUT, close_all, connect, run, subscribe

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.ringbar_only(reason="ringbar.cluster (NATS) is ringbar's"),
]

NO_SUCH_SESSION = "wamp.error.no_such_session"
# how long a SIGKILLed node's sessions may stay listed on the others (s)
NODE_GONE = FAILURE_TIMEOUT_MS / 1000 + 3.0
# how often the meta event warm-ups make a throwaway session / subscription / registration (s)
POKE = 0.2
ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def describe(answer):
    if isinstance(answer, ApplicationError):
        return f"ERROR {answer.error} {list(answer.args)!r}"
    return repr(answer)


async def poll(session, procedure, *args, ok, what, timeout=CONVERGE, **kwargs):
    """Calls `procedure` every INTERVAL s until `ok(answer)` (an ERROR is an answer too: an
    ApplicationError); returns that answer. Fails after `timeout` s with the last one."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    k = 0
    while True:
        k += 1
        try:
            answer = await call(session, procedure, *args, **kwargs)
        except ApplicationError as e:
            answer = e
        if ok(answer):
            return answer
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"{what}: not within {timeout}s ({k} calls of {procedure}{tuple(args)!r}"
                f"{kwargs or ''} on {session.label}, every {INTERVAL}s); last answer"
                f" {describe(answer)}"
            )
        await asyncio.sleep(INTERVAL)


def is_list(answer):
    return isinstance(answer, list)


async def until_listed(session, ids, what, timeout=CONVERGE):
    """Polls wamp.session.list on `session` until it holds every id of `ids`."""
    return await poll(
        session,
        "wamp.session.list",
        ok=lambda a: is_list(a) and set(ids) <= set(a),
        what=f"{what}: wamp.session.list to hold {sorted(ids)}",
        timeout=timeout,
    )


async def until_unlisted(session, ids, what, timeout=CONVERGE):
    """Polls wamp.session.list on `session` until it holds none of `ids`."""
    return await poll(
        session,
        "wamp.session.list",
        ok=lambda a: is_list(a) and not set(ids) & set(a),
        what=f"{what}: wamp.session.list to no longer hold {sorted(ids)}",
        timeout=timeout,
    )


async def left(session, timeout=DEFAULT_TIMEOUT):
    """The CloseDetails of the GOODBYE `session` got."""
    try:
        return await asyncio.wait_for(asyncio.shield(session.left), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{session.label} got no GOODBYE within {timeout}s") from None


async def closed(session, timeout=DEFAULT_TIMEOUT):
    try:
        await asyncio.wait_for(asyncio.shield(session.disconnected), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{session.label}'s connection not closed within {timeout}s") from None


# ------------------------------------------------------------ session count, list, get


def test_session_count_and_list_span_the_nodes(cluster):
    """Two sessions on each node (WebSocket ones `anonymous`, RawSocket ones `device`): every
    node's wamp.session.count reaches 6 and node 0's wamp.session.list is exactly their ids;
    with an authrole filter, the sessions of that role on every node."""
    c = cluster(make_config=with_device_role)

    async def body():
        sessions = []
        for n, (a, b) in enumerate([("json", "msgpack"), ("cbor", "json"), ("msgpack", "cbor")]):
            sessions.append(await connect(c.nodes[n], "ws", a, label=f"node{n}-ws"))
            sessions.append(await connect(c.nodes[n], "rs", b, label=f"node{n}-rs"))
        try:
            me = sessions[0]
            every = sorted(s.session_id for s in sessions)
            devices = sorted(s.session_id for s in sessions if s.authrole == "device")
            anonymous = sorted(s.session_id for s in sessions if s.authrole == "anonymous")
            assert len(devices) == len(anonymous) == 3, [(s.label, s.authrole) for s in sessions]

            for n, asker in ((0, me), (1, sessions[2]), (2, sessions[5])):
                await poll(
                    asker,
                    "wamp.session.count",
                    ok=lambda a: a == len(every),
                    what=f"wamp.session.count on node {n} to reach {len(every)}",
                )
            listed = await call(me, "wamp.session.list")
            assert sorted(listed) == every, f"node 0 lists {sorted(listed)}, expected {every}"

            assert sorted(await call(me, "wamp.session.list", ["device"])) == devices
            assert sorted(await call(me, "wamp.session.list", ["anonymous"])) == anonymous
            assert sorted(await call(me, "wamp.session.list", ["anonymous", "device"])) == every
            assert await call(me, "wamp.session.count", ["device"]) == 3
            assert await call(me, "wamp.session.count", ["anonymous"]) == 3
            assert await call(me, "wamp.session.count", ["no-such-role"]) == 0
            assert await call(me, "wamp.session.list", ["no-such-role"]) == []
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


def test_session_get_of_another_nodes_session(cluster):
    """wamp.session.get on node 0 of a session on node 1 answers its session id, authid,
    authrole and authmethod, the same details node 1 answers for it; an unknown id is still
    wamp.error.no_such_session."""
    c = cluster()

    async def body():
        me = await connect(c.nodes[0], "ws", "json", label="node0")
        target = await connect(c.nodes[1], "rs", "cbor", label="node1-target")
        local = await connect(c.nodes[1], "ws", "msgpack", label="node1-asker")
        sessions = [me, target, local]
        try:
            details = await poll(
                me,
                "wamp.session.get",
                target.session_id,
                ok=lambda a: not (isinstance(a, ApplicationError) and a.error == NO_SUCH_SESSION),
                what=f"wamp.session.get({target.session_id}) on node 0 to know node 1's session",
            )
            assert isinstance(details, dict), describe(details)
            got = {k: details.get(k) for k in ("session", "authid", "authrole", "authmethod")}
            assert got == {
                "session": target.session_id,
                "authid": target.authid,
                "authrole": "anonymous",
                "authmethod": "anonymous",
            }, details
            at_home = await call(local, "wamp.session.get", target.session_id)
            assert details == at_home, f"node 0 answers {details!r}, node 1 {at_home!r}"

            e = await call_error(me, "wamp.session.get", 1)
            assert e.error == NO_SUCH_SESSION, describe(e)
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


# ------------------------------------------------------------ kill


def test_session_kill_of_another_nodes_session(cluster):
    """wamp.session.kill on node 0 of sessions on node 1: without a reason, the victim gets
    GOODBYE with the reason a kill on one node gives (a session of node 0 killed first, for
    reference) and its connection closes; with reason and message, those. The killed
    sessions then leave node 0's list, and killing one again is no_such_session."""
    c = cluster()

    async def body():
        killer = await connect(c.nodes[0], "ws", "json", label="killer")
        reference = await connect(c.nodes[0], "rs", "msgpack", label="node0-reference")
        plain = await connect(c.nodes[1], "rs", "msgpack", label="node1-plain")
        reasoned = await connect(c.nodes[1], "ws", "cbor", label="node1-reasoned")
        bystander = await connect(c.nodes[1], "ws", "json", label="node1-bystander")
        sessions = [killer, reference, plain, reasoned, bystander]
        try:
            # (Autobahn forgets a session's id once it is closed)
            plain_id, reasoned_id = plain.session_id, reasoned.session_id
            remote = [plain_id, reasoned_id, bystander.session_id]
            await until_listed(killer, remote, "node 1's sessions on node 0")

            await call(killer, "wamp.session.kill", reference.session_id)
            default_reason = (await left(reference)).reason

            assert await call(killer, "wamp.session.kill", plain_id) is None
            details = await left(plain)
            assert (details.reason, details.message) == (default_reason, None), (
                f"killed from another node: {details.reason!r} {details.message!r}; on one"
                f" node: {default_reason!r}"
            )
            await closed(plain)

            await call(
                killer,
                "wamp.session.kill",
                reasoned_id,
                reason="com.example.kicked",
                message="bye now",
            )
            details = await left(reasoned)
            assert (details.reason, details.message) == ("com.example.kicked", "bye now"), details
            await closed(reasoned)

            gone = [plain_id, reasoned_id]
            listed = await until_unlisted(killer, gone, "the killed sessions gone from node 0")
            assert bystander.session_id in listed, listed
            assert bystander.is_attached()
            e = await call_error(killer, "wamp.session.kill", plain_id)
            assert e.error == NO_SUCH_SESSION, describe(e)
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


def test_session_kill_by_authid_of_another_nodes_session(cluster):
    """wamp.session.kill_by_authid on node 0 with the authid of a session on node 2 (anonymous
    sessions each get an authid of their own) kills that session only: answers 1, the victim
    gets GOODBYE (the default reason of a kill), a session with another authid on node 2
    stays, and the victim leaves node 0's list."""
    c = cluster()

    async def body():
        killer = await connect(c.nodes[0], "ws", "json", label="killer")
        reference = await connect(c.nodes[0], "rs", "cbor", label="node0-reference")
        victim = await connect(c.nodes[2], "rs", "msgpack", label="node2-victim")
        bystander = await connect(c.nodes[2], "ws", "cbor", label="node2-bystander")
        sessions = [killer, reference, victim, bystander]
        try:
            assert victim.authid and victim.authid != bystander.authid, (
                victim.authid,
                bystander.authid,
            )
            victim_id = victim.session_id  # (Autobahn forgets it once the session is closed)
            await until_listed(killer, [victim_id, bystander.session_id], "node 2's sessions on node 0")
            assert await call(killer, "wamp.session.kill_by_authid", reference.authid) == 1
            default_reason = (await left(reference)).reason

            killed = await call(killer, "wamp.session.kill_by_authid", victim.authid)
            assert killed == 1, f"kill_by_authid({victim.authid!r}) answered {killed!r}"
            details = await left(victim)
            assert details.reason == default_reason, (details.reason, default_reason)
            await closed(victim)
            listed = await until_unlisted(killer, [victim_id], "the victim gone from node 0")
            assert bystander.session_id in listed, listed
            assert bystander.is_attached()
            assert await call(killer, "wamp.session.kill_by_authid", victim.authid) == 0
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


# ------------------------------------------------------------ sessions that go


def test_sessions_that_leave_or_whose_node_dies_leave_the_count(cluster):
    """A session leaving node 1 leaves node 0's list and count; node 1 SIGKILLed, its other
    sessions leave node 0's list within the failure timeout and a few seconds, node 2's
    stay."""
    c = cluster(heartbeat_ms=HEARTBEAT_MS, failure_timeout_ms=FAILURE_TIMEOUT_MS)

    async def body():
        me = await connect(c.nodes[0], "ws", "json", label="node0")
        leaver = await connect(c.nodes[1], "rs", "msgpack", label="node1-leaver")
        doomed = [
            await connect(c.nodes[1], "ws", "cbor", label="node1-a"),
            await connect(c.nodes[1], "rs", "json", label="node1-b"),
        ]
        far = await connect(c.nodes[2], "ws", "msgpack", label="node2")
        sessions = [me, leaver, far] + doomed
        try:
            # (Autobahn forgets a session's id once it is closed)
            every = [s.session_id for s in sessions]
            leaver_id = leaver.session_id
            doomed_ids = [s.session_id for s in doomed]
            await until_listed(me, every, "every session on node 0")
            assert await call(me, "wamp.session.count") == len(every)

            await leaver.close()
            await until_unlisted(me, [leaver_id], "the session that left node 1")
            await poll(
                me,
                "wamp.session.count",
                ok=lambda a: a == len(every) - 1,
                what=f"wamp.session.count on node 0 to be {len(every) - 1} after a leave",
            )

            c.kill_node(1)
            t0 = time.monotonic()
            for s in doomed:
                await closed(s)
            listed = await until_unlisted(
                me,
                doomed_ids,
                f"node 1's sessions gone from node 0 after SIGKILL (failure timeout"
                f" {FAILURE_TIMEOUT_MS} ms)",
                timeout=NODE_GONE,
            )
            took = time.monotonic() - t0
            assert sorted(listed) == sorted([me.session_id, far.session_id]), listed
            assert await call(me, "wamp.session.count") == 2
            assert took < NODE_GONE, took
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


# ------------------------------------------------------------ meta events


def test_session_join_and_leave_events_cross_nodes(cluster):
    """A subscriber on node 0 to wamp.session.on_join / on_leave gets them for a session of
    node 1: on_join with its session id, authid, authrole and authmethod, on_leave with
    [session, authid, authrole], each once."""
    c = cluster()

    async def body():
        watcher = await connect(c.nodes[0], "ws", "json", label="watcher")
        sessions = [watcher]
        try:
            _, joins = await subscribe(watcher, "wamp.session.on_join")
            _, leaves = await subscribe(watcher, "wamp.session.on_leave")
            throwaway = set()

            async def poke(k):
                s = await connect(c.nodes[1], "rs", "msgpack", label=f"throwaway{k}")
                throwaway.add(s.session_id)
                await s.close()

            def joined_ids():
                return {e[0][0].get("session") for e in joins.events}

            await until(
                poke,
                lambda: bool(joined_ids() & throwaway),
                lambda: f"no wamp.session.on_join on node 0 for any of {len(throwaway)} sessions"
                f" that joined node 1 (every {POKE}s); on_join events: {joins.events[-3:]!r}",
                interval=POKE,
            )

            joiner = await connect(c.nodes[1], "ws", "cbor", label="joiner")
            sessions.append(joiner)
            await joins.wait_for(
                lambda ev: joiner.session_id in joined_ids(), what="the joiner's on_join"
            )
            (details,) = [e[0][0] for e in joins.events if e[0][0].get("session") == joiner.session_id]
            got = {k: details.get(k) for k in ("session", "authid", "authrole", "authmethod")}
            assert got == {
                "session": joiner.session_id,
                "authid": joiner.authid,
                "authrole": "anonymous",
                "authmethod": "anonymous",
            }, details

            who = [joiner.session_id, joiner.authid, joiner.authrole]
            await joiner.close()  # (Autobahn forgets its session id)
            await leaves.wait_arg(who[0])
            assert [a for a in leaves.args if a[:1] == who[:1]] == [who], leaves.args
            n = [e[0][0].get("session") for e in joins.events].count(who[0])
            assert n == 1, f"the joiner's on_join came {n} times"
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


def test_subscription_events_cross_nodes(cluster, uid):
    """A subscriber on node 0 to wamp.subscription.on_create / on_subscribe gets them for a
    subscription made on node 2, with node 2's subscriber session id and subscription id and
    the subscription's details."""
    c = cluster()
    base = f"com.cluster.meta.sub.{uid}"

    async def body():
        watcher = await connect(c.nodes[0], "ws", "json", label="watcher")
        subscriber = await connect(c.nodes[2], "rs", "cbor", label="node2")
        try:
            _, creates = await subscribe(watcher, "wamp.subscription.on_create")
            _, subscribes = await subscribe(watcher, "wamp.subscription.on_subscribe")

            async def poke(k):
                await subscribe(subscriber, f"{base}.warm{k}")

            def warm():
                return any(
                    len(e[0]) > 1 and str(e[0][1].get("uri", "")).startswith(f"{base}.warm")
                    for e in creates.events
                )

            await until(
                poke,
                warm,
                lambda: "no wamp.subscription.on_create on node 0 for the subscriptions made on"
                f" node 2 (every {POKE}s); on_create events: {creates.events[-3:]!r}",
                interval=POKE,
            )

            topic = f"{base}.fresh"
            sub, _ = await subscribe(subscriber, topic)
            await creates.wait_for(
                lambda ev: any(e[0][1].get("uri") == topic for e in ev if len(e[0]) > 1),
                what=f"on_create of {topic}",
            )
            (created,) = [e[0] for e in creates.events if len(e[0]) > 1 and e[0][1].get("uri") == topic]
            assert created[0] == subscriber.session_id, created
            details = created[1]
            assert (details.get("id"), details.get("uri"), details.get("match")) == (
                sub.id,
                topic,
                "exact",
            ), f"{details!r}; node 2's subscription id is {sub.id}"
            assert ISO_8601.match(str(details.get("created"))), details
            await subscribes.wait_for(
                lambda ev: any(e[0] == [subscriber.session_id, sub.id] for e in ev),
                what=f"on_subscribe [{subscriber.session_id}, {sub.id}]",
            )
        finally:
            await close_all([watcher, subscriber])

    run(body(), timeout=45)


def test_registration_events_cross_nodes(cluster, uid):
    """A subscriber on node 0 to wamp.registration.on_create / on_register gets them for a
    registration made on node 1, with node 1's callee session id and registration id."""
    c = cluster()
    base = f"com.cluster.meta.reg.{uid}"

    async def body():
        watcher = await connect(c.nodes[0], "rs", "msgpack", label="watcher")
        callee = await connect(c.nodes[1], "ws", "json", label="node1")
        try:
            _, creates = await subscribe(watcher, "wamp.registration.on_create")
            _, registers = await subscribe(watcher, "wamp.registration.on_register")

            async def poke(k):
                await callee.register(lambda: k, f"{base}.warm{k}")

            await until(
                poke,
                lambda: any(e[0][:1] == [callee.session_id] for e in registers.events),
                lambda: "no wamp.registration.on_register on node 0 for the registrations made"
                f" on node 1 (every {POKE}s); on_register events: {registers.events[-3:]!r}",
                interval=POKE,
            )

            proc = f"{base}.fresh"
            reg = await callee.register(lambda: "ok", proc, options=RegisterOptions(invoke="roundrobin"))
            await registers.wait_for(
                lambda ev: any(e[0] == [callee.session_id, reg.id] for e in ev),
                what=f"on_register [{callee.session_id}, {reg.id}] (got {registers.args[-3:]})",
            )
            await creates.wait_for(
                lambda ev: any(e[0][1].get("uri") == proc for e in ev if len(e[0]) > 1),
                what=f"on_create of {proc}",
            )
            (created,) = [e[0] for e in creates.events if len(e[0]) > 1 and e[0][1].get("uri") == proc]
            assert created[0] == callee.session_id, created
            details = created[1]
            assert (
                details.get("id"),
                details.get("uri"),
                details.get("match"),
                details.get("invoke"),
            ) == (reg.id, proc, "exact", "roundrobin"), f"{details!r}; node 1's id is {reg.id}"
        finally:
            await close_all([watcher, callee])

    run(body(), timeout=45)


# ------------------------------------------------------------ lookups


def test_registration_lookups_find_other_nodes_callees(cluster, uid):
    """wamp.registration.lookup / match on node 0 find a registration made on node 1, and
    list_callees / count_callees of it name node 1's callee; for a roundrobin registration
    with callees on nodes 0 and 1, both."""
    c = cluster()
    proc = f"com.cluster.meta.lookup.{uid}"
    shared = f"com.cluster.meta.shared.{uid}"

    async def body():
        me = await connect(c.nodes[0], "ws", "json", label="node0")
        local = await connect(c.nodes[0], "rs", "cbor", label="node0-callee")
        remote = await connect(c.nodes[1], "rs", "msgpack", label="node1-callee")
        sessions = [me, local, remote]
        try:
            reg = await remote.register(lambda: 1, proc)
            found = await poll(
                me,
                "wamp.registration.lookup",
                proc,
                ok=lambda a: a is not None and not isinstance(a, ApplicationError),
                what=f"wamp.registration.lookup({proc}) on node 0 (node 1's id: {reg.id})",
            )
            assert isinstance(found, int), describe(found)
            matched = await call(me, "wamp.registration.match", proc)
            assert matched == found, (matched, found)
            assert await call(me, "wamp.registration.match", proc + ".nothing") is None
            assert await call(me, "wamp.registration.list_callees", found) == [remote.session_id]
            assert await call(me, "wamp.registration.count_callees", found) == 1

            options = RegisterOptions(invoke="roundrobin")
            await local.register(lambda: 0, shared, options=options)
            await remote.register(lambda: 1, shared, options=options)
            shared_id = await call(me, "wamp.registration.lookup", shared)
            assert isinstance(shared_id, int), describe(shared_id)
            await poll(
                me,
                "wamp.registration.count_callees",
                shared_id,
                ok=lambda a: a == 2,
                what=f"count_callees of {shared} (callees on nodes 0 and 1) on node 0 to be 2",
            )
            callees = await call(me, "wamp.registration.list_callees", shared_id)
            assert sorted(callees) == sorted([local.session_id, remote.session_id]), callees
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


def test_subscription_lookups_find_other_nodes_subscriptions(cluster, uid):
    """wamp.subscription.lookup / match on node 0 find an exact and a prefix subscription made
    on node 2. (list_subscribers / count_subscribers answer for the node asked: not here.)"""
    c = cluster()
    topic = f"com.cluster.meta.topic.{uid}"
    prefix = f"com.cluster.meta.prefix.{uid}"

    async def body():
        me = await connect(c.nodes[0], "ws", "json", label="node0")
        far = await connect(c.nodes[2], "ws", "cbor", label="node2")
        try:
            sub, _ = await subscribe(far, topic)
            psub, _ = await subscribe(far, prefix, match="prefix")
            exact_id = await poll(
                me,
                "wamp.subscription.lookup",
                topic,
                ok=lambda a: a is not None and not isinstance(a, ApplicationError),
                what=f"wamp.subscription.lookup({topic}) on node 0 (node 2's id: {sub.id})",
            )
            assert isinstance(exact_id, int), describe(exact_id)
            prefix_id = await poll(
                me,
                "wamp.subscription.lookup",
                prefix,
                {"match": "prefix"},
                ok=lambda a: a is not None and not isinstance(a, ApplicationError),
                what=f"wamp.subscription.lookup({prefix}, prefix) on node 0 (node 2's id: {psub.id})",
            )
            assert isinstance(prefix_id, int), describe(prefix_id)
            assert await call(me, "wamp.subscription.lookup", prefix) is None  # exact: none

            assert await call(me, "wamp.subscription.match", topic) == [exact_id]
            assert await call(me, "wamp.subscription.match", f"{prefix}.x.y") == [prefix_id]
            assert await call(me, "wamp.subscription.match", f"{topic}.other") is None
        finally:
            await close_all([me, far])

    run(body(), timeout=45)
