"""A `universal` transport: Autobahn|Python over RawSocket, Autobahn|Python over
WebSocket and plain HTTP requests, all on one port, told apart by their first bytes;
also behind TLS."""

import asyncio
import http.client
import tempfile
from pathlib import Path

import pytest

from conftest import WS_PATH, router_config
from tlscerts import CertificateAuthority
from wampclient import close_all, connect, run, subscribe

pytestmark = pytest.mark.timeout(120)

PAGE = b"<h1>served by the universal port</h1>\n"


@pytest.fixture(scope="module")
def site():
    with tempfile.TemporaryDirectory(prefix="interop-site-") as d:
        (Path(d) / "index.html").write_bytes(PAGE)
        yield d


@pytest.fixture(scope="module")
def ca():
    with tempfile.TemporaryDirectory(prefix="interop-pki-") as d:
        authority = CertificateAuthority(d)
        yield authority, authority.server()


def universal_config(site, tls=None):
    def make(ws_port, rs_port):
        serializers = ["json", "msgpack", "cbor"]
        endpoint = {"type": "tcp", "interface": "127.0.0.1", "port": ws_port}
        if tls:
            endpoint["tls"] = tls
        transport = {
            "type": "universal",
            "endpoint": endpoint,
            "rawsocket": {"type": "rawsocket", "serializers": serializers},
            "websocket": {WS_PATH: {"type": "websocket", "serializers": serializers}},
            "web": {
                "paths": {
                    "/": {"type": "static", "directory": site},
                    "info": {"type": "json", "value": {"port": ws_port}},
                },
                # Strict-Transport-Security on responses over TLS
                "options": {"hsts": True, "hsts_max_age": 600},
            },
        }
        # the realms of every module; the universal transport takes the web transport's
        # place (and port), and the fixture still waits for the RawSocket port too
        config = router_config(ws_port, rs_port)
        config["workers"][0]["transports"][0] = transport
        return config

    return make


def http_get(port, path, context=None):
    if context:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Strict-Transport-Security")
    finally:
        connection.close()


def round_trip_and_get(router, uid, tls_context=None):
    """RawSocket subscriber, WebSocket publisher and HTTP GETs on the one port."""
    port = router.ws_port
    topic = f"com.universal.{uid}"
    secure = "s" if tls_context else ""

    async def scenario():
        subscriber = await connect(
            router,
            "rs",
            "cbor",
            url=f"rs{secure}://127.0.0.1:{port}",
            ssl=tls_context,
            label="rawsocket",
        )
        publisher = await connect(
            router,
            "ws",
            "json",
            url=f"ws{secure}://127.0.0.1:{port}/{WS_PATH}",
            ssl=tls_context,
            label="websocket",
        )
        try:
            _, inbox = await subscribe(subscriber, topic)
            publisher.publish(topic, "over one port")
            await inbox.wait_arg("over one port")
            # HTTP on the same port while both sessions are open
            status, body, _ = await asyncio.to_thread(http_get, port, "/", tls_context)
            assert (status, body) == (200, PAGE)
        finally:
            await close_all([subscriber, publisher])

    run(scenario())
    status, body, _ = http_get(port, "/info", tls_context)
    assert status == 200
    assert body.replace(b" ", b"") == f'{{"port":{port}}}'.encode()


def test_rawsocket_websocket_and_http_share_one_port(router_factory, site, uid):
    round_trip_and_get(router_factory(make_config=universal_config(site)), uid)


def test_the_universal_port_behind_tls(router_factory, site, ca, uid):
    authority, server = ca
    tls = {"key": str(server.key_path), "certificate": str(server.cert_path)}
    router = router_factory(make_config=universal_config(site, tls))
    round_trip_and_get(router, uid, authority.client_context())


def test_keep_alive_serves_several_requests_on_the_universal_port(router_factory, site):
    router = router_factory(make_config=universal_config(site))
    connection = http.client.HTTPConnection("127.0.0.1", router.ws_port, timeout=10)
    try:
        for path in ["/", "/info", "/index.html"]:
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            # http.client reuses the socket while the server keeps it open
            assert not response.will_close
    finally:
        connection.close()


@pytest.mark.crossbar_differs(
    reason="Crossbar.io reads a universal transport's web options from the transport itself "
    "(where its config check allows no options), so web.options has no effect"
)
def test_the_web_options_of_a_universal_transport_apply(router_factory, site, ca):
    authority, server = ca
    tls = {"key": str(server.key_path), "certificate": str(server.cert_path)}
    router = router_factory(make_config=universal_config(site, tls))
    status, _, hsts = http_get(router.ws_port, "/", authority.client_context())
    assert (status, hsts) == (200, "max-age=600")
