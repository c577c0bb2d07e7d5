"""The management service (`ringbar management start DIR`) authenticates with
WAMP-cryptosign from its state database: a node by its instance key alone, as
`pairing` while it is not paired; an owner added with `--pubkey` by name, as `owner`.
ringbar only: Crossbar.io has no such command."""

import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import RINGBAR_BIN, ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from test_auth import REFUSED, Ed25519Key, authenticating, cryptosign
from wampclient import JoinFailed, connect, run

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.ringbar_only("the management service is ringbar's"),
]

REALM = "ringbar.management"
OWNER = Ed25519Key(bytes(range(32, 64)))
NODE = Ed25519Key(bytes(range(64, 96)))
STRANGER = Ed25519Key(bytes(range(96, 128)))
CRYPTOSIGN = {"cryptosign": {"type": "static", "principals": {}}}


def management_config(ws_port, rs_port):
    """`ringbar management init`'s config on free ports, with a RawSocket transport too."""
    endpoint = lambda port: {"type": "tcp", "interface": "127.0.0.1", "port": port}
    return {
        "version": 2,
        "workers": [
            {
                "type": "router",
                "realms": [
                    {
                        "name": REALM,
                        "roles": [
                            {"name": role, "permissions": []}
                            for role in ("owner", "node", "pairing")
                        ],
                    }
                ],
                "transports": [
                    {"type": "websocket", "endpoint": endpoint(ws_port), "auth": CRYPTOSIGN},
                    {"type": "rawsocket", "endpoint": endpoint(rs_port), "auth": CRYPTOSIGN},
                ],
            }
        ],
    }


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
        # the config `start` writes replaces init's, on free ports
        (Path(d) / "config.json").unlink()
        r = ManagementProcess(ROUTER_KIND, router_setting, d, management_config)
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
