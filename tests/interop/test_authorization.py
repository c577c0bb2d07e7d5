"""Static authorization of the anonymous role, in realm `restricted`:
subscribe allowed on the prefix `com.allowed.`, publish allowed only on `com.allowed.pub`."""

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from wampclient import COMBO_IDS, COMBOS, close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(60)

NOT_AUTHORIZED = "wamp.error.not_authorized"


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_publish_to_forbidden_topic_is_not_authorized(router, transport, serializer):
    async def body():
        s = await connect(router, transport, serializer, realm="restricted")
        try:
            for topic in ("com.forbidden.topic", "com.allowed.other", "com.allowed.pub.sub"):
                with pytest.raises(ApplicationError) as e:
                    await asyncio.wait_for(
                        s.publish(topic, 1, options=PublishOptions(acknowledge=True)), 10
                    )
                assert e.value.error == NOT_AUTHORIZED, (topic, e.value)
            # the session is still usable
            p = await s.publish("com.allowed.pub", 1, options=PublishOptions(acknowledge=True))
            assert p.id
        finally:
            await s.close()

    run(body())


@pytest.mark.parametrize("transport,serializer", COMBOS, ids=COMBO_IDS)
def test_subscribe_to_forbidden_topic_is_not_authorized(router, transport, serializer):
    async def body():
        s = await connect(router, transport, serializer, realm="restricted")
        try:
            for topic, match in (("com.forbidden.topic", None), ("com.forbidden", "prefix")):
                with pytest.raises(ApplicationError) as e:
                    await subscribe(s, topic, match=match)
                assert e.value.error == NOT_AUTHORIZED, (topic, e.value)
            sub, _ = await subscribe(s, "com.allowed.anything")
            assert sub.id
        finally:
            await s.close()

    run(body())


def test_allowed_publish_reaches_allowed_subscriber(router):
    async def body():
        sub = await connect(router, "rs", "cbor", realm="restricted")
        pub = await connect(router, "ws", "json", realm="restricted")
        try:
            _, inbox = await subscribe(sub, "com.allowed.pub")
            _, prefix_inbox = await subscribe(sub, "com.allowed.", match="prefix")
            with pytest.raises(ApplicationError):
                await pub.publish("com.allowed.nope", "no", options=PublishOptions(acknowledge=True))
            await pub.publish("com.allowed.pub", "yes", options=PublishOptions(acknowledge=True))
            await inbox.wait_arg("yes")
            await prefix_inbox.wait_arg("yes")
            assert inbox.args == [["yes"]]
            assert prefix_inbox.args == [["yes"]]
        finally:
            await close_all([sub, pub])

    run(body())


def test_realms_are_isolated(router, uid):
    """The same topic in realm1 and restricted are different topics."""

    async def body():
        topic = "com.allowed.pub"
        r1_sub = await connect(router, "ws", "msgpack", realm="realm1")
        r2_sub = await connect(router, "ws", "msgpack", realm="restricted")
        pub = await connect(router, "rs", "json", realm="restricted")
        try:
            _, in1 = await subscribe(r1_sub, topic)
            _, in2 = await subscribe(r2_sub, topic)
            await pub.publish(topic, "r2", options=PublishOptions(acknowledge=True))
            await in2.wait_arg("r2")
            r1_pub = await connect(router, "rs", "json", realm="realm1")
            try:
                await r1_pub.publish(topic, "r1", options=PublishOptions(acknowledge=True))
                await in1.wait_arg("r1")
            finally:
                await r1_pub.close()
            assert in1.args == [["r1"]]
            assert in2.args == [["r2"]]
        finally:
            await close_all([r1_sub, r2_sub, pub])

    run(body())
