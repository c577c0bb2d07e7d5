"""Dynamic authorizers, configured as Crossbar.io configures them: a role with
`"authorizer": "com.example.authorize"` has that procedure (registered by a session of
another role on the realm) decide each publish, subscribe, call and register, with
(session details, uri, action, options); it answers true/false or {allow, disclose,
cache}. A cached decision is not asked again; a refusal is wamp.error.not_authorized."""

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from authconfig import realm, started_router
from test_auth import authenticating, ticket
from wampclient import Client, Inbox, connect, run, subscribe

pytestmark = pytest.mark.timeout(120)

TICKET = "dyn-t1cket"
NOT_AUTHORIZED = "wamp.error.not_authorized"

AUTH = {
    "anonymous": {"type": "static", "role": "anonymous"},
    "ticket": {
        "type": "static",
        "principals": {"dyn-user": {"ticket": TICKET, "role": "dyn"}},
    },
}


def realms():
    r = realm()
    r["roles"].append({"name": "dyn", "authorizer": "com.example.authorize"})
    return [r]


class Authorizer(Client):
    """The authorizer, as an application writes it for Crossbar.io."""

    calls = []

    async def onJoin(self, details):
        await self.register(self.authorize, "com.example.authorize")
        await self.register(lambda: "pong", "com.allowed.proc")
        super().onJoin(details)

    def authorize(self, details, uri, action, options=None):
        Authorizer.calls.append((details, uri, action))
        if uri.startswith("com.allowed.cached"):
            return {"allow": True, "cache": True}
        if uri.startswith("com.allowed."):
            return True
        if uri == "com.disclosed":
            return {"allow": True, "disclose": True, "cache": True}
        return False


def asked(uri, action):
    return sum(1 for _, u, a in Authorizer.calls if (u, a) == (uri, action))


@pytest.fixture(scope="module")
def authz_router(router_setting):
    with started_router(router_setting, AUTH, realms()) as r:
        yield r


@pytest.mark.crossbar_differs(
    reason="Crossbar.io 25.x never answers the first acknowledged PUBLISH of a session whose "
    "role has a dynamic authorizer here (subscribe is answered); not investigated further"
)
@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_dynamic_authorizer(authz_router, transport):
    async def body():
        Authorizer.calls.clear()
        authorizer = await connect(authz_router, "ws", factory=Authorizer)
        s = await connect(
            authz_router, transport, factory=authenticating(["ticket"], "dyn-user", answer=ticket(TICKET))
        )
        try:
            assert s.authrole == "dyn"
            ack = PublishOptions(acknowledge=True, exclude_me=False)
            inbox = Inbox()
            await subscribe(s, "com.allowed.cached.t", inbox=inbox)
            for i in range(3):
                await s.publish("com.allowed.cached.t", i, options=ack)
            assert asked("com.allowed.cached.t", "publish") == 1
            assert asked("com.allowed.cached.t", "subscribe") == 1
            details, _, _ = Authorizer.calls[0]
            assert (details["authid"], details["authrole"]) == ("dyn-user", "dyn")
            assert details["session"] == s.session_id
            # not cached: asked every time
            for i in range(2):
                await s.publish("com.allowed.nocache", i, options=ack)
            assert asked("com.allowed.nocache", "publish") == 2
            # refused
            with pytest.raises(ApplicationError) as e:
                await s.publish("com.denied", 1, options=ack)
            assert e.value.error == NOT_AUTHORIZED
            with pytest.raises(ApplicationError) as e:
                await s.subscribe(lambda: None, "com.denied")
            assert e.value.error == NOT_AUTHORIZED
            with pytest.raises(ApplicationError) as e:
                await s.register(lambda: None, "com.denied.proc")
            assert e.value.error == NOT_AUTHORIZED
            # call allowed and refused
            assert await s.call("com.allowed.proc") == "pong"
            with pytest.raises(ApplicationError) as e:
                await s.call("com.denied.proc")
            assert e.value.error == NOT_AUTHORIZED
            # the session still works, and the events came through
            await inbox.wait_count(3)
        finally:
            await s.close()
            await authorizer.close()

    run(body())


@pytest.mark.crossbar_differs(
    reason="Crossbar.io refuses with wamp.error.authorization_failed when the authorizer "
    "is missing; ringbar says not_authorized"
)
def test_no_authorizer_refuses(authz_router):
    async def body():
        s = await connect(
            authz_router, "ws", factory=authenticating(["ticket"], "dyn-user", answer=ticket(TICKET))
        )
        try:
            with pytest.raises(ApplicationError) as e:
                await asyncio.wait_for(
                    s.publish("com.allowed.x", 1, options=PublishOptions(acknowledge=True)), 15
                )
            assert e.value.error == NOT_AUTHORIZED
        finally:
            await s.close()

    run(body())
