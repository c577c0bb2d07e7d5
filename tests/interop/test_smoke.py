"""Smoke subset on the full router matrix (every --cores x --io setting): join on every
transport and serializer, events between all of them, in order."""

import pytest
from autobahn.wamp.types import PublishOptions

from wampclient import COMBOS, close_all, connect_many, run, strict_equal, subscribe

pytestmark = [pytest.mark.router_matrix("full"), pytest.mark.timeout(90)]

VALUES = [2**53, -(2**53), 1.5, "ünï 😀", b"\x00\xff", [1, {"a": [True, None]}]]


def test_smoke_every_combo_publishes_to_every_combo(router, uid):
    async def body():
        topic = f"com.smoke.all.{uid}"
        sessions = await connect_many(router, COMBOS)
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in sessions]
            for s in sessions:
                await s.publish(
                    topic, s.label, *VALUES, options=PublishOptions(acknowledge=True, exclude_me=False), k=VALUES
                )
            for s, inbox in zip(sessions, inboxes):
                await inbox.wait_count(len(sessions))
                assert sorted(a[0] for a in inbox.args) == sorted(x.label for x in sessions)
                for args, kwargs, _ in inbox.events:
                    assert strict_equal(args[1:], VALUES) is None, (s.label, args)
                    assert strict_equal(kwargs, {"k": VALUES}) is None, (s.label, kwargs)
        finally:
            await close_all(sessions)

    run(body())


def test_smoke_ordering_500_events_to_every_combo(router, uid):
    n = 500

    async def body():
        topic = f"com.smoke.order.{uid}"
        sessions = await connect_many(router, COMBOS + [("ws", "json")])
        subs, pub = sessions[:-1], sessions[-1]
        try:
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            for i in range(n - 1):
                pub.publish(topic, i)
            await pub.publish(topic, n - 1, options=PublishOptions(acknowledge=True))
            for s, inbox in zip(subs, inboxes):
                await inbox.wait_count(n, timeout=30)
                assert [a[0] for a in inbox.args] == list(range(n)), s.label
        finally:
            await close_all(sessions)

    run(body())
