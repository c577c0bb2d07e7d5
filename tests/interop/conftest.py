"""Fixtures that run the router under test as a subprocess.

Environment:
  INTEROP_ROUTER        ringbar (default) | crossbar
  INTEROP_RINGBAR_BIN   the ringbar binary (default: <repo>/target/release/ringbar)
  INTEROP_CROSSBAR_BIN  the crossbar command (default: /work/.venv-crossbar/bin/crossbar)
  INTEROP_IO            I/O backends to cover, comma-separated (default: epoll,uring)
  INTEROP_CORES         core counts for the full-matrix modules (default: 1,2)
  INTEROP_FEATURE_CORES core count for the per-I/O-backend modules (default: 2)
  INTEROP_RUN_DIFFERS   1: run the crossbar_differs tests on Crossbar.io too (expect failures)

A test module says which router settings it runs on with
`pytestmark = pytest.mark.router_matrix("full")` (every --cores x --io) or
"per_io" (default: one setting per I/O backend). For Crossbar.io there is
one setting. The `router` fixture is module-scoped: one router process per
module and setting; `router_factory` starts extra routers a test owns.

The `cluster` fixture starts several ringbar nodes sharing realms through private NATS
servers (scripts/nats, tests/interop/nats.py): see `cluster()` below.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from nats import NatsServers

ROUTER_KIND = os.environ.get("INTEROP_ROUTER", "ringbar").strip().lower()
REPO = Path(__file__).resolve().parents[2]
RINGBAR_BIN = os.environ.get("INTEROP_RINGBAR_BIN", str(REPO / "target" / "release" / "ringbar"))
CROSSBAR_BIN = os.environ.get("INTEROP_CROSSBAR_BIN", "/work/.venv-crossbar/bin/crossbar")
IO_BACKENDS = [x.strip() for x in os.environ.get("INTEROP_IO", "epoll,uring").split(",") if x.strip()]
CORE_COUNTS = [int(x) for x in os.environ.get("INTEROP_CORES", "1,2").split(",") if x.strip()]
# run the crossbar_differs tests on Crossbar.io anyway (to see how it differs)
RUN_DIFFERS = os.environ.get("INTEROP_RUN_DIFFERS") == "1"
FEATURE_CORES = int(os.environ.get("INTEROP_FEATURE_CORES", "2"))

# how long a router may take to accept connections after start (Crossbar.io needs a few seconds)
START_TIMEOUT = float(os.environ.get("INTEROP_START_TIMEOUT", "60"))
# how long a router may take to exit after SIGTERM
STOP_TIMEOUT = float(os.environ.get("INTEROP_STOP_TIMEOUT", "15"))

WS_PATH = "ws"
MAX_MESSAGE_SIZE = 1024 * 1024  # the transports' configured message size limit

if ROUTER_KIND not in ("ringbar", "crossbar"):
    raise pytest.UsageError(f"INTEROP_ROUTER must be ringbar or crossbar, not {ROUTER_KIND!r}")

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class RouterSetting:
    cores: int | None = None
    io: str | None = None

    @property
    def id(self):
        if ROUTER_KIND == "crossbar":
            return "crossbar"
        return f"cores{self.cores}-{self.io}"


def settings_for(matrix):
    if ROUTER_KIND == "crossbar":
        return [RouterSetting()]
    if matrix == "full":
        return [RouterSetting(c, io) for io in IO_BACKENDS for c in CORE_COUNTS]
    return [RouterSetting(FEATURE_CORES, io) for io in IO_BACKENDS]


def pytest_generate_tests(metafunc):
    if "router_setting" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("router_matrix")
        matrix = marker.args[0] if marker else "per_io"
        settings = settings_for(matrix)
        metafunc.parametrize(
            "router_setting", settings, ids=[s.id for s in settings], scope="module"
        )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ROUTER_KIND == "crossbar":
            m = item.get_closest_marker("crossbar_differs")
            if m and not RUN_DIFFERS:
                reason = m.kwargs.get("reason") or (m.args[0] if m.args else "")
                item.add_marker(pytest.mark.skip(reason=f"crossbar_differs: {reason}"))
            m = item.get_closest_marker("ringbar_only")
            if m:
                reason = m.kwargs.get("reason") or (m.args[0] if m.args else "")
                item.add_marker(pytest.mark.skip(reason=f"ringbar_only: {reason}"))


def pytest_report_header(config):
    what = RINGBAR_BIN if ROUTER_KIND == "ringbar" else CROSSBAR_BIN
    return [f"interop router: {ROUTER_KIND} ({what}); io={IO_BACKENDS} cores={CORE_COUNTS}"]


# ----------------------------------------------------------------- config


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ALL = {"call": True, "register": True, "publish": True, "subscribe": True}


def permission(uri, match, publish=False, subscribe=False):
    return {
        "uri": uri,
        "match": match,
        "allow": {"call": False, "register": False, "publish": publish, "subscribe": subscribe},
        "disclose": {"caller": False, "publisher": False},
        "cache": True,
    }


def router_config(ws_port, rs_port):
    """The Crossbar.io-format (version 2) config.json both routers are started with."""
    serializers = ["json", "msgpack", "cbor", "ubjson"]
    return {
        "version": 2,
        "controller": {},
        "workers": [
            {
                "type": "router",
                "realms": [
                    {
                        "name": "realm1",
                        "roles": [
                            {
                                "name": "anonymous",
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
                        ],
                        # event history for test_meta_procedures (wamp.subscription.get_events)
                        "store": {
                            "type": "memory",
                            "event-history": [{"uri": "com.history.", "match": "prefix", "limit": 5}],
                        },
                    },
                    {
                        "name": "disclosing",
                        "roles": [
                            {
                                "name": "anonymous",
                                "permissions": [
                                    {
                                        "uri": "",
                                        "match": "prefix",
                                        "allow": ALL,
                                        "disclose": {"caller": True, "publisher": True},
                                        "cache": True,
                                    }
                                ],
                            }
                        ],
                    },
                    {
                        "name": "restricted",
                        "roles": [
                            {
                                "name": "anonymous",
                                "permissions": [
                                    permission("com.allowed.", "prefix", subscribe=True),
                                    permission(
                                        "com.allowed.pub", "exact", publish=True, subscribe=True
                                    ),
                                ],
                            }
                        ],
                    },
                ],
                "transports": [
                    {
                        "type": "web",
                        "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": ws_port},
                        "paths": {
                            WS_PATH: {
                                "type": "websocket",
                                "serializers": serializers,
                                "options": {
                                    "max_frame_size": MAX_MESSAGE_SIZE,
                                    "max_message_size": MAX_MESSAGE_SIZE,
                                },
                            }
                        },
                    },
                    {
                        "type": "rawsocket",
                        "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": rs_port},
                        "serializers": serializers,
                        "options": {"max_message_size": MAX_MESSAGE_SIZE},
                    },
                ],
            }
        ],
    }


# ----------------------------------------------------------------- process


class RouterProcess:
    """One router process under test, with its log kept in files."""

    def __init__(self, kind, setting, workdir, make_config=None):
        self.kind = kind
        self.setting = setting
        self.dir = Path(workdir)
        # (ws_port, rs_port) -> the config.json object (default: router_config)
        self.make_config = make_config or router_config
        self.ws_port = free_port()
        self.rs_port = free_port()
        self.ws_path = "/" + WS_PATH
        self.ws_url = f"ws://127.0.0.1:{self.ws_port}/{WS_PATH}"
        self.rs_url = f"rs://127.0.0.1:{self.rs_port}"
        self.proc = None
        self.stdout_path = self.dir / "router.stdout.log"
        self.stderr_path = self.dir / "router.stderr.log"
        self.returncode = None

    def fresh_ports(self):
        """Picks new ports for the next start (the old ones may have been
        handed out meanwhile as another socket's ephemeral port)."""
        self.ws_port, self.rs_port = free_port(), free_port()
        self.ws_url = f"ws://127.0.0.1:{self.ws_port}/{WS_PATH}"
        self.rs_url = f"rs://127.0.0.1:{self.rs_port}"

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        if self.kind == "ringbar":
            if not Path(RINGBAR_BIN).exists():
                pytest.fail(f"ringbar binary {RINGBAR_BIN} not found: cargo build --release -p ringbar")
            return [
                RINGBAR_BIN,
                "start",
                str(self.dir),
                "--cores",
                str(self.setting.cores),
                "--io",
                self.setting.io,
                "--loglevel",
                "info",
            ]
        if not Path(CROSSBAR_BIN).exists():
            pytest.fail(f"crossbar not found at {CROSSBAR_BIN} (INTEROP_CROSSBAR_BIN)")
        return [CROSSBAR_BIN, "start", "--cbdir", str(self.dir / ".crossbar"), "--loglevel", "info"]

    def start(self):
        config = json.dumps(self.make_config(self.ws_port, self.rs_port), indent=2)
        if self.kind == "ringbar":
            (self.dir / "config.json").write_text(config)
        else:
            (self.dir / ".crossbar").mkdir(parents=True, exist_ok=True)
            (self.dir / ".crossbar" / "config.json").write_text(config)
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        env.setdefault("RUST_BACKTRACE", "1")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.ws_port, self.rs_port}
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"router exited with {self.proc.returncode} during start-up:\n{self.log()[-4000:]}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"router did not accept on {sorted(pending)} within {START_TIMEOUT}s:\n"
                    f"{self.log()[-4000:]}"
                )
            for port in list(pending):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        pending.discard(port)
                except OSError:
                    pass
            if pending:
                time.sleep(0.1)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns (exit code, seconds taken) or (None, timeout) if it hung (then killed)."""
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            return self.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout)
            return self.returncode, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.kill()
            return None, timeout

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait(10)
        elif self.proc is not None and self.kind == "crossbar":
            # crossbar's workers are in the process group too
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def log(self):
        """stdout + stderr so far, without ANSI colours."""
        parts = []
        for p in (self.stderr_path, self.stdout_path):
            try:
                parts.append(p.read_bytes().decode("utf-8", "replace"))
            except FileNotFoundError:
                pass
        return ANSI.sub("", "\n".join(parts))

    def rss_kib(self):
        """Resident set size in KiB (summed over the process and its children, for Crossbar.io's
        worker processes)."""
        total = 0
        for pid in [self.proc.pid] + _children(self.proc.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total


def _children(pid):
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids = (task / "children").read_text().split()
            for k in kids:
                out.append(int(k))
                out.extend(_children(int(k)))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _finish(router):
    """Stop a router at the end of its fixture: it must still be running, then exit 0."""
    was_alive = router.alive()
    rc, took = router.stop()
    router.kill()
    if not was_alive:
        pytest.fail(
            f"router died during the tests (exit {rc}):\n{router.log()[-4000:]}", pytrace=False
        )
    if rc is None:
        pytest.fail(f"router did not exit within {STOP_TIMEOUT}s of SIGTERM", pytrace=False)
    if rc not in clean_exit_codes():
        pytest.fail(f"router exited {rc} after SIGTERM:\n{router.log()[-4000:]}", pytrace=False)


def clean_exit_codes():
    """Exit statuses that count as a clean stop after SIGTERM. ringbar: 0. Crossbar.io's node
    exits 1 on SIGTERM (0 on SIGINT) even when it shut down cleanly, so both are accepted there."""
    return (0,) if ROUTER_KIND == "ringbar" else (0, 1)


def _start_or_fail(r):
    """Starts `r`, or fails the test with its log. A port picked free can be
    taken before the router binds it (handed out as another socket's
    ephemeral port): that start, "Address already in use", is tried again
    on fresh ports, at most twice more."""
    for _ in range(3):
        try:
            r.start()
            return r
        except RuntimeError as e:
            error = str(e)
        r.kill()
        if "Address already in use" not in error:
            break
        r.fresh_ports()
    pytest.fail(error, pytrace=False)


@pytest.fixture(scope="module")
def router(router_setting):
    """The router under test for this module and setting."""
    with tempfile.TemporaryDirectory(prefix="interop-") as d:
        r = RouterProcess(ROUTER_KIND, router_setting, d)
        _start_or_fail(r)
        yield r
        _finish(r)


@pytest.fixture
def router_factory(router_setting):
    """Starts routers the test owns (e.g. to shut them down); each is killed at the end."""
    started = []
    dirs = []

    def start(setting=None, make_config=None):
        d = tempfile.TemporaryDirectory(prefix="interop-")
        dirs.append(d)
        r = RouterProcess(ROUTER_KIND, setting or router_setting, d.name, make_config)
        started.append(r)
        return _start_or_fail(r)

    yield start
    for r in started:
        r.kill()
    for d in dirs:
        d.cleanup()


@pytest.fixture
def uid(request):
    """A short unique token to keep topics of different tests apart."""
    return f"t{os.getpid()}{time.monotonic_ns() % 10**9}"


# ----------------------------------------------------------------- cluster


class Cluster:
    """ringbar nodes that share realms through NATS (`ringbar.cluster`), as the `cluster`
    fixture started them: `nodes` (RouterProcess, each with ws_url / rs_url), `nats`
    (NatsServers), `urls` (the NATS client URLs every node got)."""

    def __init__(self, setting):
        self.setting = setting
        self.nats = None
        self.urls = []
        self.nodes = []
        self.killed = set()  # indexes of the nodes the test killed (not crashed)
        self._dirs = []
        self._runs = {}

    def kill_node(self, i):
        """SIGKILL node i (0-based, as in `nodes`)."""
        self.killed.add(i)
        self.nodes[i].kill()

    def start_node(self, i):
        """Starts node i again (after kill_node) with the same config on fresh ports (its old
        ones may have been handed out meanwhile as another socket's ephemeral port: seen as
        "Address already in use"); returns it once it accepts connections."""
        r = self.nodes[i]
        if r.alive():
            raise RuntimeError(f"node {i} is running")
        r.fresh_ports()
        # keep the logs of the run before for failure reports
        self._runs[i] = self._runs.get(i, 0) + 1
        for p in (r.stdout_path, r.stderr_path):
            if p.exists():
                p.rename(p.with_name(f"{p.name}.{self._runs[i]}"))
        _start_or_fail(r)  # (on failure it stays in `killed`: reported once)
        self.killed.discard(i)
        return r

    def logs(self, lines=60):
        """The tail of every node's and NATS server's log (a failure report section)."""
        parts = []
        for i, r in enumerate(self.nodes):
            state = "running" if r.alive() else ("killed" if i in self.killed else "exited")
            tail = "\n".join(r.log().splitlines()[-lines:])
            parts.append(f"--- node-{i} ({state}, {r.ws_url}, {r.dir})\n{tail}")
        if self.nats is not None:
            parts.append(self.nats.logs(lines))
        return "\n".join(parts)

    def close(self):
        """Kills every node and stops NATS; returns the nodes that died on their own."""
        crashed = [
            (i, r.proc.returncode)
            for i, r in enumerate(self.nodes)
            if i not in self.killed and r.proc is not None and not r.alive()
        ]
        report = self.logs() if crashed else ""
        for r in self.nodes:
            r.kill()
        if self.nats is not None:
            self.nats.remove()
        for d in self._dirs:
            d.cleanup()
        return crashed, report


def cluster_config(
    make_config, node, realms, servers, heartbeat_ms, failure_timeout_ms, extra=None, nats=None
):
    """A make_config for RouterProcess: `make_config`'s config (default router_config) with
    `ringbar.cluster` for `node` (merged into an existing `ringbar` object); `nats`: more keys
    of `ringbar.cluster.nats` beside `servers` (credentials, tls)."""

    def make(ws_port, rs_port):
        config = (make_config or router_config)(ws_port, rs_port)
        config.setdefault("ringbar", {})["cluster"] = {
            "node": node,
            "realms": list(realms),
            "nats": {"servers": list(servers), **(nats or {})},
            "heartbeat_ms": heartbeat_ms,
            "failure_timeout_ms": failure_timeout_ms,
            **(extra or {}),
        }
        return config

    return make


def _node_nats(servers, urls, nats, i, node_dir):
    """The keys node i (directory `node_dir`) adds to `ringbar.cluster.nats` (see `cluster`):
    `nats` (its item i, or what it returns for i and `urls`), with the TLS settings of
    `servers` (NatsServers) unless it gives "tls"."""
    if callable(nats):
        nats = nats(i, list(urls))
    elif isinstance(nats, (list, tuple)):
        nats = nats[i]
    keys = dict(nats or {})
    if servers.tls and "tls" not in keys:
        keys["tls"] = servers.node_tls(node_dir)
    return {k: v for k, v in keys.items() if v is not None}


CLUSTER_KEY = pytest.StashKey()


@pytest.fixture
def cluster(router_setting, request):
    """A factory that starts a cluster once per test:

        c = cluster(nodes=3, servers=1, realms=("realm1",), make_config=None,
                    heartbeat_ms=200, failure_timeout_ms=1000)

    starts `servers` private NATS servers (one NATS cluster when more than one) and `nodes`
    ringbar processes (this module's cores and I/O backend), node i named `node-{i}` with
    `ringbar.cluster` = {node, realms, nats: {servers: every NATS URL}, heartbeat_ms,
    failure_timeout_ms} added to `make_config(ws_port, rs_port)` (default router_config);
    `extra={...}` adds more keys to that object. Returns a `Cluster`: `.nodes`, `.nats`,
    `kill_node(i)`, `start_node(i)`. At the end every node is killed and NATS stopped; a node
    that died without kill_node fails the test. A failed test's report has a `cluster logs`
    section. Skipped for Crossbar.io (no NATS cluster).

    NATS servers that ask for credentials or TLS, and the nodes' side of it:

        c = cluster(nodes=2, nats_server={"token": "s3cret"}, nats={"token": "s3cret"})

    `nats_server`: the NatsServers settings (nats.py: token, users, nkeys, tls=True or
    "verify"). `nats`: keys added to each node's `ringbar.cluster.nats` beside `servers` (a
    "servers" key replaces the URLs): a dict for every node, a list with one dict per node,
    or a function (i, urls) -> the dict of node i; a key whose value is None is left out
    (`extra` is for the keys of `ringbar.cluster` itself). When the servers use TLS, a node whose `nats` has no "tls" key gets the test CA
    (and with "verify" a client certificate) in its directory and `tls` naming them
    (NatsServers.node_tls); the URLs are then tls://."""
    if ROUTER_KIND == "crossbar":
        pytest.skip("Crossbar.io has no NATS cluster (ringbar.cluster)")

    state = Cluster(router_setting)
    request.node.stash[CLUSTER_KEY] = state

    def start(
        nodes=3,
        servers=1,
        realms=("realm1",),
        make_config=None,
        heartbeat_ms=200,
        failure_timeout_ms=1000,
        extra=None,
        nats_server=None,
        nats=None,
    ):
        if state.nats is not None:
            raise RuntimeError("the cluster fixture starts one cluster per test")
        if isinstance(nats, (list, tuple)) and len(nats) != nodes:
            raise ValueError(f"nats: {len(nats)} settings for {nodes} nodes")
        state.nats = NatsServers(**(nats_server or {}))
        try:
            state.urls = state.nats.start(servers)
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        for i in range(nodes):
            d = tempfile.TemporaryDirectory(prefix=f"interop-node{i}-")
            state._dirs.append(d)
            make = cluster_config(
                make_config,
                f"node-{i}",
                realms,
                state.urls,
                heartbeat_ms,
                failure_timeout_ms,
                extra,
                _node_nats(state.nats, state.urls, nats, i, d.name),
            )
            r = RouterProcess(ROUTER_KIND, router_setting, d.name, make)
            state.nodes.append(r)
            state.killed.add(i)  # until it is up: a start-up failure is reported once
            _start_or_fail(r)
            state.killed.discard(i)
        return state

    yield start
    crashed, report = state.close()
    if crashed:
        which = ", ".join(f"node-{i} (exit {rc})" for i, rc in crashed)
        pytest.fail(f"cluster node died during the test: {which}\n{report}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test's report carries the nodes' and NATS servers' log tails."""
    report = yield
    if report.when == "call" and report.failed:
        state = item.stash.get(CLUSTER_KEY, None)
        if state is not None and state.nodes:
            try:
                report.sections.append(("cluster logs", state.logs()))
            except Exception as e:  # never hide the failure itself
                report.sections.append(("cluster logs", f"(unavailable: {e!r})"))
    return report
