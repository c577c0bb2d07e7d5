"""Private NATS servers (with JetStream) for the cluster tests: scripts/nats in a temporary
directory, on 127.0.0.1 and free ports; one NATS cluster when there are several servers;
installed with apt-get when missing; never a system-wide server.

    with NatsServers() as nats:
        urls = nats.start(3)     # ["nats://127.0.0.1:PORT", ...]
        nats.kill(1)             # SIGKILL server 1 (1-based)
        nats.restart(1)          # again, same ports and store
    # stopped, directory removed
"""

import json
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "nats"


class NatsServers:
    """The servers of one scripts/nats directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringbar-nats-")
        self.urls = []

    def _script(self, *args, timeout=600):
        done = subprocess.run(
            [str(SCRIPT), args[0], self.dir, *map(str, args[1:])],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/nats {' '.join(map(str, args))} failed:\n{done.stderr}")
        return done.stdout

    def start(self, n=1):
        """Starts n servers (one cluster when n > 1); returns their client URLs."""
        self.urls = self._script("start", n).split()
        return list(self.urls)

    def kill(self, i):
        """SIGKILL server i (1-based)."""
        self._script("kill", i)

    def restart(self, i):
        """Starts server i (1-based) again on the same ports with the same store (stops it
        first if it runs); returns once it is ready."""
        self._script("restart", i)

    def stop(self):
        """Stops every server (SIGTERM, then SIGKILL); they can be started again with
        start(n) on the same ports."""
        if (Path(self.dir) / "count").exists():
            self._script("stop")

    def ports(self):
        """{i: (client, cluster, monitoring, pid or None)} of every server."""
        out = {}
        for line in self._script("ports").splitlines():
            i, client, cluster, monitor, pid = line.split()
            out[int(i)] = (int(client), int(cluster), int(monitor), None if pid == "-" else int(pid))
        return out

    def running(self, i):
        return self.ports()[i][3] is not None

    def varz(self, i):
        """Server i's /varz (monitoring endpoint) as a dict."""
        monitor = self.ports()[i][2]
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=5) as r:
            return json.load(r)

    def connections(self, i):
        """How many clients server i has now."""
        return self.varz(i).get("connections", 0)

    def logs(self, lines=40):
        """The tail of every server's log, for failure reports."""
        parts = []
        for log in sorted(Path(self.dir).glob("s*/server.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.parent.name} ({log})\n" + "\n".join(text))
        return "\n".join(parts)

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
