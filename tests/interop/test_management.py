"""The management service (`ringbar management start DIR`) authenticates with
WAMP-cryptosign from its state database: a node by its instance key alone, as
`pairing` while it is not paired; an owner added with `--pubkey` by name, as `owner`;
an owner with a password by WAMP-ticket. Each role reaches only its part of the
management API. ringbar only: Crossbar.io has no such command."""

import asyncio
import copy
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from autobahn.wamp.exception import ApplicationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import RINGBAR_BIN, ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from test_auth import REFUSED, Ed25519Key, authenticating, cryptosign, ticket
from rawwamp import RawWebSocket
from wampclient import JoinFailed, connect, run

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.ringbar_only("the management service is ringbar's"),
]

REALM = "ringbar.management"
OWNER = Ed25519Key(bytes(range(32, 64)))
NODE = Ed25519Key(bytes(range(64, 96)))
STRANGER = Ed25519Key(bytes(range(96, 128)))
PASSWORD = "correct horse"


def management_config(init_config):
    """`ringbar management init`'s config (a web transport: the console at `/`, WAMP
    at `/ws`) on free ports, with a RawSocket transport (the same authentication)
    too."""

    def make(ws_port, rs_port):
        config = copy.deepcopy(init_config)
        router = config["workers"][0]
        web = router["transports"][0]
        web["endpoint"]["port"] = ws_port
        rawsocket = {
            "type": "rawsocket",
            "endpoint": {**web["endpoint"], "port": rs_port},
            "auth": web["paths"]["ws"]["auth"],
        }
        router["transports"].append(rawsocket)
        return config

    return make


class ManagementProcess(RouterProcess):
    """`ringbar management start DIR` instead of `ringbar start DIR`."""

    def command(self):
        command = super().command()
        return [command[0], "management", *command[1:]]


def ringbar(*args):
    done = subprocess.run(
        [RINGBAR_BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def service(router_setting):
    if ROUTER_KIND != "ringbar":
        pytest.skip("ringbar only")
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        ringbar("management", "init", d)
        ringbar("management", "adduser", d, "alice", "--pubkey", OWNER.public_key())
        done = subprocess.run(
            [RINGBAR_BIN, "management", "adduser", d, "carol"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RINGBAR_PASSWORD": PASSWORD},
        )
        assert done.returncode == 0, done.stderr
        # the config `start` writes replaces init's, on free ports
        init_config = json.loads((Path(d) / "config.json").read_text())
        (Path(d) / "config.json").unlink()
        r = ManagementProcess(ROUTER_KIND, router_setting, d, management_config(init_config))
        _start_or_fail(r)
        yield r
        _finish(r)


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_nodes_and_owners_join_by_their_keys(service, transport):
    async def join(authid, key, signer=None):
        factory = authenticating(
            ["cryptosign"], authid, {"pubkey": key.public_key()}, cryptosign(signer or key)
        )
        s = await connect(service, transport, "json", realm=REALM, factory=factory)
        try:
            d = s.joined.result()
            return (d.authid, d.authrole, d.authmethod, d.authprovider)
        finally:
            await s.close()

    async def refused_join(authid, key, signer=None, realm=REALM):
        factory = authenticating(
            ["cryptosign"], authid, {"pubkey": key.public_key()}, cryptosign(signer or key)
        )
        with pytest.raises(JoinFailed) as e:
            s = await connect(service, transport, "json", realm=realm, factory=factory)
            await s.close()
        assert e.value.reason in (*REFUSED, "wamp.error.no_such_realm"), e.value

    async def body():
        node = NODE.public_key()
        assert await join(None, NODE) == (node, "pairing", "cryptosign", "dynamic")
        assert await join(node, NODE) == (node, "pairing", "cryptosign", "dynamic")
        assert await join("alice", OWNER) == ("alice", "owner", "cryptosign", "dynamic")
        # a signature by another key than announced, an owner's name with another key,
        # an unknown owner, another realm
        await refused_join(None, NODE, signer=STRANGER)
        await refused_join("alice", STRANGER)
        await refused_join("bob", STRANGER)
        await refused_join(None, NODE, realm="realm1")

    run(body())


def test_owners_with_a_password_use_the_api_and_roles_stay_in_their_part(service):
    async def session(authmethods, authid, authextra, answer):
        factory = authenticating(authmethods, authid, authextra, answer)
        return await connect(service, "ws", "json", realm=REALM, factory=factory)

    async def call_error(s, procedure, *args):
        with pytest.raises(ApplicationError) as e:
            await asyncio.wait_for(s.call(procedure, *args), 10)
        return e.value.error

    async def body():
        carol = await session(["ticket"], "carol", None, ticket(PASSWORD))
        d = carol.joined.result()
        assert (d.authid, d.authrole, d.authmethod) == ("carol", "owner", "ticket")
        # the backend registers the API once the router runs: wait for it
        for _ in range(100):
            try:
                nodes = await carol.call("ringbar.management.owner.list_nodes")
                break
            except ApplicationError as e:
                assert e.error == "wamp.error.no_such_procedure", e
                await asyncio.sleep(0.1)
        assert nodes == []
        assert (
            await call_error(carol, "ringbar.management.owner.pair", "000000")
            == "ringbar.management.error.invalid_code"
        )
        assert (
            await call_error(carol, "ringbar.management.node.get_config")
            == "wamp.error.not_authorized"
        )
        await carol.close()

        node = await session(
            ["cryptosign"], None, {"pubkey": NODE.public_key()}, cryptosign(NODE)
        )
        code = await node.call("ringbar.management.pairing.activation_code")
        assert re.fullmatch(r"[345679ACEFGHJKLMNPQRSTUVWXY]{4}(-[345679ACEFGHJKLMNPQRSTUVWXY]{4}){2}", code["code"]), code
        assert code["expires_in"] == 600
        assert (
            await call_error(node, "ringbar.management.owner.pair", code["code"])
            == "wamp.error.not_authorized"
        )
        await node.close()

        with pytest.raises(JoinFailed) as e:
            s = await session(["ticket"], "carol", None, ticket("wrong horse"))
            await s.close()
        assert e.value.reason in REFUSED, e.value
        # an owner with a key has no password
        with pytest.raises(JoinFailed):
            s = await session(["ticket"], "alice", None, ticket(PASSWORD))
            await s.close()

    run(body())



def challenge_extra(service, transport, authextra):
    """The CHALLENGE's extra that a node joining with `authextra` gets."""
    seen = {}

    def answer(challenge):
        seen.update(challenge.extra)
        return NODE.sign_challenge(challenge)

    async def body():
        factory = authenticating(["cryptosign"], None, authextra, answer)
        s = await connect(service, transport, "json", realm=REALM, factory=factory)
        assert s.joined.result().authrole == "pairing"
        await s.close()

    run(body())
    return seen


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_the_service_proves_its_key_to_a_node_that_sends_a_challenge(service, transport):
    """WAMP-cryptosign router authentication, in the form Crossbar.io's router
    answers Autobahn: the node's `authextra.challenge` comes back signed with the
    service's instance key (`pubkey`, `signature` = signature then the message)."""
    key_file = (service.dir / "key.pub").read_text()
    service_key = re.search(r"public-key-ed25519: ([0-9a-f]{64})", key_file).group(1)
    challenge = os.urandom(32)
    extra = challenge_extra(
        service, transport, {"pubkey": NODE.public_key(), "challenge": challenge.hex()}
    )
    assert extra["pubkey"] == service_key, extra
    signed = bytes.fromhex(extra["signature"])
    assert signed[64:] == challenge, extra
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(service_key)).verify(signed[:64], challenge)
    # a node that sends no challenge gets no proof
    extra = challenge_extra(service, transport, {"pubkey": NODE.public_key()})
    assert "signature" not in extra and "pubkey" not in extra, extra


def test_the_console_is_served_with_its_policy_and_only_its_origin_opens_the_socket(service):
    """The console's page at `/` of the management transport, with a
    Content-Security-Policy that allows no inline script; `/ws` admits browsers
    only from the console's own origin (same scheme and port), and clients that
    send no Origin (nodes, `ringbar pair`)."""
    import http.client

    http = http.client.HTTPConnection("127.0.0.1", service.ws_port, timeout=5)
    try:
        for path, kind in [("/", "text/html"), ("/main.js", "text/javascript"), ("/wamp.js", "text/javascript")]:
            http.request("GET", path)
            response = http.getresponse()
            body = response.read()
            assert response.status == 200, (path, response.status)
            assert response.getheader("Content-Type").startswith(kind), path
            policy = response.getheader("Content-Security-Policy")
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
            assert body
        http.request("GET", "/no-such-file.js")
        response = http.getresponse()
        response.read()
        assert response.status == 404
    finally:
        http.close()
    port = service.ws_port
    for origin, admitted in [
        (f"http://127.0.0.1:{port}", True),
        (f"http://localhost:{port}", True),
        (None, True),
        (f"http://127.0.0.1:{port + 1}", False),
        ("https://evil.example", False),
        ("null", False),
    ]:
        ws = RawWebSocket("127.0.0.1", port)
        try:
            status = ws.handshake("/ws", extra_headers=[] if origin is None else [f"Origin: {origin}"])
        finally:
            ws.close()
        assert status == (101 if admitted else 403), (origin, status)
