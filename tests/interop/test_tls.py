"""TLS on TCP endpoints (wss:// and RawSocket over TLS), with a CA and certificates the
test makes itself: server-only TLS, mutual TLS with `tls` client-certificate
authentication, clients that do not trust the server or bring no certificate, and a bad
key or certificate file refusing start-up with an error that names the file."""

import asyncio
import json
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest

from authconfig import config_with_auth
from conftest import (
    RINGBAR_BIN,
    ROUTER_KIND,
    WS_PATH,
    RouterProcess,
    _finish,
    _start_or_fail,
    free_port,
)
from test_auth import authenticating
from tlscerts import CertificateAuthority
from wampclient import JoinFailed, close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(120)

ANONYMOUS = {"anonymous": {"type": "static", "role": "anonymous"}}


def urls(router):
    return {
        "ws": f"wss://127.0.0.1:{router.ws_port}/{WS_PATH}",
        "rs": f"rss://127.0.0.1:{router.rs_port}",
    }


@pytest.fixture(scope="module")
def pki():
    with tempfile.TemporaryDirectory(prefix="interop-pki-") as d:
        ca = CertificateAuthority(d)
        (Path(d) / "stranger").mkdir()
        stranger = CertificateAuthority(Path(d) / "stranger", name="stranger CA")
        yield {
            "ca": ca,
            "server": ca.server(),
            "client0": ca.client("client0", "client0"),
            "client1": ca.client("client1", "client1"),
            # a CA the router does not know, and a client certificate it signed
            "stranger": stranger,
            "intruder": stranger.client("intruder", "client0"),
        }


def server_tls(pki, mutual=False):
    tls = {"key": str(pki["server"].key_path), "certificate": str(pki["server"].cert_path)}
    if mutual:
        tls["ca_certificates"] = [str(pki["ca"].cert_path)]
    return tls


def start(router_setting, make_config):
    d = tempfile.TemporaryDirectory(prefix="interop-")
    r = RouterProcess(ROUTER_KIND, router_setting, d.name, make_config)
    _start_or_fail(r)
    return r, d


@pytest.fixture(scope="module")
def tls_router(router_setting, pki):
    r, d = start(router_setting, config_with_auth(ANONYMOUS, tls=server_tls(pki)))
    yield r
    _finish(r)
    d.cleanup()


@pytest.fixture(scope="module")
def mutual_router(router_setting, pki):
    auth = {
        "tls": {
            "type": "static",
            "principals": {"client0": {"certificate-sha1": pki["client0"].sha1, "role": "device"}},
        },
        "anonymous": {"type": "static", "role": "anonymous"},
    }
    r, d = start(router_setting, config_with_auth(auth, tls=server_tls(pki, mutual=True)))
    yield r
    _finish(r)
    d.cleanup()


@pytest.mark.parametrize("transport", ["ws", "rs"])
@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_server_tls_pubsub(tls_router, pki, transport, serializer, uid):
    """Join over TLS and move events both ways, one of them bigger than a TLS record."""

    async def body():
        ctx = pki["ca"].client_context()
        url = urls(tls_router)[transport]
        sub = await connect(tls_router, transport, serializer, url=url, ssl=ctx)
        pub = await connect(tls_router, transport, serializer, url=url, ssl=ctx)
        try:
            topic = f"com.tls.{uid}"
            _, inbox = await subscribe(sub, topic)
            big = "x" * 200_000
            from autobahn.wamp.types import PublishOptions

            for payload in ("small", big):
                await pub.publish(topic, payload, options=PublishOptions(acknowledge=True))
            await inbox.wait_count(2)
            assert inbox.args == [["small"], [big]]
        finally:
            await close_all([sub, pub])

    run(body())


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_clients_that_do_not_trust_the_server_or_speak_plain_fail(tls_router, pki, transport):
    async def body():
        with pytest.raises((ssl.SSLError, ConnectionError, JoinFailed, asyncio.TimeoutError)):
            await connect(
                tls_router,
                transport,
                url=urls(tls_router)[transport],
                ssl=pki["stranger"].client_context(),
                timeout=2,
            )
        with pytest.raises((ConnectionError, JoinFailed, asyncio.TimeoutError, OSError)):
            s = await connect(tls_router, transport, timeout=2)
            await s.close()

    run(body())


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_client_certificate_authentication(mutual_router, pki, transport):
    async def body():
        url = urls(mutual_router)[transport]
        ctx = pki["ca"].client_context(pki["client0"])
        s = await connect(
            mutual_router,
            transport,
            url=url,
            ssl=ctx,
            factory=authenticating(["tls", "anonymous"]),
        )
        try:
            d = s.joined.result()
            assert (d.authid, d.authrole, d.authmethod) == ("client0", "device", "tls")
        finally:
            await s.close()
        # a certificate the CA signed but no principal has
        with pytest.raises(JoinFailed) as e:
            await connect(
                mutual_router,
                transport,
                url=url,
                ssl=pki["ca"].client_context(pki["client1"]),
                factory=authenticating(["tls"]),
            )
        assert e.value.reason in (
            "wamp.error.not_authorized",
            "wamp.error.authentication_failed",
        ), e.value
        # no certificate, or one from a CA the router does not know: no TLS session
        for ctx in (pki["ca"].client_context(), pki["ca"].client_context(pki["intruder"])):
            with pytest.raises((ssl.SSLError, ConnectionError, JoinFailed, asyncio.TimeoutError)):
                s = await connect(mutual_router, transport, url=url, ssl=ctx, timeout=2)
                await s.close()

    run(body())


@pytest.mark.ringbar_only(reason="require_client_certificate is a ringbar setting")
def test_optional_client_certificate(router_setting, pki):
    """With `require_client_certificate: false`, clients without a certificate connect;
    `tls` authentication refuses them and anonymous still admits them."""
    tls = dict(server_tls(pki, mutual=True), require_client_certificate=False)
    auth = {
        "tls": {
            "type": "static",
            "principals": {"client0": {"certificate-sha1": pki["client0"].sha1, "role": "device"}},
        },
        "anonymous": {"type": "static", "role": "anonymous"},
    }
    r, d = start(router_setting, config_with_auth(auth, tls=tls))
    try:

        async def body():
            url = urls(r)["rs"]
            with pytest.raises(JoinFailed) as e:
                await connect(
                    r, "rs", url=url, ssl=pki["ca"].client_context(), factory=authenticating(["tls"])
                )
            assert e.value.reason == "wamp.error.not_authorized", e.value
            s = await connect(r, "rs", url=url, ssl=pki["ca"].client_context())
            assert s.joined.result().authmethod == "anonymous"
            await s.close()
            s = await connect(
                r,
                "ws",
                url=urls(r)["ws"],
                ssl=pki["ca"].client_context(pki["client0"]),
                factory=authenticating(["tls"]),
            )
            assert s.joined.result().authid == "client0"
            await s.close()
            # a certificate from a CA the router does not know is still refused
            with pytest.raises((ssl.SSLError, ConnectionError, JoinFailed, asyncio.TimeoutError)):
                intruder = pki["ca"].client_context(pki["intruder"])
                s = await connect(r, "rs", url=url, ssl=intruder, timeout=2)
                await s.close()

        run(body())
    finally:
        _finish(r)
        d.cleanup()


@pytest.mark.ringbar_only(reason="ringbar's start-up error text")
@pytest.mark.parametrize("broken", ["missing_key", "garbage_certificate", "mismatched_key"])
def test_bad_tls_files_are_a_startup_error_naming_the_file(router_setting, pki, broken, tmp_path):
    tls = server_tls(pki)
    if broken == "missing_key":
        tls["key"] = str(tmp_path / "no-such.key")
        named = "no-such.key"
    elif broken == "garbage_certificate":
        garbage = tmp_path / "garbage.crt"
        garbage.write_text("this is not a certificate\n")
        tls["certificate"] = str(garbage)
        named = "garbage.crt"
    else:
        tls["key"] = str(pki["client0"].key_path)
        named = "server.crt"
    config = config_with_auth(ANONYMOUS, tls=tls)(free_port(), free_port())
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [RINGBAR_BIN, "start", str(tmp_path), "--cores", "1", "--io", router_setting.io],
        capture_output=True,
        timeout=30,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode != 0, output
    assert named in output, output
