"""Cluster mode (`ringbar.cluster`) against NATS servers that ask their clients to log in or
to use TLS: two ringbar nodes share realm1 through one private NATS server (the `cluster`
fixture in conftest.py, with `nats_server=` for the server's side and `nats=` for the keys of
each node's `ringbar.cluster.nats`; scripts/nats writes the server's authorization and tls
blocks).

What the tests hold the cluster to (docs/CLUSTER.md, Config):
- with the right credentials, events cross nodes both ways, for each way of logging in: a
  token, a user and password, an NKey user seed (the server knows the user's public key),
  and a secret written "$VAR" (read from the node's environment);
- over TLS, with the server's certificate from a test CA that the nodes trust
  (`tls.ca_certificates`), whether the URLs say tls:// or nats:// (`tls` set asks for TLS
  either way), and with a client certificate when the server asks for one (verify);
- a node with a wrong token keeps serving its own clients (local pub/sub), says in its log
  that NATS refused it, never counts as a client of the server, and gets nothing of the
  other node's events.
"""

import asyncio
import json
import os
import re
import urllib.request

import pytest

from test_cluster import INTERVAL, publish, topic_for, until_received, wait_event
from wampclient import assert_pubsub_works, close_all, connect, run, subscribe

try:
    import nkeys
except ImportError:  # tests/interop/requirements.txt pins it; scripts/interop installs it
    nkeys = None

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.ringbar_only(reason="ringbar.cluster (NATS) is ringbar's"),
]

TOKEN = "t0ken-for-the-ringbar-nodes"
# how long the test waits for what must not arrive (s): many heartbeats and convergence loops
QUIET = 2.0


async def cross_both_ways(c, uid, name):
    """A publisher on node 0 reaches a subscriber on node 1, and one on node 1 a subscriber
    on node 0 (publishing until the first event arrives, CONVERGE s at most); then a fresh
    event each way arrives once."""
    topic = topic_for(uid, name)
    sub0 = await connect(c.nodes[0], "ws", "json", label="node0")
    sub1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
    pub0 = await connect(c.nodes[0], "rs", "cbor")
    pub1 = await connect(c.nodes[1], "ws", "json")
    try:
        _, in0 = await subscribe(sub0, topic)
        _, in1 = await subscribe(sub1, topic)
        await until_received(pub0, topic, {"node1": in1}, tag="warm0")
        await until_received(pub1, topic, {"node0": in0}, tag="warm1")
        await publish(pub0, topic, "from0")
        await publish(pub1, topic, "from1")
        await wait_event(in1, ["from0"])
        await wait_event(in0, ["from1"])
        assert in1.args.count(["from0"]) == 1, in1.args
        assert in0.args.count(["from1"]) == 1, in0.args
    finally:
        await close_all([sub0, sub1, pub0, pub1])


def nats_connz(c):
    """The server's client connections (its monitoring port's /connz), each with its TLS
    version when it uses TLS."""
    monitor = c.nats.ports()[1][2]
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/connz", timeout=5) as r:
        return json.load(r).get("connections", [])


def check_cross(c, uid, name):
    run(cross_both_ways(c, uid, name), timeout=45)
    # both nodes are clients of the server (the monitoring port's count)
    assert c.nats.connections(1) == 2, c.nats.varz(1)


def user_nkey():
    """A fresh NKey user: (seed "SU...", public key "U...")."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode(), nkeys.from_seed(seed).public_key.decode()


# ------------------------------------------------------------ logging in


def test_token(cluster, uid):
    """The server wants a token; both nodes give it (`nats.token`)."""
    c = cluster(nodes=2, nats_server={"token": TOKEN}, nats={"token": TOKEN})
    check_cross(c, uid, "token")


def test_user_and_password(cluster, uid):
    """The server knows two users; each node logs in as one (`nats.user`, `nats.password`)."""
    users = [("node-a", "pw-of-node-a"), ("node-b", "pw:of node b")]
    c = cluster(
        nodes=2,
        nats_server={"users": users},
        nats=[{"user": u, "password": p} for u, p in users],
    )
    check_cross(c, uid, "userpw")


@pytest.mark.skipif(nkeys is None, reason="the PyPI package nkeys is not installed (pinned in requirements.txt)")
def test_nkey_seed(cluster, uid):
    """The server knows two NKey users by their public keys; each node has its seed
    (`nats.nkey_seed`, "SU...") and signs the server's nonce with it."""
    keys = [user_nkey(), user_nkey()]
    c = cluster(
        nodes=2,
        nats_server={"nkeys": [public for _, public in keys]},
        nats=[{"nkey_seed": seed} for seed, _ in keys],
    )
    check_cross(c, uid, "nkey")


@pytest.mark.parametrize("what", ["token", "password", "nkey_seed"])
def test_secret_from_environment(cluster, uid, monkeypatch, what):
    """The secret is written "$VAR" in config.json: the node reads it from its environment
    (the nodes inherit the test's; config.json does not hold it)."""
    var = f"RINGBAR_TEST_NATS_{what.upper()}"
    if what == "token":
        secret, server, node = TOKEN, {"token": TOKEN}, {"token": f"${var}"}
    elif what == "password":
        secret = "pw-from-the-environment"
        server = {"users": [("node", secret)]}
        node = {"user": "node", "password": f"${var}"}
    else:
        if nkeys is None:
            pytest.skip("the PyPI package nkeys is not installed (pinned in requirements.txt)")
        secret, public = user_nkey()
        server, node = {"nkeys": [public]}, {"nkey_seed": f"${var}"}
    monkeypatch.setenv(var, secret)
    c = cluster(nodes=2, nats_server=server, nats=node)
    for r in c.nodes:
        assert secret not in (r.dir / "config.json").read_text()
    check_cross(c, uid, f"env{what}")


# ------------------------------------------------------------ TLS


def test_tls(cluster, uid):
    """The server speaks TLS to its clients, with a certificate for 127.0.0.1 from a test CA;
    the nodes trust that CA (`nats.tls.ca_certificates`, the CA's PEM file in the node
    directory). Node 0 has the tls:// URL, node 1 the nats:// one: with `tls` set, both
    connect over TLS."""

    def plain_url(i, urls):
        return {"servers": [u.replace("tls://", "nats://") for u in urls]} if i == 1 else {}

    c = cluster(nodes=2, nats_server={"tls": True}, nats=plain_url)
    assert all(u.startswith("tls://") for u in c.urls), c.urls
    check_cross(c, uid, "tls")
    conns = nats_connz(c)
    assert len(conns) == 2 and all(x.get("tls_version") for x in conns), conns


def test_tls_client_certificate_and_token(cluster, uid):
    """The server asks for a client certificate from the test CA (tls { verify: true }) and a
    token: the nodes present theirs (`nats.tls.certificate`, `key`) and give the token."""
    c = cluster(nodes=2, nats_server={"tls": "verify", "token": TOKEN}, nats={"token": TOKEN})
    check_cross(c, uid, "mtls")
    conns = nats_connz(c)
    assert len(conns) == 2 and all(x.get("tls_version") for x in conns), conns


# ------------------------------------------------------------ wrong credentials

# what says, in a node's log, that NATS refused its login: the node's own `cluster:` line,
# said once however often the client tries again ("not reached" when the login fails as it
# connects, "refused" when an established connection is refused; the NATS client's own
# lines are off at --loglevel info)
REFUSED = re.compile(
    r"^.*cluster: NATS (refused this node|not reached).*check ringbar\.cluster\.nats.*$", re.M
)


def test_wrong_token_node_routes_locally(cluster, uid):
    """Node 1 gives a wrong token (node 0 the right one). Node 1 keeps serving its own
    clients (a publisher and a subscriber there, and a fresh pair), its log says NATS
    refused it, the server never has it as a client, and node 0's events do not reach
    node 1's subscriber (while they do reach node 0's own)."""
    c = cluster(
        nodes=2,
        nats_server={"token": TOKEN},
        nats=[{"token": TOKEN}, {"token": "not-the-token"}],
    )
    topic = topic_for(uid, "wrongtoken")

    async def body():
        local0 = await connect(c.nodes[0], "ws", "json", label="node0")
        sub1 = await connect(c.nodes[1], "rs", "msgpack", label="node1")
        pub0 = await connect(c.nodes[0], "rs", "cbor")
        pub1 = await connect(c.nodes[1], "ws", "json")
        try:
            _, in0 = await subscribe(local0, topic)
            _, in1 = await subscribe(sub1, topic)
            # node 1 routes its own publisher's events to its own subscriber
            await publish(pub1, topic, "local1")
            await wait_event(in1, ["local1"])
            await assert_pubsub_works(c.nodes[1])
            # node 0's events, for longer than a subscription takes to cross, stay on node 0
            n = int(QUIET / INTERVAL)
            for k in range(n):
                await publish(pub0, topic, "from0", k)
                await asyncio.sleep(INTERVAL)
            await wait_event(in0, ["from0", n - 1])
            leaked = [a for a in in1.args if a[:1] == ["from0"]]
            assert not leaked, f"node 1 (wrong token) got node 0's events: {leaked}"
            # and node 1's do not reach node 0's subscriber
            assert not [a for a in in0.args if a[:1] == ["local1"]], in0.args
            await assert_pubsub_works(c.nodes[1])
        finally:
            await close_all([local0, sub1, pub0, pub1])

    run(body(), timeout=45)
    log = c.nodes[1].log()
    refused = [m.group(0) for m in REFUSED.finditer(log)]
    assert len(refused) == 1, f"node 1's log must say once that NATS refused its token:\n{log[-3000:]}"
    assert "cluster: connected to NATS" not in log, log[-3000:]
    assert "cluster: connected to NATS" in c.nodes[0].log(), c.nodes[0].log()[-3000:]
    # only node 0 is a client of the server, which refused node 1's token
    assert c.nats.connections(1) == 1, c.nats.varz(1)
    assert "authentication error" in c.nats.logs(), c.nats.logs()
    assert c.nodes[1].alive()
