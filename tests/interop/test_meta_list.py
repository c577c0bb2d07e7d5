"""The `list` permission (a ringbar extension): a role's permission with `"list": false`
hides the matching subscriptions and registrations from that role's meta API calls
(wamp.subscription.* and wamp.registration.*: list, lookup, match, get, and the calls that
take an id), as if they did not exist. A permission without `list` allows it, and a role
none of whose permissions says `list` sees everything, as before."""


import pytest
from autobahn.wamp.exception import ApplicationError

from authconfig import realm, started_router
from conftest import ALL
from test_auth import authenticating, ticket
from wampclient import connect, run

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.crossbar_differs(reason="`list` is a ringbar extension of the role model"),
]

TICKET = "l1st-ticket"

AUTH = {
    "anonymous": {"type": "static", "role": "anonymous"},
    "ticket": {
        "type": "static",
        "principals": {"lister": {"ticket": TICKET, "role": "lister"}},
    },
}


def realms():
    r = realm()
    r["roles"].append(
        {
            "name": "lister",
            "permissions": [
                {"uri": "com.public.", "match": "prefix", "allow": ALL},
                {"uri": "com.private.", "match": "prefix", "allow": dict(ALL, list=False)},
                {"uri": "wamp.", "match": "prefix", "allow": {"call": True}},
            ],
        }
    )
    return [r]


@pytest.fixture(scope="module")
def list_router(router_setting):
    with started_router(router_setting, AUTH, realms()) as r:
        yield r


def ids(lists):
    return set(lists["exact"]) | set(lists["prefix"]) | set(lists["wildcard"])


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_meta_api_shows_only_what_the_role_may_list(list_router, transport):
    async def body():
        owner = await connect(list_router, transport)
        lister = await connect(
            list_router,
            transport,
            factory=authenticating(["ticket"], "lister", answer=ticket(TICKET)),
        )
        try:
            public_sub = await owner.subscribe(lambda: None, "com.public.t")
            private_sub = await owner.subscribe(lambda: None, "com.private.t")
            public_reg = await owner.register(lambda: None, "com.public.p")
            private_reg = await owner.register(lambda: None, "com.private.p")

            # the owner's role says nothing of list: it sees everything
            seen = ids(await owner.call("wamp.subscription.list"))
            assert {public_sub.id, private_sub.id} <= seen
            assert await owner.call("wamp.subscription.lookup", "com.private.t") == private_sub.id

            subs = ids(await lister.call("wamp.subscription.list"))
            assert public_sub.id in subs and private_sub.id not in subs
            regs = ids(await lister.call("wamp.registration.list"))
            assert public_reg.id in regs and private_reg.id not in regs

            assert await lister.call("wamp.subscription.lookup", "com.public.t") == public_sub.id
            assert await lister.call("wamp.subscription.lookup", "com.private.t") is None
            assert await lister.call("wamp.subscription.match", "com.private.t") is None
            assert await lister.call("wamp.registration.lookup", "com.private.p") is None
            assert await lister.call("wamp.registration.match", "com.private.p") is None
            assert await lister.call("wamp.registration.match", "com.public.p") == public_reg.id

            for procedure, id_, error in (
                ("wamp.subscription.get", private_sub.id, "wamp.error.no_such_subscription"),
                ("wamp.subscription.list_subscribers", private_sub.id, "wamp.error.no_such_subscription"),
                ("wamp.registration.get", private_reg.id, "wamp.error.no_such_registration"),
                ("wamp.registration.list_callees", private_reg.id, "wamp.error.no_such_registration"),
            ):
                with pytest.raises(ApplicationError) as e:
                    await lister.call(procedure, id_)
                assert e.value.error == error, (procedure, e.value)
            got = await lister.call("wamp.subscription.get", public_sub.id)
            assert got["uri"] == "com.public.t"
        finally:
            await lister.close()
            await owner.close()

    run(body())
