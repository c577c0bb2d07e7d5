"""Private NATS servers (with JetStream) for the cluster tests: scripts/nats in a temporary
directory, on 127.0.0.1 and free ports; one NATS cluster when there are several servers;
installed with apt-get when missing; never a system-wide server.

    with NatsServers() as nats:
        urls = nats.start(3)     # ["nats://127.0.0.1:PORT", ...]
        nats.kill(1)             # SIGKILL server 1 (1-based)
        nats.restart(1)          # again, same ports and store
    # stopped, directory removed

Servers that ask their clients to log in, or to use TLS (the routes between the servers
stay plain):

    NatsServers(token="s3cret")
    NatsServers(users=[("alice", "pw")], nkeys=["UABC..."])  # user/password and NKey users
    NatsServers(tls=True)        # TLS with a certificate for 127.0.0.1 from a test CA
    NatsServers(tls="verify")    # and clients must present a certificate from that CA

With TLS, `ca_path` is the CA's PEM file, `client_certificate` (tls="verify") a client
certificate it issued (a tlscerts.Issued), the URLs tls://; `node_tls(node_dir)` copies
them into a ringbar node directory and returns its `ringbar.cluster.nats.tls` object.
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

    def __init__(self, token=None, users=(), nkeys=(), tls=False):
        if tls not in (False, True, "verify"):
            raise ValueError(f"tls must be False, True or 'verify', not {tls!r}")
        self.dir = tempfile.mkdtemp(prefix="ringbar-nats-")
        self.urls = []
        self.token = token
        self.users = list(users)
        self.nkeys = list(nkeys)
        self.tls = tls
        self.ca_path = None
        self.server_certificate = None
        self.client_certificate = None
        if tls:
            self._issue_certificates()

    def _issue_certificates(self):
        from tlscerts import CertificateAuthority

        d = Path(self.dir) / "tls"
        d.mkdir()
        ca = CertificateAuthority(d, name="nats test CA")
        self.ca_path = ca.cert_path
        self.server_certificate = ca.server("nats-server")
        if self.tls == "verify":
            self.client_certificate = ca.client("nats-client", "ringbar node")

    def options(self):
        """scripts/nats start's options for these settings."""
        out = []
        if self.token is not None:
            out += ["--token", self.token]
        for user, password in self.users:
            out += ["--user", f"{user}:{password}"]
        for key in self.nkeys:
            out += ["--nkey", key]
        if self.tls:
            cert = self.server_certificate
            out += ["--tls", cert.cert_path, cert.key_path]
            if self.tls == "verify":
                out += ["--tls-verify", self.ca_path]
        return out

    def node_tls(self, node_dir):
        """Copies the CA (and, tls="verify", the client certificate and key) into the ringbar
        node directory `node_dir`; returns the `ringbar.cluster.nats.tls` object naming them
        (relative to the node directory)."""
        if not self.tls:
            raise RuntimeError("these NATS servers do not use TLS")
        node_dir = Path(node_dir)
        shutil.copyfile(self.ca_path, node_dir / "nats-ca.pem")
        tls = {"ca_certificates": ["nats-ca.pem"]}
        if self.client_certificate is not None:
            shutil.copyfile(self.client_certificate.cert_path, node_dir / "nats-client.pem")
            shutil.copyfile(self.client_certificate.key_path, node_dir / "nats-client.key")
            tls["certificate"] = "nats-client.pem"
            tls["key"] = "nats-client.key"
        return tls

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
        self.urls = self._script("start", n, *self.options()).split()
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
