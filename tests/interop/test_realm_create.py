"""Realm creation on first join (a ringbar extension): with a realm template
(`"name": "*"`) in the config, a session that joins a realm that does not exist creates it
from the template when its role there has `"create": true`; any other session is refused
with wamp.error.no_such_realm. Once created, the realm takes every role of the template."""


import pytest
from autobahn.wamp.types import PublishOptions

from authconfig import realm, started_router
from conftest import ALL
from test_auth import authenticating, ticket
from wampclient import Inbox, JoinFailed, connect, run, subscribe

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.crossbar_differs(reason="realm creation on first join is a ringbar extension"),
]

TICKET = "cr3ate-ticket"

AUTH = {
    "anonymous": {"type": "static", "role": "anonymous"},
    "ticket": {
        "type": "static",
        "principals": {"maker": {"ticket": TICKET, "role": "creator"}},
    },
}


def realms():
    everything = [{"uri": "", "match": "prefix", "allow": ALL}]
    template = {
        "name": "*",
        "roles": [
            {"name": "creator", "create": True, "permissions": everything},
            {"name": "anonymous", "permissions": everything},
        ],
    }
    return [realm(), template]


@pytest.fixture(scope="module")
def create_router(router_setting):
    with started_router(router_setting, AUTH, realms()) as r:
        yield r


async def refused(router, transport, realm_name, factory=None):
    with pytest.raises(JoinFailed) as e:
        s = await connect(router, transport, realm=realm_name, factory=factory)
        await s.close()
    return e.value


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_realm_created_by_a_role_with_create(create_router, transport):
    async def body():
        name = f"com.example.created.{transport}"
        # a role without create cannot make it
        e = await refused(create_router, transport, name)
        assert e.reason == "wamp.error.no_such_realm", e
        assert "may not create" in e.message, e
        # a role with create makes it and joins
        maker = await connect(
            create_router,
            transport,
            realm=name,
            factory=authenticating(["ticket"], "maker", answer=ticket(TICKET)),
        )
        try:
            details = maker.joined.result()
            assert (details.realm, details.authrole) == (name, "creator")
            # now it exists: other roles of the template join it
            other = await connect(create_router, transport, realm=name)
            try:
                inbox = Inbox()
                await subscribe(other, "com.example.topic", inbox=inbox)
                await maker.publish(
                    "com.example.topic", "hello", options=PublishOptions(acknowledge=True)
                )
                await inbox.wait_arg("hello")
            finally:
                await other.close()
        finally:
            await maker.close()
        # a name that is not a realm URI is not created
        e = await refused(
            create_router,
            transport,
            "not a realm",
            factory=authenticating(["ticket"], "maker", answer=ticket(TICKET)),
        )
        assert e.reason == "wamp.error.no_such_realm", e

    run(body())
