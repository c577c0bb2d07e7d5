"""A private PostgreSQL cluster for the PostgreSQL bridge tests (scripts/postgres: initdb in
a temporary directory, 127.0.0.1, a free port; installed with apt-get when missing; never a
system-wide cluster). One cluster per pytest session; each test module takes a database of
its own. Import the `postgres` fixture into a test module to use it."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres"
USER = PASSWORD = "app"


class Postgres:
    """The private cluster: start/stop/restart, and SQL through psql."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringbar-pg-")
        self.port = None

    def _script(self, command):
        done = subprocess.run(
            [str(SCRIPT), command, self.dir], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/postgres {command} failed:\n{done.stderr}")
        return done.stdout

    def start(self):
        self.port = int(self._script("start").split()[-1])
        return self

    def stop(self):
        self._script("stop")

    def restart(self):
        self._script("restart")

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def enable_tls(self, issued):
        """Turns TLS on with the certificate and key of `issued` (a tlscerts.Issued), which
        move into the cluster's directory: the server must own its key."""
        paths = []
        for source in (issued.cert_path, issued.key_path):
            path = Path(self.dir) / source.name
            shutil.copyfile(source, path)
            os.chmod(path, 0o600)
            if os.getuid() == 0:
                shutil.chown(path, "postgres")
            paths.append(path)
        for setting, value in [("ssl_cert_file", paths[0]), ("ssl_key_file", paths[1]),
                               ("ssl", "on")]:
            self.sql(f"ALTER SYSTEM SET {setting} = '{value}'", "postgres")
        self.sql("SELECT pg_reload_conf()", "postgres")
        self.wait_for("SHOW ssl", "on", "postgres")

    def database_config(self, dbname):
        """The `database` object of a postgresql-bridge worker for `dbname`."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": dbname,
            "user": USER,
            "password_env": "RINGBAR_TEST_PGPASSWORD",
            "pool_size": 4,
        }

    def sql(self, query, dbname="app", check=True, timeout=60):
        """Runs `query` (one or more statements) with psql; returns its unaligned output."""
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        done = subprocess.run(
            ["psql", "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", dbname,
             "-v", "ON_ERROR_STOP=1", "-Atq", "-c", query],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"SQL failed: {query}\n{done.stderr}")
        return done if not check else done.stdout.strip()

    def background(self, script, dbname="app"):
        """Starts psql running `script` statement by statement (so it prints the
        notifications it receives) and returns the process (communicate with it)."""
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        process = subprocess.Popen(
            ["psql", "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", dbname,
             "-v", "ON_ERROR_STOP=1", "-Atq", "-f", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env,
        )
        process.stdin.write(script)
        process.stdin.close()
        return process

    def create_database(self, name):
        self.sql(f'DROP DATABASE IF EXISTS "{name}"')
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    def wait_for(self, query, expected, dbname, timeout=30):
        """Polls `query` until it prints `expected`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            done = self.sql(query, dbname, check=False)
            last = done.stdout.strip() if done.returncode == 0 else done.stderr.strip()
            if done.returncode == 0 and last == expected:
                return
            time.sleep(0.1)
        raise AssertionError(f"{query} gave {last!r}, not {expected!r}, within {timeout}s")


@pytest.fixture(scope="session")
def postgres():
    """The private PostgreSQL cluster of this test session."""
    cluster = Postgres()
    try:
        cluster.start()
    except RuntimeError as e:
        cluster.remove()
        pytest.fail(str(e), pytrace=False)
    os.environ["RINGBAR_TEST_PGPASSWORD"] = PASSWORD
    yield cluster
    cluster.remove()
