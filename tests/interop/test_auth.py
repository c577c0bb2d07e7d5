"""Authentication with static principals from a Crossbar.io-format `auth` section:
anonymous, ticket, wampcra (plain and salted with PBKDF2), cryptosign (with an authid, or
identified by the public key alone), the client's authmethods order, what WELCOME says,
that failures ABORT with not_authorized / authentication_failed naming no secret, and that
guessing tickets from one address is refused while other clients still join."""

import asyncio
import tempfile

import pytest
from autobahn.wamp import auth as wamp_auth
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import rawwamp
from authconfig import config_with_auth
from conftest import ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from wampclient import Client, JoinFailed, connect, run

pytestmark = pytest.mark.timeout(120)

TICKET = "sesame-Op3n!"
CRA_SECRET = "cra-s3cret"
SALTED_PASSWORD = "salted-pa55word"



class Ed25519Key:
    """A WAMP-cryptosign client key (Autobahn's own needs PyNaCl and more; `cryptography`
    signs the same Ed25519)."""

    def __init__(self, seed):
        self.key = Ed25519PrivateKey.from_private_bytes(seed)

    def public_key(self):
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign_challenge(self, challenge):
        """The AUTHENTICATE signature: hex of the signature then the 32 challenge bytes."""
        data = bytes.fromhex(challenge.extra["challenge"])
        return (self.key.sign(data) + data).hex()


ALICE = Ed25519Key(bytes(range(32)))
MALLORY = Ed25519Key(bytes(range(1, 33)))

AUTH = {
    "anonymous": {"type": "static", "role": "anonymous"},
    "ticket": {
        "type": "static",
        "principals": {"joe": {"ticket": TICKET, "role": "frontend"}},
    },
    "wampcra": {
        "type": "static",
        "users": {
            "peter": {"secret": CRA_SECRET, "role": "backend"},
            "salty": {
                "secret": SALTED_PASSWORD,
                "role": "user",
                "salt": "salt123",
                "iterations": 100,
                "keylen": 32,
            },
        },
    },
    "cryptosign": {
        "type": "static",
        "principals": {"alice": {"authorized_keys": [ALICE.public_key()], "role": "device"}},
    },
}

REFUSED = ("wamp.error.not_authorized", "wamp.error.authentication_failed")


@pytest.fixture(scope="module")
def auth_router(router_setting):
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        r = RouterProcess(ROUTER_KIND, router_setting, d, config_with_auth(AUTH))
        _start_or_fail(r)
        yield r
        _finish(r)


def authenticating(authmethods, authid=None, authextra=None, answer=None):
    """A Client class that joins with `authmethods` and answers CHALLENGE with
    `answer(challenge)`."""

    class AuthClient(Client):
        def onConnect(self):
            self.join(
                self.config.realm, authmethods=authmethods, authid=authid, authextra=authextra
            )

        def onChallenge(self, challenge):
            return answer(challenge)

    return AuthClient


def ticket(value):
    return lambda challenge: value


def wampcra(secret):
    def answer(challenge):
        key = secret.encode()
        if "salt" in challenge.extra:
            key = wamp_auth.derive_key(
                secret,
                challenge.extra["salt"],
                challenge.extra["iterations"],
                challenge.extra["keylen"],
            )
        return wamp_auth.compute_wcs(key, challenge.extra["challenge"]).decode()

    return answer


def cryptosign(key):
    return lambda challenge: key.sign_challenge(challenge)


async def join(router, transport, factory):
    return await connect(router, transport, "json", factory=factory)


async def joined_details(router, transport, factory):
    s = await join(router, transport, factory)
    try:
        d = s.joined.result()
        return (d.authid, d.authrole, d.authmethod, d.authprovider)
    finally:
        await s.close()


async def refused(router, transport, factory, secret=None):
    with pytest.raises(JoinFailed) as e:
        s = await join(router, transport, factory)
        await s.close()
    assert e.value.reason in REFUSED, e.value
    # this module stays under the router's failure budget per address (20 at once):
    # a refusal for too many failures would hide what the test checks
    assert "too many failed" not in (e.value.message or ""), e.value
    if secret is not None:
        assert secret not in (e.value.message or ""), e.value.message
    return e.value


TRANSPORTS = ["ws", "rs"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ticket(auth_router, transport):
    async def body():
        got = await joined_details(
            auth_router, transport, authenticating(["ticket"], "joe", answer=ticket(TICKET))
        )
        assert got == ("joe", "frontend", "ticket", "static")
        await refused(
            auth_router,
            transport,
            authenticating(["ticket"], "joe", answer=ticket(TICKET + "x")),
            secret=TICKET,
        )
        await refused(
            auth_router,
            transport,
            authenticating(["ticket"], "nobody", answer=ticket(TICKET)),
            secret=TICKET,
        )

    run(body())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wampcra(auth_router, transport):
    async def body():
        got = await joined_details(
            auth_router, transport, authenticating(["wampcra"], "peter", answer=wampcra(CRA_SECRET))
        )
        assert got == ("peter", "backend", "wampcra", "static")
        await refused(
            auth_router,
            transport,
            authenticating(["wampcra"], "peter", answer=wampcra("wrong")),
            secret=CRA_SECRET,
        )
        await refused(
            auth_router,
            transport,
            authenticating(["wampcra"], "paul", answer=wampcra(CRA_SECRET)),
        )

    run(body())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wampcra_salted(auth_router, transport):
    async def body():
        seen = {}

        def answer(challenge):
            seen.update(challenge.extra)
            return wampcra(SALTED_PASSWORD)(challenge)

        got = await joined_details(
            auth_router, transport, authenticating(["wampcra"], "salty", answer=answer)
        )
        assert got == ("salty", "user", "wampcra", "static")
        assert (seen["salt"], seen["iterations"], seen["keylen"]) == ("salt123", 100, 32)
        await refused(
            auth_router,
            transport,
            authenticating(["wampcra"], "salty", answer=wampcra(SALTED_PASSWORD + "!")),
            secret=SALTED_PASSWORD,
        )

    run(body())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cryptosign(auth_router, transport):
    async def body():
        alice = {"pubkey": ALICE.public_key()}
        got = await joined_details(
            auth_router,
            transport,
            authenticating(["cryptosign"], "alice", alice, answer=cryptosign(ALICE)),
        )
        assert got == ("alice", "device", "cryptosign", "static")
        # no authid: the key identifies the principal
        got = await joined_details(
            auth_router,
            transport,
            authenticating(["cryptosign"], None, alice, answer=cryptosign(ALICE)),
        )
        assert got == ("alice", "device", "cryptosign", "static")
        # announcing alice's key but signing with another
        await refused(
            auth_router,
            transport,
            authenticating(["cryptosign"], "alice", alice, answer=cryptosign(MALLORY)),
        )
        # a key alice does not have, with and without authid
        mallory = {"pubkey": MALLORY.public_key()}
        for authid in ("alice", None):
            await refused(
                auth_router,
                transport,
                authenticating(["cryptosign"], authid, mallory, answer=cryptosign(MALLORY)),
            )
        # an unknown authid
        await refused(
            auth_router,
            transport,
            authenticating(["cryptosign"], "bob", alice, answer=cryptosign(ALICE)),
        )

    run(body())


def test_the_clients_authmethods_order_decides(auth_router):
    async def body():
        got = await joined_details(
            auth_router, "ws", authenticating(["ticket", "anonymous"], "joe", answer=ticket(TICKET))
        )
        assert got[1:] == ("frontend", "ticket", "static")
        got = await joined_details(
            auth_router, "ws", authenticating(["anonymous", "ticket"], "joe", answer=ticket(TICKET))
        )
        assert got[1:] == ("anonymous", "anonymous", "static")
        # a method the transport does not have is skipped
        got = await joined_details(
            auth_router, "rs", authenticating(["scram", "ticket"], "joe", answer=ticket(TICKET))
        )
        assert got[1:] == ("frontend", "ticket", "static")
        # and none at all is refused
        with pytest.raises(JoinFailed) as e:
            await join(auth_router, "rs", authenticating(["scram"], "joe", answer=ticket(TICKET)))
        assert e.value.reason == "wamp.error.no_auth_method", e.value

    run(body())


def test_anonymous_without_authmethods(auth_router):
    async def body():
        s = await connect(auth_router, "ws", "json")
        try:
            d = s.joined.result()
            assert (d.authrole, d.authmethod, d.authprovider) == ("anonymous", "anonymous", "static")
            assert d.authid
        finally:
            await s.close()

    run(body())


def test_anonymous_sessions_do_not_choose_their_authid(auth_router, router_factory):
    """An anonymous session proved nothing: the authid it asks for is not taken; it gets a
    random one, or the one the config fixes."""

    async def body(router, expected):
        s = await join(router, "rs", authenticating(["anonymous"], "joe"))
        try:
            d = s.joined.result()
            assert d.authmethod == "anonymous"
            assert d.authid != "joe"
            if expected is not None:
                assert d.authid == expected
        finally:
            await s.close()

    run(body(auth_router, None))
    fixed = {"anonymous": {"type": "static", "role": "anonymous", "authid": "guest"}}
    run(body(router_factory(make_config=config_with_auth(fixed)), "guest"))


def test_ticket_transport_without_anonymous_refuses_anonymous(router_factory):
    auth = {"ticket": AUTH["ticket"]}
    r = router_factory(make_config=config_with_auth(auth))

    async def body():
        with pytest.raises(JoinFailed) as e:
            await connect(r, "ws", "json")
        assert e.value.reason == "wamp.error.no_auth_method", e.value
        got = await joined_details(r, "rs", authenticating(["ticket"], "joe", answer=ticket(TICKET)))
        assert got == ("joe", "frontend", "ticket", "static")

    run(body())


def raw_ticket_attempt(router, ticket_value, source="127.0.0.1"):
    """One HELLO with ticket auth over RawSocket from `source`; returns ('welcome', details)
    or ('abort', reason, message)."""
    conn = rawwamp.RawSocketConn("127.0.0.1", router.rs_port, source_address=(source, 0))
    w = rawwamp.RawWamp.wrap(conn, "rs", "json")
    try:
        conn.handshake("json")
        m = w.hello(details={"authmethods": ["ticket"], "authid": "joe"})
        if m[0] == rawwamp.CHALLENGE:
            w.send([rawwamp.AUTHENTICATE, ticket_value, {}])
            m = w.recv()
        if m[0] == rawwamp.WELCOME:
            return ("welcome", m[2])
        assert m[0] == rawwamp.ABORT, m
        return ("abort", m[2], m[1].get("message", ""))
    finally:
        w.close()


@pytest.mark.ringbar_only(reason="Crossbar.io does not rate limit failed authentication")
def test_guessing_tickets_is_refused_while_others_join(router_factory):
    """1,000 bad tickets from 127.0.0.1: after a burst, the router refuses to check more
    (the secret is never compared again until the budget refills), while a client from
    127.0.0.2 still joins with the right ticket, during and after the attack."""
    r = router_factory(make_config=config_with_auth(AUTH))
    outcomes = {"checked": 0, "limited": 0}
    for i in range(1000):
        result = raw_ticket_attempt(r, f"guess-{i}")
        assert result[0] == "abort", result
        assert result[1] in REFUSED, result
        if "too many failed authentication attempts" in result[2]:
            outcomes["limited"] += 1
        else:
            outcomes["checked"] += 1
        if i % 250 == 0:
            ok = raw_ticket_attempt(r, TICKET, source="127.0.0.2")
            assert ok[0] == "welcome", ok
    # a burst is checked; the rest only as fast as the budget refills (1/s)
    assert outcomes["checked"] < 100, outcomes
    assert outcomes["limited"] > 900, outcomes
    # the right ticket from the attacking address is refused too while it is limited
    limited = raw_ticket_attempt(r, TICKET)
    assert limited[0] == "abort", limited
    ok = raw_ticket_attempt(r, TICKET, source="127.0.0.2")
    assert ok[0] == "welcome" and ok[1]["authid"] == "joe", ok


@pytest.mark.crossbar_differs(reason="Crossbar.io ignores other messages while authenticating")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_only_authenticate_answers_a_challenge(auth_router, transport):
    """After CHALLENGE the router takes AUTHENTICATE only: anything else is a protocol
    violation that ends the session."""
    w = rawwamp.RawWamp(auth_router, transport, "json")
    try:
        m = w.hello(details={"authmethods": ["ticket"], "authid": "joe"})
        assert m[0] == rawwamp.CHALLENGE and m[1] == "ticket", m
        w.publish("com.example.topic", [1])
        assert w.expect_closed() == ("abort", "wamp.error.protocol_violation")
    finally:
        w.close()


@pytest.mark.crossbar_differs(reason="Crossbar.io ABORTs AUTHENTICATE before HELLO with not_authorized")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_authenticate_without_challenge_is_a_protocol_violation(auth_router, transport):
    w = rawwamp.RawWamp(auth_router, transport, "json")
    try:
        w.send([rawwamp.AUTHENTICATE, TICKET, {}])
        assert w.expect_closed() == ("abort", "wamp.error.protocol_violation")
    finally:
        w.close()
