"""Cluster mode (`ringbar.cluster`): several ringbar nodes share realm1 through NATS
(the `cluster` fixture in conftest.py: private NATS servers from scripts/nats, three nodes
node-0..node-2), as real Autobahn|Python clients (and raw peers for what Autobahn does not
send: disclose_me, ppt_*) see it.

What the tests hold the cluster to:
- an event published on one node reaches the matching subscribers on every node, for
  exact, prefix and wildcard subscriptions, once, with the publication id the publisher got;
- a subscription made on one node is effective cluster-wide after a short propagation
  delay: a test publishes (acknowledged, every 100 ms, for up to CONVERGE s) until a first
  event arrives at every subscriber, then checks what it means to on a fresh batch (those
  first events are told apart by their first argument, a tag);
- the events of one publisher arrive at a subscriber on another node in the order they were
  published; so, where a test checks that an event is NOT delivered, the publisher follows it
  with a sentinel every subscriber receives (as in test_pubsub.py);
- exclude_me, exclude / eligible (session ids), exclude_authid / eligible_authid,
  exclude_authrole / eligible_authrole and publisher disclosure work across nodes;
- payload passthru (ppt_*) events cross nodes unchanged;
- a realm not in `cluster.realms` stays local to each node;
- retained events are the cluster's: a subscriber on another node gets the last one;
- a node killed (SIGKILL) does not stop the others, and rejoins when started again;
- while NATS is down, each node's local pub/sub works; when it is back, cross-node events
  flow again; with a three-server NATS cluster, losing one server is survived.
"""

import asyncio
import copy
import json
import re
import subprocess
import time
import urllib.request

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import RINGBAR_BIN, free_port, router_config
from rawwamp import EVENT, PUBLISHED, RawWamp
from wampclient import DEFAULT_TIMEOUT, assert_pubsub_works, close_all, connect, run, subscribe

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.ringbar_only(reason="ringbar.cluster (NATS) is ringbar's"),
]

# how long a subscription, a restarted node or a reconnected NATS may take to be effective
# cluster-wide (s)
CONVERGE = 10.0
# how long the nodes may take to reconnect to a restarted NATS server (s): the client backs
# off between attempts
RECOVER = 15.0
# how often the convergence loops publish (s)
INTERVAL = 0.1
# heartbeat and failure timeout of the nodes (the fixture's defaults, in ms)
HEARTBEAT_MS = 200
FAILURE_TIMEOUT_MS = 1000


def topic_for(uid, name):
    return f"com.cluster.{name}.{uid}"


def tagged(inbox, tag):
    """The events of `inbox` whose first argument is `tag`."""
    return [e for e in inbox.events if e[0][:1] == [tag]]


def untagged(inbox, *tags):
    """The events of `inbox` whose first argument is none of `tags`."""
    return [e for e in inbox.events if e[0][:1] not in [[t] for t in tags]]


async def publish(session, topic, *args, **options):
    """An acknowledged publication; returns its Publication."""
    return await asyncio.wait_for(
        session.publish(topic, *args, options=PublishOptions(acknowledge=True, **options)),
        DEFAULT_TIMEOUT,
    )


async def until(send, ready, what, timeout=CONVERGE, interval=INTERVAL):
    """Calls `await send(k)` (k = 0, 1, ...) every `interval` s until `ready()`; returns the
    seconds it took. Fails after `timeout` s, naming `what()` (what is still missing)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    k = 0
    while True:
        await send(k)
        k += 1
        step_end = loop.time() + interval
        while loop.time() < step_end:
            if ready():
                return loop.time() - t0
            await asyncio.sleep(0.01)
        if ready():
            return loop.time() - t0
        if loop.time() - t0 > timeout:
            raise AssertionError(
                f"not converged within {timeout}s ({k} publications every {interval}s): {what()}"
            )


async def until_received(pub, topic, inboxes, tag="warm", timeout=CONVERGE, **options):
    """`pub` publishes [tag, k] to `topic` every INTERVAL until each of `inboxes`
    ({label: Inbox}) has an event [tag, ...]."""

    def missing():
        return [label for label, inbox in inboxes.items() if not tagged(inbox, tag)]

    return await until(
        lambda k: publish(pub, topic, tag, k, **options),
        lambda: not missing(),
        lambda: f"no [{tag!r}, k] event at {missing()}",
        timeout,
    )


async def wait_event(inbox, args, timeout=DEFAULT_TIMEOUT):
    await inbox.wait_for(lambda ev: any(e[0] == args for e in ev), timeout, what=f"event {args!r}")


# ------------------------------------------------------------ events cross nodes

PATTERNS = {
    # match: base -> (subscription URI, a topic for the warm-up, matching topics, others)
    "exact": lambda b: (b, b, [b], [f"{b}.a", f"{b}x"]),
    "prefix": lambda b: (b, f"{b}.warm", [f"{b}.a", f"{b}.a.b.c", b], [f"com.other.{b}.a"]),
    "wildcard": lambda b: (
        f"{b}..c",
        f"{b}.warm.c",
        [f"{b}.x.c", f"{b}.y.c"],
        [f"{b}.x.d", f"{b}.x.c.d", f"{b}.c"],
    ),
}


@pytest.mark.parametrize("match", list(PATTERNS))
def test_event_reaches_subscribers_on_every_node(cluster, uid, match):
    """Publisher on node 0; subscribers on node 0 (local), 1 and 2 (different transports and
    serializers): each gets every matching event once, in order, with its topic and the
    publication id the publisher got, and none of the others."""
    c = cluster()
    uri, warm, matching, others = PATTERNS[match](topic_for(uid, match))

    async def body():
        subs = [
            await connect(c.nodes[0], "ws", "json", label="node0"),
            await connect(c.nodes[1], "rs", "msgpack", label="node1"),
            await connect(c.nodes[2], "ws", "cbor", label="node2"),
        ]
        pub = await connect(c.nodes[0], "rs", "json", label="pub")
        try:
            inboxes = {
                s.label: (await subscribe(s, uri, match=None if match == "exact" else match))[1]
                for s in subs
            }
            await until_received(pub, warm, inboxes)
            expected = []
            for t in others[:1] + matching[:1] + others[1:] + matching[1:]:
                p = await publish(pub, t, t)
                if t in matching:
                    expected.append((t, p.id))
            await publish(pub, warm, "end")
            for label, inbox in inboxes.items():
                await wait_event(inbox, ["end"])
                events = untagged(inbox, "warm", "end")
                got = [(e[0][0], e[2].publication) for e in events]
                assert got == expected, f"{label}: {got} != {expected}"
                for e in events:
                    topic = e[0][0]
                    assert e[2].topic in ((None, topic) if match == "exact" else (topic,)), (
                        label,
                        e[2],
                    )
        finally:
            await close_all(subs + [pub])

    run(body(), timeout=45)


def test_publisher_order_across_nodes(cluster, uid):
    """200 events published back to back on node 0 arrive in order on nodes 1 and 2."""
    n = 200
    c = cluster()
    topic = topic_for(uid, "order")

    async def body():
        subs = [
            await connect(c.nodes[2], "ws", "msgpack", label="node2"),
            await connect(c.nodes[1], "rs", "cbor", label="node1"),
        ]
        pub = await connect(c.nodes[0], "rs", "msgpack")
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in subs}
            await until_received(pub, topic, inboxes)
            for i in range(n - 1):
                pub.publish(topic, "n", i)
            await publish(pub, topic, "n", n - 1)
            for label, inbox in inboxes.items():
                await inbox.wait_for(
                    lambda ev: len([e for e in ev if e[0][:1] == ["n"]]) >= n, 20, what=f"{n} events"
                )
                got = [e[0][1] for e in tagged(inbox, "n")]
                assert got == list(range(n)), f"{label}: first mismatch at " + str(
                    next((i for i, (x, y) in enumerate(zip(got, range(n))) if x != y), len(got))
                )
        finally:
            await close_all(subs + [pub])

    run(body(), timeout=50)


# ------------------------------------------------------- exclusion and eligibility


async def _scenarios(pub, topic, inboxes, scenarios):
    """For each (name, options, expected labels): `pub` publishes ["x", k] with the options,
    then the sentinel ["end", k] that everybody gets; returns [(name, got, expected)] where
    got is the set of labels that received ["x", k] (each at most once)."""
    await until_received(pub, topic, inboxes)
    results = []
    for k, (name, options, expected) in enumerate(scenarios):
        await publish(pub, topic, "x", k, **options)
        await publish(pub, topic, "end", k)
        got = set()
        for label, inbox in inboxes.items():
            await wait_event(inbox, ["end", k])
            xs = [e for e in inbox.events if e[0] == ["x", k]]
            assert len(xs) <= 1, f"{name}: {label} got the event {len(xs)} times"
            if xs:
                got.add(label)
        results.append((name, got, expected))
    return results


def _check(results):
    wrong = [f"{name}: got {sorted(got)}, expected {sorted(exp)}" for name, got, exp in results if got != exp]
    assert not wrong, "\n".join(wrong)


def test_exclude_me_across_nodes(cluster, uid):
    """The publisher (node 0, subscribed itself) gets its own event only with
    exclude_me=False; subscribers on nodes 1 and 2 get it either way."""
    c = cluster()
    topic = topic_for(uid, "exme")

    async def body():
        pub = await connect(c.nodes[0], "rs", "json", label="P")
        s1 = await connect(c.nodes[1], "ws", "json", label="S1")
        s2 = await connect(c.nodes[2], "rs", "cbor", label="S2")
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (pub, s1, s2)}
            # everybody gets the warm-up and the sentinels
            await until_received(pub, topic, inboxes, exclude_me=False)
            results = []
            for k, (name, options, expected) in enumerate(
                [
                    ("default", {}, {"S1", "S2"}),
                    ("exclude_me=False", {"exclude_me": False}, {"P", "S1", "S2"}),
                    ("exclude_me=True", {"exclude_me": True}, {"S1", "S2"}),
                ]
            ):
                await publish(pub, topic, "x", k, **options)
                await publish(pub, topic, "end", k, exclude_me=False)
                got = set()
                for label, inbox in inboxes.items():
                    await wait_event(inbox, ["end", k])
                    xs = [e for e in inbox.events if e[0] == ["x", k]]
                    assert len(xs) <= 1, f"{name}: {label} got the event {len(xs)} times"
                    if xs:
                        got.add(label)
                results.append((name, got, expected))
            _check(results)
        finally:
            await close_all([pub, s1, s2])

    run(body(), timeout=45)


def test_exclude_and_eligible_sessions_and_authids_across_nodes(cluster, uid):
    """exclude / eligible by session id and by authid (anonymous sessions each get an authid
    of their own), alone and combined, for subscribers on the publisher's node and others."""
    c = cluster()
    topic = topic_for(uid, "blackwhite")

    async def body():
        pub = await connect(c.nodes[0], "rs", "json", label="P")
        s1 = await connect(c.nodes[0], "ws", "json", label="S1")  # the publisher's node
        s2 = await connect(c.nodes[1], "ws", "msgpack", label="S2")
        s3 = await connect(c.nodes[2], "rs", "cbor", label="S3")
        try:
            assert len({s1.authid, s2.authid, s3.authid}) == 3, "anonymous authids are per session"
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (s1, s2, s3)}
            i1, i2, i3 = s1.session_id, s2.session_id, s3.session_id
            a1, a2, a3 = s1.authid, s2.authid, s3.authid
            scenarios = [
                ("no filter", {}, {"S1", "S2", "S3"}),
                ("exclude S1 S3", {"exclude": [i1, i3]}, {"S2"}),
                ("exclude S2", {"exclude": [i2]}, {"S1", "S3"}),
                ("eligible S1 S3", {"eligible": [i1, i3]}, {"S1", "S3"}),
                ("eligible S3", {"eligible": [i3]}, {"S3"}),
                ("eligible S1 S2 minus exclude S2", {"eligible": [i1, i2], "exclude": [i2]}, {"S1"}),
                ("exclude_authid S2", {"exclude_authid": [a2]}, {"S1", "S3"}),
                ("exclude_authid S1 S3", {"exclude_authid": [a1, a3]}, {"S2"}),
                ("eligible_authid S2 S3", {"eligible_authid": [a2, a3]}, {"S2", "S3"}),
                ("eligible_authid S2", {"eligible_authid": [a2]}, {"S2"}),
                (
                    "eligible_authid S1 S3 minus exclude S3",
                    {"eligible_authid": [a1, a3], "exclude": [i3]},
                    {"S1"},
                ),
                (
                    "eligible S2 S3 minus exclude_authid S3",
                    {"eligible": [i2, i3], "exclude_authid": [a3]},
                    {"S2"},
                ),
            ]
            _check(await _scenarios(pub, topic, inboxes, scenarios))
        finally:
            await close_all([pub, s1, s2, s3])

    run(body(), timeout=45)


def with_device_role(ws_port, rs_port):
    """router_config, with RawSocket sessions joining realm1 anonymously as role `device`
    (WebSocket ones stay `anonymous`): two roles to filter by."""
    config = router_config(ws_port, rs_port)
    worker = config["workers"][0]
    realm1 = next(r for r in worker["realms"] if r["name"] == "realm1")
    device = copy.deepcopy(next(r for r in realm1["roles"] if r["name"] == "anonymous"))
    device["name"] = "device"
    realm1["roles"].append(device)
    rawsocket = next(t for t in worker["transports"] if t["type"] == "rawsocket")
    rawsocket["auth"] = {"anonymous": {"type": "static", "role": "device"}}
    return config


def test_exclude_and_eligible_authroles_across_nodes(cluster, uid):
    """exclude_authrole / eligible_authrole with two roles spread over the nodes: WebSocket
    sessions are `anonymous`, RawSocket ones `device`."""
    c = cluster(make_config=with_device_role)
    topic = topic_for(uid, "roles")

    async def body():
        pub = await connect(c.nodes[0], "ws", "json", label="P")
        s1 = await connect(c.nodes[1], "ws", "msgpack", label="S1")  # anonymous
        s2 = await connect(c.nodes[1], "rs", "cbor", label="S2")  # device
        s3 = await connect(c.nodes[2], "rs", "json", label="S3")  # device
        s4 = await connect(c.nodes[0], "rs", "msgpack", label="S4")  # device, publisher's node
        s5 = await connect(c.nodes[2], "ws", "cbor", label="S5")  # anonymous
        sessions = [s1, s2, s3, s4, s5]
        try:
            roles = {s.label: s.authrole for s in [pub] + sessions}
            assert roles == {
                "P": "anonymous",
                "S1": "anonymous",
                "S2": "device",
                "S3": "device",
                "S4": "device",
                "S5": "anonymous",
            }, roles
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in sessions}
            everybody = {"S1", "S2", "S3", "S4", "S5"}
            devices = {"S2", "S3", "S4"}
            anonymous = {"S1", "S5"}
            scenarios = [
                ("exclude_authrole device", {"exclude_authrole": ["device"]}, anonymous),
                ("exclude_authrole anonymous", {"exclude_authrole": ["anonymous"]}, devices),
                ("exclude_authrole both", {"exclude_authrole": ["anonymous", "device"]}, set()),
                ("exclude_authrole unknown", {"exclude_authrole": ["com.no.such.role"]}, everybody),
                ("eligible_authrole device", {"eligible_authrole": ["device"]}, devices),
                ("eligible_authrole anonymous", {"eligible_authrole": ["anonymous"]}, anonymous),
                ("eligible_authrole both", {"eligible_authrole": ["anonymous", "device"]}, everybody),
                ("eligible_authrole unknown", {"eligible_authrole": ["com.no.such.role"]}, set()),
                (
                    "eligible_authrole device minus exclude S3",
                    {"eligible_authrole": ["device"], "exclude": [s3.session_id]},
                    {"S2", "S4"},
                ),
                (
                    "eligible_authrole anonymous and eligible_authid S1",
                    {"eligible_authrole": ["anonymous"], "eligible_authid": [s1.authid]},
                    {"S1"},
                ),
            ]
            _check(await _scenarios(pub, topic, inboxes, scenarios))
        finally:
            await close_all([pub] + sessions)

    run(body(), timeout=45)


# ------------------------------------------------------------ publisher disclosure


def test_publisher_disclosure_across_nodes(cluster, uid):
    """disclose_me=True (a raw publisher on node 0: Autobahn 26.10 has no such option) gives
    subscribers on every node details.publisher, publisher_authid and publisher_authrole;
    without it they get none (realm1 does not disclose by itself)."""
    c = cluster()
    topic = topic_for(uid, "disclose")

    async def body():
        subs = [
            await connect(c.nodes[0], "ws", "json", label="node0"),
            await connect(c.nodes[1], "rs", "msgpack", label="node1"),
            await connect(c.nodes[2], "ws", "cbor", label="node2"),
        ]
        raw = RawWamp(c.nodes[0], "ws", "json")
        try:
            raw.join()
            me = raw.welcome_details
            assert me.get("authid") and me.get("authrole"), me
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in subs}

            async def raw_publish(*args, **options):
                req = raw.publish(topic, list(args), options=dict(options, acknowledge=True))
                m = await asyncio.to_thread(raw.recv)
                assert m[:2] == [PUBLISHED, req], m

            await until(
                lambda k: raw_publish("warm", k),
                lambda: all(tagged(i, "warm") for i in inboxes.values()),
                lambda: [label for label, i in inboxes.items() if not tagged(i, "warm")],
            )
            await raw_publish("who", disclose_me=True)
            await raw_publish("anon")
            for label, inbox in inboxes.items():
                await wait_event(inbox, ["anon"])
                (who,) = tagged(inbox, "who")
                d = who[2]
                assert (d.publisher, d.publisher_authid, d.publisher_authrole) == (
                    raw.session_id,
                    me["authid"],
                    me["authrole"],
                ), (label, d)
                (anon,) = tagged(inbox, "anon")
                assert anon[2].publisher is None, (label, anon[2])
        finally:
            raw.close()
            await close_all(subs)

    run(body(), timeout=45)


# ------------------------------------------------------------ payload passthru

PPT = {
    "ppt_scheme": "wamp.eth",
    "ppt_serializer": "cbor",
    "ppt_cipher": "xsalsa20poly1305",
    "ppt_keyid": "0x7c1e8a1f0f3f7d2f9bb1b4a3c3a1d0e2f4a5b6c7",
}
# not valid MessagePack, CBOR or UTF-8: a node that parses the payload chokes on it
OPAQUE = b"\xc1\xff\x00\xfe garbage \x80\x81 payload"


def _recv_event(raw, predicate, max_messages=10000):
    """Raw EVENTs until one whose message satisfies `predicate` (blocking, bounded)."""
    for _ in range(max_messages):
        m = raw.recv_until(EVENT)
        if predicate(m):
            return m
    raise AssertionError("no such EVENT")


def test_payload_passthru_crosses_nodes_unchanged(cluster, uid):
    """A ppt publication on node 0 (raw peers: Autobahn 26.10 has no ppt_* options) reaches
    raw subscribers on nodes 0, 1 and 2, each on another transport and serializer, with the
    ppt_* details and the opaque payload unchanged."""
    c = cluster()
    topic = topic_for(uid, "ppt")
    layout = [(0, "rs", "msgpack"), (1, "rs", "cbor"), (2, "ws", "json"), (2, "ws", "msgpack")]

    async def body():
        subs = [RawWamp(c.nodes[n], t, s, timeout=CONVERGE + 5) for n, t, s in layout]
        raw_pub = RawWamp(c.nodes[0], "ws", "msgpack")
        warm_pub = await connect(c.nodes[0], "ws", "json")
        try:
            for s in subs:
                s.join()
                s.subscribe(topic)
            raw_pub.join()
            # each subscriber waits for a first event in a thread while node 0 publishes
            firsts = [asyncio.ensure_future(asyncio.to_thread(s.recv_until, EVENT)) for s in subs]
            await until(
                lambda k: publish(warm_pub, topic, "warm", k),
                lambda: all(f.done() for f in firsts),
                lambda: [layout[i] for i, f in enumerate(firsts) if not f.done()],
            )
            for f in firsts:
                f.result()
            req = raw_pub.publish(topic, [OPAQUE], options=dict(PPT, acknowledge=True))
            m = await asyncio.to_thread(raw_pub.recv)
            assert m[:2] == [PUBLISHED, req], m
            for s, where in zip(subs, layout):
                ev = await asyncio.to_thread(
                    _recv_event, s, lambda m: len(m) > 4 and m[4][:1] != ["warm"]
                )
                assert ev[4] == [OPAQUE], (where, ev)
                assert len(ev) == 5 or ev[5] in ({}, None), (where, ev)
                details = ev[3]
                for k, v in PPT.items():
                    assert details.get(k) == v, (where, details)
        finally:
            for s in subs + [raw_pub]:
                s.close()
            await warm_pub.close()

    run(body(), timeout=45)


# ------------------------------------------------------------ realms


def test_realm_not_in_cluster_stays_local(cluster, uid):
    """Only realm1 is clustered: on realm `disclosing` (a realm of router_config, not in
    cluster.realms) events reach the publisher's node only, both ways, while realm1 events
    on the same topic cross nodes (and never leak into the other realm)."""
    c = cluster(realms=("realm1",))
    topic = topic_for(uid, "localrealm")

    async def body():
        local0 = await connect(c.nodes[0], "ws", "json", realm="disclosing", label="local0")
        local1 = await connect(c.nodes[1], "rs", "msgpack", realm="disclosing", label="local1")
        pub0 = await connect(c.nodes[0], "rs", "json", realm="disclosing")
        pub1 = await connect(c.nodes[1], "ws", "cbor", realm="disclosing")
        shared1 = await connect(c.nodes[1], "ws", "json", label="shared1")  # realm1
        shared_pub = await connect(c.nodes[0], "ws", "msgpack")  # realm1
        sessions = [local0, local1, pub0, pub1, shared1, shared_pub]
        try:
            _, in0 = await subscribe(local0, topic)
            _, in1 = await subscribe(local1, topic)
            # subscribed after the `disclosing` ones: once it gets realm1 events from node 0,
            # node 1's subscriptions before it are known cluster-wide too (if they were to be)
            _, shared = await subscribe(shared1, topic)
            await until_received(shared_pub, topic, {"shared1": shared})
            for k in range(5):
                await publish(pub0, topic, "from0", k)
                await publish(pub1, topic, "from1", k)
                await asyncio.sleep(0.05)
            await wait_event(in0, ["from0", 4])
            await wait_event(in1, ["from1", 4])
            # realm1 still crosses after them
            await publish(shared_pub, topic, "end")
            await wait_event(shared, ["end"])
            await asyncio.sleep(1.0)  # what would cross has had time to
            got0, got1 = in0.args, in1.args
            assert got0 == [["from0", k] for k in range(5)], f"disclosing on node 0 got {got0}"
            assert got1 == [["from1", k] for k in range(5)], f"disclosing on node 1 got {got1}"
            leaked = [a for a in shared.args if a[:1] in (["from0"], ["from1"])]
            assert not leaked, f"realm1 on node 1 got {leaked}"
        finally:
            await close_all(sessions)

    run(body(), timeout=45)


# ------------------------------------------------------------ retained events


def test_retained_event_reaches_late_subscriber_on_other_node(cluster, uid):
    """Two retained publications on node 0; a subscriber joining later on node 1 (and one on
    node 2) with get_retained=True gets the last one, marked retained, then live events.
    The retained event may take a moment to be known cluster-wide: the subscriber subscribes
    again (every second, up to CONVERGE s) until it is."""
    c = cluster()
    topic = topic_for(uid, "retain")

    async def late(node, label):
        s = await connect(node, "rs", "msgpack", label=label)
        deadline = time.monotonic() + CONVERGE
        while True:
            sub, inbox = await subscribe(s, topic, get_retained=True)
            try:
                await wait_event(inbox, ["r2"], timeout=1.0)
                return s, inbox
            except AssertionError:
                if time.monotonic() > deadline:
                    await s.close()
                    raise AssertionError(
                        f"{label}: no retained ['r2'] within {CONVERGE}s; got {inbox.events}"
                    ) from None
                await sub.unsubscribe()

    async def body():
        pub = await connect(c.nodes[0], "ws", "json")
        subs = []
        try:
            await publish(pub, topic, "r1", retain=True)
            await publish(pub, topic, "r2", retain=True)
            for n in (1, 2):
                subs.append(await late(c.nodes[n], f"node{n}"))
            inboxes = {s.label: inbox for s, inbox in subs}
            await until_received(pub, topic, inboxes, tag="live")
            for label, inbox in inboxes.items():
                first = inbox.events[0]
                assert first[0] == ["r2"] and first[2].retained is True, (label, first)
                retained = [e[0] for e in inbox.events if e[2].retained]
                assert retained == [["r2"]], (label, retained)
                assert not any(e[2].retained for e in tagged(inbox, "live")), (label, inbox.events)
        finally:
            await close_all([pub] + [s for s, _ in subs])

    run(body(), timeout=45)


def test_retained_event_reaches_a_node_started_after_it(cluster, uid):
    """A retained publication on node 0 while node 1 is down: node 1, started afterwards,
    reads the cluster's retained events when it joins, and a subscriber there with
    get_retained=True gets it (polling: the node reads the bucket once NATS is reached)."""
    c = cluster()
    topic = topic_for(uid, "retainlate")

    async def body():
        c.kill_node(1)
        pub = await connect(c.nodes[0], "ws", "json")
        try:
            await publish(pub, topic, "kept", retain=True)
        finally:
            await pub.close()
        c.start_node(1)
        # node 1 is on NATS (and so reading the bucket) before its client comes; its status
        # answers once it has written its pid file
        def on_nats():
            try:
                status = json.loads(ringbar_status(c.nodes[1], "--json"))
            except subprocess.CalledProcessError:
                return False
            return status["cluster"]["connected"]

        deadline = time.monotonic() + CONVERGE
        while not await asyncio.to_thread(on_nats):
            assert time.monotonic() < deadline, "node 1 did not reach NATS"
            await asyncio.sleep(INTERVAL)
        s = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        try:
            deadline = time.monotonic() + CONVERGE
            while True:
                sub, inbox = await subscribe(s, topic, get_retained=True)
                try:
                    await wait_event(inbox, ["kept"], timeout=1.0)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"node 1 started after the retained publication never had it;"
                            f" got {inbox.events}"
                        ) from None
                    await sub.unsubscribe()
            assert inbox.events[0][2].retained is True, inbox.events
        finally:
            await s.close()

    run(body(), timeout=45)


# ------------------------------------------------------------ failures


def test_killed_node_does_not_stop_the_others_and_rejoins(cluster, uid):
    """SIGKILL node 1 while it has a subscriber: node 0 keeps routing (acknowledged at once)
    to its own subscriber and to node 2's, through and past the failure timeout. Node 1,
    started again, rejoins: a new subscriber there gets node 0's events, and its own
    publisher reaches nodes 0 and 2."""
    c = cluster(heartbeat_ms=HEARTBEAT_MS, failure_timeout_ms=FAILURE_TIMEOUT_MS)
    topic = topic_for(uid, "failure")

    async def body():
        local = await connect(c.nodes[0], "ws", "json", label="node0")
        doomed = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        far = await connect(c.nodes[2], "ws", "cbor", label="node2")
        pub = await connect(c.nodes[0], "rs", "json")
        sessions = [local, far, pub]
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (local, doomed, far)}
            await until_received(pub, topic, inboxes)
            alive = {k: v for k, v in inboxes.items() if k != "node1"}

            c.kill_node(1)
            await asyncio.wait_for(asyncio.shield(doomed.disconnected), DEFAULT_TIMEOUT)
            # through the failure timeout and past it: acknowledged promptly, delivered in order
            n = int((2 * FAILURE_TIMEOUT_MS + 3 * HEARTBEAT_MS) / 1000 / INTERVAL)
            slowest = 0.0
            for k in range(n):
                t0 = time.monotonic()
                await publish(pub, topic, "after", k)
                slowest = max(slowest, time.monotonic() - t0)
                await asyncio.sleep(INTERVAL)
            assert slowest < 2.0, f"a publication took {slowest:.2f}s to be acknowledged"
            for label, inbox in alive.items():
                await wait_event(inbox, ["after", n - 1])
                got = [e[0][1] for e in tagged(inbox, "after")]
                assert got == list(range(n)), (label, got)

            c.start_node(1)
            again = await connect(c.nodes[1], "rs", "msgpack", label="node1-again")
            pub1 = await connect(c.nodes[1], "ws", "json")
            sessions += [again, pub1]
            _, in_again = await subscribe(again, topic)
            await until_received(pub, topic, {"node1-again": in_again, **alive}, tag="rejoined")
            await until_received(pub1, topic, alive, tag="from-node1")
        finally:
            await close_all(sessions)

    run(body(), timeout=50)


def test_nats_restart(cluster, uid):
    """The (single) NATS server is killed: each node's local pub/sub keeps working (new
    sessions, new subscriptions, and node 0's publisher, acknowledged). NATS is started
    again (same port, same store): cross-node events flow again both ways, to the
    subscriptions from before and to one made while NATS was down."""
    c = cluster(servers=1)
    topic = topic_for(uid, "natsrestart")

    async def body():
        local = await connect(c.nodes[0], "ws", "json", label="node0")
        s1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        s2 = await connect(c.nodes[2], "ws", "cbor", label="node2")
        pub = await connect(c.nodes[0], "rs", "json")
        pub2 = await connect(c.nodes[2], "rs", "cbor")
        sessions = [local, s1, s2, pub, pub2]
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (local, s1, s2)}
            await until_received(pub, topic, inboxes)

            await asyncio.to_thread(c.nats.kill, 1)
            await asyncio.sleep(0.5)
            for node in c.nodes:
                await assert_pubsub_works(node)
            for k in range(5):
                await publish(pub, topic, "down", k)
            await wait_event(inboxes["node0"], ["down", 4])
            # a subscription made while NATS is down
            during = await connect(c.nodes[1], "ws", "cbor", label="node1-during")
            sessions.append(during)
            _, in_during = await subscribe(during, topic)
            await publish(pub2, topic, "down-local")
            await wait_event(inboxes["node2"], ["down-local"])

            await asyncio.to_thread(c.nats.restart, 1)
            remote = {"node1": inboxes["node1"], "node2": inboxes["node2"], "node1-during": in_during}
            await until_received(pub, topic, remote, tag="back", timeout=RECOVER)
            await until_received(
                pub2, topic, {"node0": inboxes["node0"], "node1": inboxes["node1"]}, tag="back2",
                timeout=RECOVER,
            )
            for node in c.nodes:
                await assert_pubsub_works(node)
        finally:
            await close_all(sessions)

    run(body(), timeout=55)
    for i, node in enumerate(c.nodes):
        said = node.log().count("cluster: NATS unreachable")
        assert said == 1, f"node {i} said {said} times that NATS was unreachable, not once"


def test_nats_cluster_survives_losing_a_server(cluster, uid):
    """Three NATS servers in one NATS cluster; every node is given all three URLs. The server
    with the most clients is killed: cross-node pub/sub works again within CONVERGE s, for
    the subscriptions from before and a new one, both ways."""
    c = cluster(servers=3)
    topic = topic_for(uid, "natscluster")
    assert len(c.urls) == 3

    async def body():
        local = await connect(c.nodes[0], "ws", "json", label="node0")
        s1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        s2 = await connect(c.nodes[2], "ws", "cbor", label="node2")
        pub = await connect(c.nodes[0], "rs", "json")
        pub1 = await connect(c.nodes[1], "ws", "msgpack")
        sessions = [local, s1, s2, pub, pub1]
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (local, s1, s2)}
            await until_received(pub, topic, inboxes)

            load = {i: await asyncio.to_thread(c.nats.connections, i) for i in (1, 2, 3)}
            victim = max(load, key=load.get)
            assert load[victim] > 0, load
            await asyncio.to_thread(c.nats.kill, victim)

            await until_received(
                pub, topic, {"node1": inboxes["node1"], "node2": inboxes["node2"]}, tag="failover"
            )
            late = await connect(c.nodes[2], "rs", "cbor", label="node2-late")
            sessions.append(late)
            _, in_late = await subscribe(late, topic)
            await until_received(pub, topic, {"node2-late": in_late}, tag="late")
            await until_received(
                pub1, topic, {"node0": inboxes["node0"], "node2-late": in_late}, tag="from-node1"
            )
        finally:
            await close_all(sessions)

    run(body(), timeout=50)


# ------------------------------------------------------------ status and metrics


def with_metrics(ports):
    """A make_config: router_config with `ringbar.metrics` on a port of each node's own;
    `ports` maps each node's WebSocket port to its metrics port."""

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        port = ports.setdefault(ws_port, free_port())
        config["ringbar"] = {
            "metrics": {"endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port}}
        }
        return config

    return make


def ringbar_status(node, *options):
    """`ringbar status DIR [options]` of a node: its standard output."""
    return subprocess.run(
        [RINGBAR_BIN, "status", str(node.dir), *options],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout


def test_status_and_metrics_show_the_cluster_link(cluster, uid):
    """Once events cross nodes both ways, node 0's `ringbar status --json` has a `cluster`
    object: its name, connected, the 2 other nodes, messages and bytes both ways; the text
    form has its `cluster:` line; the metrics endpoint the ringbar_cluster_* series with the
    same figures."""
    ports = {}
    c = cluster(make_config=with_metrics(ports))
    topic = topic_for(uid, "status")

    async def body():
        s0 = await connect(c.nodes[0], "ws", "json", label="node0")
        s1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        s2 = await connect(c.nodes[2], "ws", "cbor", label="node2")
        try:
            inboxes = {s.label: (await subscribe(s, topic))[1] for s in (s0, s1, s2)}
            await until_received(s0, topic, {k: inboxes[k] for k in ("node1", "node2")})
            await until_received(s1, topic, {"node0": inboxes["node0"]}, tag="from1")
            await until_received(s2, topic, {"node0": inboxes["node0"]}, tag="from2")
        finally:
            await close_all([s0, s1, s2])

    run(body(), timeout=45)

    # every node has heard the others' heartbeats by now; allow one more round
    deadline = time.monotonic() + CONVERGE
    while True:
        status = json.loads(ringbar_status(c.nodes[0], "--json"))
        link = status.get("cluster")
        if (link and link["connected"] and link["peers"] == 2) or time.monotonic() > deadline:
            break
        time.sleep(HEARTBEAT_MS / 1000)
    assert link is not None, status
    assert link["node"] == "node-0", link
    assert link["connected"] is True, link
    assert link["peers"] == 2, link
    for key in ("messages_in", "bytes_in", "messages_out", "bytes_out"):
        assert link[key] > 0, (key, link)
    assert link["bytes_in"] >= link["messages_in"] and link["bytes_out"] >= link["messages_out"], link
    assert link["unreadable"] == 0, link

    text = ringbar_status(c.nodes[0])
    assert re.search(
        r"^  cluster: node-0, connected to NATS, 2 other nodes; in [0-9,]+ messages \([^)]+\), "
        r"out [0-9,]+ \([^)]+\), [0-9,]+ not sent$",
        text,
        re.MULTILINE,
    ), text

    port = ports[c.nodes[0].ws_port]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    series = {}
    for line in metrics.splitlines():
        if line.startswith("ringbar_cluster_"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    assert series.get('ringbar_cluster_connected{node="node-0"}') == 1, series
    assert series.get("ringbar_cluster_peers") == 2, series
    for name in ("messages", "bytes"):
        for direction in ("in", "out"):
            key = f'ringbar_cluster_{name}_total{{direction="{direction}"}}'
            # counters only grow: at least what status read a moment before
            assert series.get(key, 0) >= link[f"{name}_{direction}"] > 0, (key, series, link)
    assert "ringbar_cluster_messages_not_sent_total" in series, series
    assert series.get("ringbar_cluster_messages_unreadable_total") == 0, series


def test_a_node_without_subscribers_receives_no_publications(cluster, uid):
    """Interest follows subscriptions: node 0 publishes 300 events to a topic only node 1
    subscribes to; node 1 gets every one, node 2 (no subscriber of it) receives from NATS
    only the cluster's own chatter (heartbeats, announcements), not the publications
    (its `ringbar status --json` cluster.messages_in)."""
    c = cluster()
    topic = topic_for(uid, "interest")

    def messages_in(node):
        return json.loads(ringbar_status(node, "--json"))["cluster"]["messages_in"]

    async def body():
        pub = await connect(c.nodes[0], "ws", "json")
        s1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        try:
            _, inbox = await subscribe(s1, topic)
            await until_received(pub, topic, {"node1": inbox})
            before = await asyncio.to_thread(messages_in, c.nodes[2])
            for k in range(300):
                await publish(pub, topic, "counted", k)
            await wait_event(inbox, ["counted", 299])
            after = await asyncio.to_thread(messages_in, c.nodes[2])
            assert after - before < 100, (
                f"node 2 received {after - before} messages from NATS while 300 publications"
                " went to node 1 only"
            )
        finally:
            await close_all([pub, s1])

    run(body(), timeout=45)
