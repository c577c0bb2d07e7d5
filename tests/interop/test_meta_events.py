"""Meta events (WAMP spec, Subscription and Session Meta API): what the router itself
publishes when subscriptions change, seen by real Autobahn|Python clients."""

import re
import time

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from wampclient import COMBO_IDS, COMBOS, close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(60)

ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")

SUBSCRIPTION_EVENTS = ("on_create", "on_subscribe", "on_unsubscribe", "on_delete")


async def _watch(session, names):
    """Subscribe to wamp.subscription.<name> for every name; returns {name: Inbox}."""
    return {n: (await subscribe(session, f"wamp.subscription.{n}"))[1] for n in names}


@pytest.mark.parametrize("combo", COMBOS, ids=COMBO_IDS)
def test_subscription_lifecycle_events(router, combo):
    async def body():
        watcher = await connect(router, *combo, label="watcher")
        first = await connect(router, "ws", "json", label="first")
        second = await connect(router, "rs", "msgpack", label="second")
        try:
            inboxes = await _watch(watcher, SUBSCRIPTION_EVENTS)
            topic = f"com.meta.lifecycle.t{time.monotonic_ns()}"

            sub1, _ = await subscribe(first, topic)
            await inboxes["on_subscribe"].wait_arg(first.session_id)
            assert len(inboxes["on_create"].events) == 1, inboxes["on_create"].events
            args, _, _ = inboxes["on_create"].events[0]
            assert args[0] == first.session_id
            details = args[1]
            assert details["id"] == sub1.id
            assert details["uri"] == topic
            assert details["match"] == "exact"
            assert ISO_8601.match(details["created"]), details["created"]
            assert inboxes["on_subscribe"].args[0] == [first.session_id, sub1.id]

            # a second subscriber joins the same subscription: on_subscribe, no on_create
            sub2, _ = await subscribe(second, topic)
            assert sub2.id == sub1.id
            await inboxes["on_subscribe"].wait_arg(second.session_id)
            assert inboxes["on_subscribe"].args[1] == [second.session_id, sub1.id]

            # the first leaves: on_unsubscribe only; the last leaves: on_unsubscribe, on_delete
            await sub1.unsubscribe()
            await inboxes["on_unsubscribe"].wait_arg(first.session_id)
            await sub2.unsubscribe()
            await inboxes["on_delete"].wait_arg(second.session_id)
            assert inboxes["on_unsubscribe"].args == [
                [first.session_id, sub1.id],
                [second.session_id, sub1.id],
            ]
            assert inboxes["on_delete"].args == [[second.session_id, sub1.id]]
            assert len(inboxes["on_create"].events) == 1
        finally:
            await close_all([watcher, first, second])

    run(body())


@pytest.mark.crossbar_differs(
    reason="Crossbar.io sends null for the session id in on_unsubscribe/on_delete when a session leaves"
    " (crossbar issue 2084); the spec says session|id"
)
def test_a_leaving_session_unsubscribes_with_meta_events(router):
    async def body():
        watcher = await connect(router, "ws", "cbor", label="watcher")
        leaver = await connect(router, "ws", "json", label="leaver")
        try:
            inboxes = await _watch(watcher, ("on_unsubscribe", "on_delete"))
            topic = f"com.meta.leaver.t{time.monotonic_ns()}"
            sub, _ = await subscribe(leaver, topic, match="prefix")
            leaver_id = leaver.session_id
            await leaver.close()
            await inboxes["on_delete"].wait_arg(leaver_id)
            assert inboxes["on_unsubscribe"].args == [[leaver_id, sub.id]]
            assert inboxes["on_delete"].args == [[leaver_id, sub.id]]
        finally:
            await close_all([watcher])

    run(body())


def test_subscriptions_to_meta_topics_raise_no_meta_events(router):
    async def body():
        watcher = await connect(router, "ws", "json", label="watcher")
        other = await connect(router, "rs", "cbor", label="other")
        try:
            inboxes = await _watch(watcher, ("on_create", "on_subscribe"))
            await subscribe(other, "wamp.subscription.on_delete")
            sentinel = f"com.meta.sentinel.t{time.monotonic_ns()}"
            await subscribe(other, sentinel)
            await inboxes["on_create"].wait_for(
                lambda ev: any(e[0][1]["uri"] == sentinel for e in ev), what="the sentinel's on_create"
            )
            uris = [e[0][1]["uri"] for e in inboxes["on_create"].events]
            assert uris == [sentinel], uris
        finally:
            await close_all([watcher, other])

    run(body())


def test_clients_may_not_publish_to_wamp_topics(router):
    async def body():
        session = await connect(router, "ws", "json")
        try:
            with pytest.raises(ApplicationError) as refused:
                await session.publish(
                    "wamp.session.on_join", {"session": 1}, options=PublishOptions(acknowledge=True)
                )
            assert refused.value.error == "wamp.error.invalid_uri"
        finally:
            await close_all([session])

    run(body())


@pytest.mark.parametrize("combo", COMBOS, ids=COMBO_IDS)
def test_session_on_join_describes_the_session(router, combo):
    async def body():
        watcher = await connect(router, "ws", "json", label="watcher")
        try:
            _, joins = await subscribe(watcher, "wamp.session.on_join")
            joiner = await connect(router, *combo, label="joiner")
            try:
                await joins.wait_for(
                    lambda ev: any(e[0][0].get("session") == joiner.session_id for e in ev),
                    what="the joiner's on_join",
                )
                (details,) = [e[0][0] for e in joins.events if e[0][0]["session"] == joiner.session_id]
                assert details["authid"] == joiner.authid
                assert details["authrole"] == joiner.authrole == "anonymous"
                assert details["authmethod"] == "anonymous"
                assert isinstance(details["authprovider"], str) and details["authprovider"]
                assert isinstance(details.get("transport"), dict), details
            finally:
                await close_all([joiner])
        finally:
            await close_all([watcher])

    run(body())


@pytest.mark.crossbar_differs(reason="Crossbar.io's on_leave carries the session id only; the spec adds authid and authrole")
def test_session_on_leave_carries_id_authid_and_authrole(router):
    async def body():
        watcher = await connect(router, "rs", "msgpack", label="watcher")
        try:
            _, leaves = await subscribe(watcher, "wamp.session.on_leave")
            leaver = await connect(router, "ws", "cbor", label="leaver")
            who = (leaver.session_id, leaver.authid, leaver.authrole)
            await leaver.close()
            await leaves.wait_arg(who[0])
            assert [e for e in leaves.args if e[0] == who[0]] == [list(who)]
        finally:
            await close_all([watcher])

    run(body())
