"""Configs with authentication and TLS, in Crossbar.io's format, for test_auth.py and
test_tls.py: realm `realm1` with roles that may do everything, transports with an
`auth` section (and optionally an endpoint `tls` section)."""

import contextlib
import tempfile

from conftest import ALL, ROUTER_KIND, WS_PATH, RouterProcess, _finish, _start_or_fail

ROLES = ("anonymous", "frontend", "backend", "user", "device")


def realm(name="realm1"):
    return {
        "name": name,
        "roles": [
            {
                "name": role,
                "permissions": [
                    {
                        "uri": "",
                        "match": "prefix",
                        "allow": ALL,
                        "disclose": {"caller": False, "publisher": False},
                        "cache": True,
                    }
                ],
            }
            for role in ROLES
        ],
    }


def endpoint(port, tls=None):
    e = {"type": "tcp", "interface": "127.0.0.1", "port": port}
    if tls is not None:
        e["tls"] = tls
    return e


def config_with_auth(auth, tls=None, realms=None):
    """A maker for RouterProcess: both transports (web with WebSocket on /ws, RawSocket)
    with `auth`, and `tls` on both endpoints when given."""

    def make(ws_port, rs_port):
        return {
            "version": 2,
            "controller": {},
            "workers": [
                {
                    "type": "router",
                    "realms": realms or [realm()],
                    "transports": [
                        {
                            "type": "web",
                            "endpoint": endpoint(ws_port, tls),
                            "paths": {
                                WS_PATH: {
                                    "type": "websocket",
                                    "serializers": ["json", "msgpack", "cbor"],
                                    "auth": auth,
                                }
                            },
                        },
                        {
                            "type": "rawsocket",
                            "endpoint": endpoint(rs_port, tls),
                            "serializers": ["json", "msgpack", "cbor"],
                            "auth": auth,
                        },
                    ],
                }
            ],
        }

    return make


@contextlib.contextmanager
def started_router(router_setting, auth, realms):
    """The router under test (ringbar or Crossbar.io) with `auth` on both transports and
    `realms`, stopped when the block ends."""
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        r = RouterProcess(ROUTER_KIND, router_setting, d, config_with_auth(auth, realms=realms))
        _start_or_fail(r)
        try:
            yield r
        finally:
            _finish(r)
