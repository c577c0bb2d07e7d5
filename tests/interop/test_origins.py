"""The `Origin` check of WebSocket paths, as Crossbar.io (Autobahn) makes it, over real
handshakes: no header always passes; `null` only with `allow_null_origin`; other
origins are matched as `scheme://host:port` against `allowed_origins`."""

import tempfile

import pytest
from authconfig import endpoint, realm
from conftest import ROUTER_KIND, RouterProcess, _finish, _start_or_fail
from rawwamp import RawWamp, RawWebSocket

PATTERNS = ["https://*.example.com:*", "http://localhost:*", "http://127.0.0.1:8080"]

# (path, Origin header or None, admitted)
CASES = [
    ("strict", None, True),
    ("strict", "null", False),
    ("strict", "https://app.example.com", True),
    ("strict", "https://app.example.com:8443", True),
    ("strict", "http://app.example.com", False),
    ("strict", "https://example.com.evil.io", False),
    ("strict", "http://localhost:3000", True),
    ("strict", "http://127.0.0.1:8080", True),
    ("strict", "http://127.0.0.1:8081", False),
    ("strict", "file:///home/user/page.html", False),
    ("strict", "not an origin", False),
    ("empty", None, True),
    ("empty", "null", True),
    ("empty", "http://localhost:3000", False),
    ("any", "null", True),
    ("any", "https://anything.example.org", True),
]


def config(ws_port, rs_port):
    def ws(origins, allow_null):
        return {
            "type": "websocket",
            "serializers": ["json"],
            "options": {"allowed_origins": origins, "allow_null_origin": allow_null},
        }

    return {
        "version": 2,
        "controller": {},
        "workers": [
            {
                "type": "router",
                "realms": [realm()],
                "transports": [
                    {
                        "type": "web",
                        "endpoint": endpoint(ws_port),
                        "paths": {
                            "strict": ws(PATTERNS, False),
                            "empty": ws([], True),
                            "any": ws(["*"], True),
                        },
                    },
                    {"type": "rawsocket", "endpoint": endpoint(rs_port), "serializers": ["json"]},
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def origins_router(router_setting):
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        r = RouterProcess(ROUTER_KIND, router_setting, d, config)
        _start_or_fail(r)
        yield r
        _finish(r)


@pytest.mark.parametrize("path,origin,admitted", CASES, ids=[f"{p}-{o}" for p, o, _ in CASES])
def test_origin(origins_router, path, origin, admitted):
    ws = RawWebSocket("127.0.0.1", origins_router.ws_port)
    headers = [] if origin is None else [f"Origin: {origin}"]
    try:
        status = ws.handshake(f"/{path}", extra_headers=headers)
        if not admitted:
            # Autobahn answers a refused origin with 400, ringbar with 403 (Forbidden)
            assert status == (403 if ROUTER_KIND == "ringbar" else 400), status
            return
        assert status == 101, f"HTTP {status}"
        session = RawWamp.wrap(ws, "ws", "json")
        session.join()
    finally:
        ws.close()
