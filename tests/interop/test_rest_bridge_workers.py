"""REST bridge workers: a `container` worker (Crossbar.io's format) running
`crossbar.bridge.rest.RESTCallee` and `MessageForwarder` against an HTTP server the
test runs on 127.0.0.1 (Python's http.server). An Autobahn caller calls the
RESTCallee's procedure, which becomes an HTTP request; an Autobahn publisher's events
reach the HTTP server as `{"args", "kwargs"}`; the HTTP server stops and comes back,
and both bridges work again."""

import asyncio
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from autobahn.wamp.exception import ApplicationError

from conftest import RINGBAR_BIN, free_port, router_config
from wampclient import close_all, connect, run

pytestmark = pytest.mark.timeout(180)

T = 30  # seconds the bridge may take to join, and the HTTP server to be reached again
PROCEDURE = "com.bridge.http"
TOPIC = "com.bridge.events."


class Service:
    """The HTTP service the bridges talk to: answers `/api/...` with what it got, and
    records what is POSTed to `/events`. It can stop and start again on its port."""

    def __init__(self):
        self.port = free_port()
        self.events = []
        self.server = None
        self.thread = None

    def start(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Echo-Back", self.headers.get("X-Echo", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path == "/events":
                    service.events.append((self.headers.get("Content-Type"), json.loads(body)))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = f"posted {body.decode()}".encode()
                self.send_response(201)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def events_with(self, marker):
        return [e for e in self.events if e[1]["kwargs"].get("marker") == marker]


@pytest.fixture
def service():
    s = Service().start()
    yield s
    s.stop()


def with_bridges(service):
    """The interop config plus a container worker joining the router's own transports."""

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        base = f"http://127.0.0.1:{service.port}"
        config["workers"].append(
            {
                "type": "container",
                "id": "rest",
                "options": {"pythonpath": [".."]},
                "components": [
                    {
                        "type": "class",
                        "classname": "crossbar.bridge.rest.RESTCallee",
                        "realm": "realm1",
                        "transport": {
                            "type": "websocket",
                            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": ws_port},
                            "url": f"ws://127.0.0.1:{ws_port}/ws",
                        },
                        "extra": {"procedure": PROCEDURE, "baseurl": f"{base}/api/"},
                    },
                    {
                        "type": "class",
                        "classname": "crossbar.bridge.rest.MessageForwarder",
                        "realm": "realm1",
                        "transport": {
                            "type": "rawsocket",
                            "serializer": "json",
                            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": rs_port},
                        },
                        "extra": {
                            "subscriptions": [
                                {"topic": TOPIC, "url": f"{base}/events", "match": "prefix"}
                            ],
                            "expectedcode": 200,
                        },
                    },
                ],
            }
        )
        return config

    return make


async def call_when_registered(caller, *args, **kwargs):
    """Calls the bridge's procedure, waiting for it to be registered."""
    deadline = time.monotonic() + T
    while True:
        try:
            return await asyncio.wait_for(caller.call(PROCEDURE, *args, **kwargs), T)
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def publish_until_forwarded(publisher, service, marker):
    """Publishes marked events until one reaches the service (the forwarder may still be
    subscribing, or its target still failing); returns the events it received."""
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        publisher.publish(TOPIC + "x", 1, "two", marker=marker)
        await asyncio.sleep(0.3)
        if service.events_with(marker):
            return service.events_with(marker)
    raise AssertionError(f"no event with marker {marker} reached the HTTP service")


def test_a_wamp_call_becomes_an_http_request(router_factory, service):
    router = router_factory(make_config=with_bridges(service))

    async def body():
        caller = await connect(router, "rs", "cbor")
        result = await call_when_registered(
            caller,
            method="GET",
            url="hello?x=1",
            headers={"X-Echo": ["abc"]},
            params={"y": "2"},
        )
        assert result["code"] == 200
        assert json.loads(result["content"]) == {"path": "/api/hello?x=1&y=2"}
        assert result["headers"]["X-Echo-Back"] == ["abc"]
        assert result["headers"]["Content-Type"] == ["text/plain; charset=utf-8"]
        # by position, with a body
        result = await caller.call(PROCEDURE, "POST", "/form", "a=1")
        assert (result["code"], result["content"]) == (201, "posted a=1")
        await close_all([caller])

    run(body(), timeout=T * 2)


def test_events_reach_the_http_service_as_args_and_kwargs(router_factory, service):
    router = router_factory(make_config=with_bridges(service))

    async def body():
        publisher = await connect(router, "ws", "msgpack")
        events = await publish_until_forwarded(publisher, service, "first")
        content_type, document = events[0]
        assert content_type == "application/json"
        assert document == {"args": [1, "two"], "kwargs": {"marker": "first"}}
        await close_all([publisher])

    run(body(), timeout=T * 2)


def test_the_bridges_work_again_after_the_http_service_comes_back(router_factory, service):
    router = router_factory(make_config=with_bridges(service))

    async def body():
        caller = await connect(router, "ws", "json")
        publisher = await connect(router, "rs", "json")
        assert (await call_when_registered(caller, "GET", "up"))["code"] == 200
        await publish_until_forwarded(publisher, service, "before")

        service.stop()
        with pytest.raises(ApplicationError) as refused:
            await caller.call(PROCEDURE, "GET", "down")
        assert refused.value.error == "wamp.error.runtime_error"
        publisher.publish(TOPIC + "x", marker="while-down")

        service.start()
        assert (await caller.call(PROCEDURE, "GET", "again"))["code"] == 200
        await publish_until_forwarded(publisher, service, "after")
        await close_all([caller, publisher])

    run(body(), timeout=T * 3)


@pytest.mark.crossbar_differs(
    reason="Crossbar.io answers a call with arguments RESTCallee does not take with "
    "wamp.error.runtime_error (Python's TypeError); ringbar with wamp.error.invalid_argument"
)
def test_bad_arguments_get_invalid_argument(router_factory, service):
    router = router_factory(make_config=with_bridges(service))

    async def body():
        caller = await connect(router, "ws", "json")
        await call_when_registered(caller, "GET")
        with pytest.raises(ApplicationError) as bad:
            await caller.call(PROCEDURE, method="GET", verb="x")
        assert bad.value.error == "wamp.error.invalid_argument"
        assert "verb" in bad.value.args[0]
        await close_all([caller])

    run(body(), timeout=T * 2)


@pytest.mark.ringbar_only(reason="ringbar status and its bridge figures")
def test_status_shows_the_bridge_worker(router_factory, service):
    router = router_factory(make_config=with_bridges(service))

    async def body():
        caller = await connect(router, "ws", "json")
        await call_when_registered(caller, "GET")
        await close_all([caller])

    run(body(), timeout=T * 2)
    status = json.loads(
        subprocess.run(
            [RINGBAR_BIN, "status", str(router.dir), "--json"],
            capture_output=True,
            check=True,
            timeout=10,
        ).stdout
    )
    [bridge] = status["bridges"]
    assert (bridge["id"], bridge["components"], bridge["joined"]) == ("rest", 2, 2)
    assert bridge["calls"] >= 1
    assert "Bridge worker rest: RESTCallee com.bridge.http joined realm realm1" in router.log()
