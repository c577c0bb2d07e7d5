"""Guest workers: an Autobahn|Python component started by the router node as a
`"type": "guest"` worker (Crossbar.io's format), serving a procedure that an outside
client calls; the component's output appears in the node's log."""

import asyncio
import sys
import time

import pytest

from conftest import ROUTER_KIND, router_config
from wampclient import close_all, connect, run

pytestmark = pytest.mark.timeout(120)

T = 30  # seconds the guest may take to start and register

BACKEND = """
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession


class Backend(ApplicationSession):
    async def onJoin(self, details):
        await self.register(lambda a, b: a + b, "com.guest.add2")
        print("backend ready on " + details.realm)


ApplicationRunner(sys.argv[1], "realm1").run(Backend)
"""


def with_backend(script):
    """The interop config plus a guest worker running `script` with this Python."""

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        config["workers"].append(
            {
                "type": "guest",
                "id": "backend",
                "executable": sys.executable,
                "arguments": [script.name, f"ws://127.0.0.1:{ws_port}/ws"],
                "options": {"workdir": str(script.parent)},
            }
        )
        return config

    return make


def test_a_guest_component_serves_calls_and_its_output_is_logged(router_factory, tmp_path):
    script = tmp_path / "backend.py"
    script.write_text(BACKEND)
    router = router_factory(make_config=with_backend(script))

    async def body():
        caller = await connect(router, "rs", "cbor")
        deadline = time.monotonic() + T
        while True:
            try:
                result = await asyncio.wait_for(caller.call("com.guest.add2", 2, 3), T)
                break
            except Exception:  # no callee yet: the guest is still starting
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert result == 5
        await close_all([caller])

    run(body(), timeout=T * 2)
    deadline = time.monotonic() + T
    while "backend ready on realm1" not in router.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = router.log()
    assert "backend ready on realm1" in log, log[-3000:]
    if ROUTER_KIND == "ringbar":
        assert "backend: backend ready on realm1" in log, log[-3000:]
        assert "Starting guest worker backend." in log, log[-3000:]
