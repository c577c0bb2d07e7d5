"""The broker, as real Autobahn|Python clients see it.

Where a test checks that an event is NOT delivered, the publisher follows it
with a sentinel event on the same topic that everybody receives: events of
one publisher to one subscriber on one topic arrive in order, so once the
sentinel is in, a filtered event would have arrived before it.
"""

import asyncio

import pytest
from autobahn.wamp.types import PublishOptions

from rawwamp import ERROR, PUBLISH, PUBLISHED, RawWamp
from wampclient import (
    COMBO_IDS,
    COMBOS,
    close_all,
    connect,
    connect_many,
    run,
    strict_equal,
    subscribe,
)

pytestmark = pytest.mark.timeout(60)

MAX_ID = 2**53

# values every serializer carries; bytes travel as "\0"+base64 in JSON (the WAMP convention,
# which Autobahn decodes back to bytes), natively in MessagePack and CBOR
PAYLOAD_ARGS = [
    0,
    1,
    -1,
    2**53,
    -(2**53),
    2**31 + 7,
    -(2**31) - 7,
    2**32,
    1.5,
    -0.25,
    1e300,
    -2.5e-300,
    "",
    "plain ascii",
    "héllo wörld ✓ 日本語 😀",
    'quote " backslash \\ tab \t newline \n end',
    "nul\x00inside",
    True,
    False,
    None,
    [],
    {},
    [1, [2, [3, [4, []]]]],
    {"a": {"b": {"c": [1, {"d": None}, "e"]}}},
    b"\x00\x01\x7f\x80\xfe\xff",
    b"",
]
PAYLOAD_KWARGS = {
    "int": 2**53,
    "neg": -(2**53),
    "float": 3.25,
    "uni": "ünïcödé 😀",
    "ключ": "значение",
    "bytes": b"\x00\xffbin",
    "nested": {"list": [1, "two", 3.5, None, True], "empty": {}, "emptylist": []},
}


def topic_for(uid, name):
    return f"com.interop.{name}.{uid}"


# ------------------------------------------------------------ payload fidelity


@pytest.mark.parametrize("pub_transport,pub_serializer", COMBOS, ids=COMBO_IDS)
def test_payload_arrives_exactly_on_every_serializer(router, uid, pub_transport, pub_serializer):
    """One publisher; a subscriber on every (transport, serializer): all see the same values."""

    async def body():
        topic = topic_for(uid, "payload")
        subs = await connect_many(router, COMBOS)
        pub = await connect(router, pub_transport, pub_serializer)
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            pub_id = await pub.publish(
                topic, *PAYLOAD_ARGS, options=PublishOptions(acknowledge=True), **PAYLOAD_KWARGS
            )
            for s, inbox in zip(subs, inboxes):
                await inbox.wait_count(1)
                args, kwargs, details = inbox.events[0]
                diff = strict_equal(args, PAYLOAD_ARGS, "args")
                assert diff is None, f"{pub.label} -> {s.label}: {diff}"
                diff = strict_equal(kwargs, PAYLOAD_KWARGS, "kwargs")
                assert diff is None, f"{pub.label} -> {s.label}: {diff}"
                assert details.publication == pub_id.id
                assert details.topic in (None, topic)
        finally:
            await close_all(subs + [pub])

    run(body())


def test_event_without_payload_and_with_kwargs_only(router, uid):
    async def body():
        topic = topic_for(uid, "shape")
        subs = await connect_many(router, [("ws", "json"), ("rs", "msgpack"), ("ws", "cbor")])
        pub = await connect(router, "rs", "json")
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            await pub.publish(topic, options=PublishOptions(acknowledge=True))
            await pub.publish(topic, only="kw", options=PublishOptions(acknowledge=True))
            for inbox in inboxes:
                await inbox.wait_count(2)
                assert inbox.events[0][0] == [] and inbox.events[0][1] == {}
                assert inbox.events[1][0] == [] and inbox.events[1][1] == {"only": "kw"}
        finally:
            await close_all(subs + [pub])

    run(body())


# ------------------------------------------------------------ acknowledge, URIs


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_acknowledged_publish_gets_publication_id(router, uid, transport, serializer):
    async def body():
        pub = await connect(router, transport, serializer)
        try:
            ids = []
            for i in range(3):
                p = await pub.publish(topic_for(uid, "ack"), i, options=PublishOptions(acknowledge=True))
                assert isinstance(p.id, int) and 1 <= p.id <= MAX_ID, p
                ids.append(p.id)
            assert len(set(ids)) == 3, ids
        finally:
            await pub.close()

    run(body())


INVALID_URIS = ["com..bad", "a b", "com.#bad", "com.bad.", ""]


@pytest.mark.crossbar_differs(
    reason="Crossbar.io drops the connection (WebSocket close 1011) instead of answering ERROR wamp.error.invalid_uri"
)
@pytest.mark.parametrize("uri", INVALID_URIS)
@pytest.mark.parametrize("transport,serializer", [("ws", "json"), ("rs", "msgpack")], ids=["ws-json", "rs-msgpack"])
def test_publish_invalid_uri_is_error_invalid_uri(router, transport, serializer, uri):
    """Autobahn refuses invalid URIs itself, so this PUBLISH is sent raw."""
    c = RawWamp(router, transport, serializer)
    try:
        c.join()
        req = c.publish(uri, [1], options={"acknowledge": True})
        m = c.recv()
        assert m[:3] == [ERROR, PUBLISH, req], m
        assert m[4] == "wamp.error.invalid_uri", m
        # the session lives on
        req = c.publish("com.interop.valid", [1], options={"acknowledge": True})
        m = c.recv()
        assert m[:2] == [PUBLISHED, req], m
    finally:
        c.close()
    run(_healthy(router))


_SUB_DIFFERS = pytest.mark.crossbar_differs(
    reason="Crossbar.io drops the connection (close 1011) on a SUBSCRIBE whose URI has whitespace or '#'"
)


@pytest.mark.parametrize(
    "uri", ["com..bad", pytest.param("a b", marks=_SUB_DIFFERS), pytest.param("com.#bad", marks=_SUB_DIFFERS)]
)
def test_subscribe_invalid_uri_is_error_invalid_uri(router, uri):
    c = RawWamp(router, "ws", "json")
    try:
        c.join()
        c.send([32, 7, {}, uri])
        m = c.recv()
        assert m[:3] == [ERROR, 32, 7], m
        assert m[4] == "wamp.error.invalid_uri", m
    finally:
        c.close()


async def _healthy(router):
    from wampclient import assert_pubsub_works

    await assert_pubsub_works(router)


# ------------------------------------------------------- exclusion and eligibility


async def _delivery(router, uid, name, options_for, publisher_subscribed=False):
    """Three subscribers S1 (ws-json), S2 (ws-msgpack), S3 (rs-cbor) and a publisher P (rs-json,
    subscribed too when asked). P publishes "x" with options_for(P, S1, S2, S3), then the sentinel.
    Returns the set of labels that received "x"."""
    topic = topic_for(uid, name)
    p = await connect(router, "rs", "json", label="P")
    s1 = await connect(router, "ws", "json", label="S1")
    s2 = await connect(router, "ws", "msgpack", label="S2")
    s3 = await connect(router, "rs", "cbor", label="S3")
    receivers = [s1, s2, s3] + ([p] if publisher_subscribed else [])
    try:
        inboxes = {s.label: (await subscribe(s, topic))[1] for s in receivers}
        opts = options_for(p, s1, s2, s3)
        await p.publish(topic, "x", options=PublishOptions(acknowledge=True, **opts))
        await p.publish(topic, "end", options=PublishOptions(acknowledge=True, exclude_me=False))
        for inbox in inboxes.values():
            await inbox.wait_arg("end")
        got = set()
        for label, inbox in inboxes.items():
            xs = [e for e in inbox.events if e[0] == ["x"]]
            assert len(xs) <= 1, f"{label} got 'x' {len(xs)} times"
            assert inbox.events[-1][0] == ["end"], f"{label}: {inbox.args}"
            if xs:
                got.add(label)
        return got
    finally:
        await close_all([p, s1, s2, s3])


def test_exclude_me_is_true_by_default(router, uid):
    got = run(_delivery(router, uid, "exme", lambda p, *s: {}, publisher_subscribed=True))
    assert got == {"S1", "S2", "S3"}


def test_exclude_me_false_delivers_to_publisher(router, uid):
    got = run(
        _delivery(router, uid, "exmef", lambda p, *s: {"exclude_me": False}, publisher_subscribed=True)
    )
    assert got == {"P", "S1", "S2", "S3"}


def test_exclude_me_true_explicit(router, uid):
    got = run(
        _delivery(router, uid, "exmet", lambda p, *s: {"exclude_me": True}, publisher_subscribed=True)
    )
    assert got == {"S1", "S2", "S3"}


def test_exclude_session_ids(router, uid):
    got = run(
        _delivery(router, uid, "excl", lambda p, s1, s2, s3: {"exclude": [s1.session_id, s3.session_id]})
    )
    assert got == {"S2"}


def test_exclude_authid(router, uid):
    got = run(_delivery(router, uid, "exaid", lambda p, s1, s2, s3: {"exclude_authid": [s2.authid]}))
    assert got == {"S1", "S3"}


def test_exclude_authrole(router, uid):
    got = run(_delivery(router, uid, "exar", lambda *s: {"exclude_authrole": ["anonymous"]}))
    assert got == set()
    got = run(_delivery(router, uid, "exar2", lambda *s: {"exclude_authrole": ["com.no.such.role"]}))
    assert got == {"S1", "S2", "S3"}


def test_eligible_session_ids(router, uid):
    got = run(
        _delivery(router, uid, "elig", lambda p, s1, s2, s3: {"eligible": [s1.session_id, s3.session_id]})
    )
    assert got == {"S1", "S3"}


def test_eligible_authid(router, uid):
    got = run(_delivery(router, uid, "elaid", lambda p, s1, s2, s3: {"eligible_authid": [s2.authid]}))
    assert got == {"S2"}


def test_eligible_authrole(router, uid):
    got = run(_delivery(router, uid, "elar", lambda *s: {"eligible_authrole": ["anonymous"]}))
    assert got == {"S1", "S2", "S3"}
    got = run(_delivery(router, uid, "elar2", lambda *s: {"eligible_authrole": ["com.no.such.role"]}))
    assert got == set()


def test_eligible_minus_exclude(router, uid):
    """eligible and exclude together: the eligible sessions minus the excluded ones."""
    got = run(
        _delivery(
            router,
            uid,
            "elex",
            lambda p, s1, s2, s3: {
                "eligible": [s1.session_id, s2.session_id],
                "exclude": [s2.session_id],
            },
        )
    )
    assert got == {"S1"}


def test_eligible_authid_and_exclude_session(router, uid):
    got = run(
        _delivery(
            router,
            uid,
            "elexa",
            lambda p, s1, s2, s3: {
                "eligible_authid": [s1.authid, s3.authid],
                "exclude": [s3.session_id],
            },
        )
    )
    assert got == {"S1"}


# ------------------------------------------------------------ publisher identification


@pytest.mark.crossbar_differs(
    reason="Crossbar.io 26.10 (on Autobahn 26.10, which dropped PUBLISH.Options.disclose_me) ignores disclose_me"
)
@pytest.mark.parametrize("transport,serializer", [("ws", "json"), ("rs", "cbor")], ids=["ws-json", "rs-cbor"])
def test_disclose_me_sets_event_publisher(router, uid, transport, serializer):
    """Autobahn 26.10 has no disclose_me option, so the publisher is a raw client."""

    async def body():
        topic = topic_for(uid, "disclose")
        subs = await connect_many(router, [("ws", "msgpack"), ("rs", "json")])
        raw = RawWamp(router, transport, serializer)
        try:
            raw.join()
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            req = raw.publish(topic, ["who"], options={"disclose_me": True, "acknowledge": True})
            m = await asyncio.to_thread(raw.recv)
            assert m[:2] == [PUBLISHED, req], m
            for inbox in inboxes:
                await inbox.wait_count(1)
                details = inbox.events[0][2]
                assert details.publisher == raw.session_id, details
        finally:
            raw.close()
            await close_all(subs)

    run(body())


def test_publisher_not_disclosed_by_default(router, uid):
    async def body():
        topic = topic_for(uid, "nodisclose")
        sub, pub = await connect_many(router, [("ws", "json"), ("rs", "msgpack")])
        try:
            _, inbox = await subscribe(sub, topic)
            await pub.publish(topic, 1, options=PublishOptions(acknowledge=True))
            await inbox.wait_count(1)
            assert inbox.events[0][2].publisher is None
        finally:
            await close_all([sub, pub])

    run(body())


# ------------------------------------------------------------ pattern-based subscriptions


def test_prefix_subscription_receives_matching_topics(router, uid):
    async def body():
        prefix = f"com.prefix.{uid}"
        sub, pub = await connect_many(router, [("ws", "cbor"), ("rs", "json")])
        try:
            _, inbox = await subscribe(sub, prefix, match="prefix")
            topics = [f"{prefix}.a", f"{prefix}.a.b.c", prefix]
            for t in topics + [f"com.other.{uid}.a"]:
                await pub.publish(t, t, options=PublishOptions(acknowledge=True))
            await pub.publish(f"{prefix}.end", "end", options=PublishOptions(acknowledge=True))
            await inbox.wait_arg("end")
            got = [(e[0][0], e[2].topic) for e in inbox.events]
            assert got == [(t, t) for t in topics] + [("end", f"{prefix}.end")]
        finally:
            await close_all([sub, pub])

    run(body())


def test_wildcard_subscription_receives_matching_topics(router, uid):
    async def body():
        base = f"com.wild.{uid}"
        sub, pub = await connect_many(router, [("rs", "msgpack"), ("ws", "json")])
        try:
            _, inbox = await subscribe(sub, f"{base}..c", match="wildcard")
            matching = [f"{base}.x.c", f"{base}.y.c"]
            not_matching = [f"{base}.x.d", f"{base}.x.c.d", f"{base}.c", f"com.wild.other.x.c"]
            for t in not_matching[:2] + matching[:1] + not_matching[2:] + matching[1:]:
                await pub.publish(t, t, options=PublishOptions(acknowledge=True))
            await pub.publish(f"{base}.end.c", "end", options=PublishOptions(acknowledge=True))
            await inbox.wait_arg("end")
            got = [(e[0][0], e[2].topic) for e in inbox.events]
            assert got == [(t, t) for t in matching] + [("end", f"{base}.end.c")]
        finally:
            await close_all([sub, pub])

    run(body())


def test_exact_subscription_event_has_no_topic_or_the_topic(router, uid):
    async def body():
        topic = topic_for(uid, "exacttopic")
        sub, pub = await connect_many(router, [("ws", "json"), ("ws", "json")])
        try:
            _, inbox = await subscribe(sub, topic)
            await pub.publish(topic, 1, options=PublishOptions(acknowledge=True))
            await inbox.wait_count(1)
            assert inbox.events[0][2].topic in (None, topic)
        finally:
            await close_all([sub, pub])

    run(body())


def test_overlapping_subscriptions_each_get_the_event(router, uid):
    """One session with an exact and a prefix subscription matching the same topic gets one
    EVENT per subscription."""

    async def body():
        topic = topic_for(uid, "overlap")
        sub, pub = await connect_many(router, [("rs", "cbor"), ("ws", "msgpack")])
        try:
            s_exact, in_exact = await subscribe(sub, topic)
            s_prefix, in_prefix = await subscribe(sub, topic[:-3], match="prefix")
            assert s_exact.id != s_prefix.id
            await pub.publish(topic, "o", options=PublishOptions(acknowledge=True))
            await in_exact.wait_count(1)
            await in_prefix.wait_count(1)
            assert in_exact.events[0][2].subscription.id == s_exact.id
            assert in_prefix.events[0][2].subscription.id == s_prefix.id
            assert in_prefix.events[0][2].topic == topic
        finally:
            await close_all([sub, pub])

    run(body())


@pytest.mark.parametrize("match", ["exact", "prefix", "wildcard"])
def test_same_topic_and_policy_share_subscription_id(router, uid, match):
    async def body():
        uri = {
            "exact": f"com.share.{uid}.t",
            "prefix": f"com.share.{uid}",
            "wildcard": f"com.share.{uid}..t",
        }[match]
        sessions = await connect_many(router, [("ws", "json"), ("rs", "msgpack"), ("ws", "cbor")])
        try:
            subs = [(await subscribe(s, uri, match=match))[0] for s in sessions]
            ids = {s.id for s in subs}
            assert len(ids) == 1, ids
            assert 1 <= subs[0].id <= MAX_ID
            if match != "wildcard":  # (a URI with an empty component is only a wildcard)
                # a different policy on the same URI is a different subscription
                other = "prefix" if match == "exact" else "exact"
                o, _ = await subscribe(sessions[0], uri, match=other)
                assert o.id not in ids
        finally:
            await close_all(sessions)

    run(body())


def test_resubscribe_after_all_left_still_works(router, uid):
    async def body():
        topic = topic_for(uid, "resub")
        a = await connect(router, "ws", "json")
        sub, _ = await subscribe(a, topic)
        await sub.unsubscribe()
        await a.close()
        b, pub = await connect_many(router, [("rs", "cbor"), ("ws", "msgpack")])
        try:
            _, inbox = await subscribe(b, topic)
            await pub.publish(topic, "again", options=PublishOptions(acknowledge=True))
            await inbox.wait_arg("again")
        finally:
            await close_all([b, pub])

    run(body())


# ------------------------------------------------------------ retained events


def test_retained_event_goes_to_late_subscriber(router, uid):
    async def body():
        topic = topic_for(uid, "retain")
        pub = await connect(router, "ws", "json")
        try:
            await pub.publish(topic, "r1", options=PublishOptions(acknowledge=True, retain=True))
            await pub.publish(topic, "r2", options=PublishOptions(acknowledge=True, retain=True))
            late = await connect(router, "rs", "msgpack")
            plain = await connect(router, "ws", "cbor")
            try:
                _, inbox = await subscribe(late, topic, get_retained=True)
                await inbox.wait_arg("r2")
                _, plain_inbox = await subscribe(plain, topic)
                await pub.publish(topic, "live", options=PublishOptions(acknowledge=True))
                await inbox.wait_arg("live")
                await plain_inbox.wait_arg("live")
                assert inbox.args == [["r2"], ["live"]], inbox.args
                assert inbox.events[0][2].retained is True
                assert not inbox.events[1][2].retained
                # no get_retained: no retained event
                assert plain_inbox.args == [["live"]], plain_inbox.args
            finally:
                await close_all([late, plain])
        finally:
            await pub.close()

    run(body())


def test_non_retained_publication_is_not_replayed(router, uid):
    async def body():
        topic = topic_for(uid, "noretain")
        pub = await connect(router, "rs", "json")
        try:
            await pub.publish(topic, "gone", options=PublishOptions(acknowledge=True))
            late = await connect(router, "ws", "msgpack")
            try:
                _, inbox = await subscribe(late, topic, get_retained=True)
                await pub.publish(topic, "live", options=PublishOptions(acknowledge=True))
                await inbox.wait_arg("live")
                assert inbox.args == [["live"]], inbox.args
            finally:
                await late.close()
        finally:
            await pub.close()

    run(body())


# ------------------------------------------------------------ ordering


@pytest.mark.timeout(120)
def test_ordering_2000_events_to_3_subscribers(router, uid):
    n = 2000

    async def body():
        topic = topic_for(uid, "order")
        subs = await connect_many(router, [("ws", "json"), ("ws", "msgpack"), ("rs", "cbor")])
        pub = await connect(router, "rs", "msgpack")
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            for i in range(n - 1):
                pub.publish(topic, i)
            await pub.publish(topic, n - 1, options=PublishOptions(acknowledge=True))
            for s, inbox in zip(subs, inboxes):
                await inbox.wait_count(n, timeout=60)
                got = [a[0] for a in inbox.args]
                assert got == list(range(n)), f"{s.label}: first mismatch at " + str(
                    next((i for i, (x, y) in enumerate(zip(got, range(n))) if x != y), len(got))
                )
        finally:
            await close_all(subs + [pub])

    run(body(), timeout=100)


def test_unacknowledged_publish_error_is_silent(router):
    """Without acknowledge the router sends nothing back, even when it refuses the publication."""

    async def body():
        s = await connect(router, "ws", "json", realm="restricted")
        try:
            s.publish("com.forbidden.topic", 1)  # no ERROR expected
            p = await s.publish("com.allowed.pub", 1, options=PublishOptions(acknowledge=True))
            assert p.id
        finally:
            await s.close()

    run(body())

