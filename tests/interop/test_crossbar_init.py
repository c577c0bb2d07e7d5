"""The config.json that `crossbar init` writes runs unchanged.

`data/crossbar-init-config.json` is the file `crossbar init --appdir app` of
Crossbar.io 26.10.1 (from PyPI) wrote to `app/.crossbar/config.json`; only its
two ports are replaced by free ones here. Its WebSocket path has
`"allowed_origins": ["*"]`, `"allow_null_origin": true` and a
`compression.deflate` block, its root a static directory `../web`.

Clients that send no `Origin` (Autobahn|Python over WebSocket and RawSocket),
a browser-like client that sends one, and one that sends `Origin: null` all
do a pub/sub round trip; the static path serves a file.
"""

import json
import tempfile
import urllib.request
from pathlib import Path

import pytest
from autobahn.wamp.types import PublishOptions
from conftest import ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from rawwamp import Closed, RawWamp, RawWebSocket
from wampclient import Inbox, close_all, connect, run

TEMPLATE = Path(__file__).parent / "data" / "crossbar-init-config.json"
PAGE = b"<!doctype html><title>app</title><p>hello from web/</p>\n"


def template_config(ws_port, rs_port):
    config = json.loads(TEMPLATE.read_text())
    transports = config["workers"][0]["transports"]
    assert [t["type"] for t in transports] == ["rawsocket", "web"]
    transports[0]["endpoint"]["port"] = rs_port
    transports[1]["endpoint"]["port"] = ws_port
    return config


@pytest.fixture(scope="module")
def app(router_setting):
    """The router under test in an app folder laid out as `crossbar init` lays it out:
    `.crossbar/config.json` beside `web/`."""
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        cbdir = Path(d) / "app" / ".crossbar"
        cbdir.mkdir(parents=True)
        # ringbar's node directory is the cbdir itself; RouterProcess gives Crossbar.io
        # a `.crossbar` folder inside the directory it is handed
        workdir = cbdir if ROUTER_KIND == "ringbar" else Path(d) / "app"
        web = cbdir.parent / "web"
        web.mkdir()
        (web / "index.html").write_bytes(PAGE)
        r = RouterProcess(ROUTER_KIND, router_setting, workdir, template_config)
        _start_or_fail(r)
        yield r
        _finish(r)


def test_the_template_starts_without_errors(app):
    log = app.log()
    assert " ERROR " not in log, log[-4000:]


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_autobahn_without_origin_round_trips(app, uid, transport):
    async def scenario():
        sub = await connect(app, transport, "json")
        pub = await connect(app, "rs" if transport == "ws" else "ws", "cbor")
        try:
            inbox = Inbox()
            await sub.subscribe(inbox.handler, f"com.example.{uid}")
            await pub.publish(
                f"com.example.{uid}", 1, "two", options=PublishOptions(acknowledge=True)
            )
            await inbox.wait_count(1)
            assert inbox.args == [[1, "two"]]
        finally:
            await close_all([sub, pub])

    run(scenario())


@pytest.mark.parametrize(
    "origin", ["http://localhost:3000", "https://app.example.com", "null"], ids=str
)
def test_a_browser_origin_round_trips(app, uid, origin):
    ws = RawWebSocket("127.0.0.1", app.ws_port)
    status = ws.handshake(app.ws_path, extra_headers=[f"Origin: {origin}"])
    assert status == 101, f"Origin {origin}: HTTP {status}"
    browser = RawWamp.wrap(ws, "ws", "json")
    other = RawWamp(app, "rs", "json")
    try:
        browser.join()
        other.join()
        browser.subscribe(f"com.example.{uid}")
        other.publish(f"com.example.{uid}", args=[origin], options={"acknowledge": True})
        event = browser.recv_until(36)
        assert event[4] == [origin]
    finally:
        browser.close()
        other.close()


def test_the_static_path_serves_a_file(app):
    with urllib.request.urlopen(f"http://127.0.0.1:{app.ws_port}/index.html", timeout=5) as r:
        assert r.status == 200
        assert r.read() == PAGE


@pytest.mark.crossbar_differs(
    reason="Crossbar.io's web transport admits a handshake with two Origin headers (RFC 6454 "
    "allows one)"
)
def test_a_second_origin_header_is_refused(app):
    ws = RawWebSocket("127.0.0.1", app.ws_port)
    try:
        status = ws.handshake(
            app.ws_path, extra_headers=["Origin: http://a.example", "Origin: http://b.example"]
        )
    except Closed:
        return
    assert status == 400
