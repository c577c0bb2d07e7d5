"""TLS from the PostgreSQL bridge to PostgreSQL (`database.sslmode`, `sslrootcert`), against
a private cluster of this module's own with `ssl = on` and a certificate for `localhost`
made by the test: `require` connects encrypted, `verify-ca` and `verify-full` with the
right CA connect, and `verify-full` with another CA or another host name is refused with a
log line naming the database and the fix. One node runs a bridge worker per case."""

import os
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography import x509

from conftest import FEATURE_CORES, IO_BACKENDS, ROUTER_KIND, RouterProcess, RouterSetting
from conftest import _finish, _start_or_fail, router_config
from postgres import PASSWORD, Postgres
from tlscerts import CertificateAuthority

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(ROUTER_KIND != "ringbar", reason="the PostgreSQL bridge is ringbar's"),
]

T = 30
DB = "tls"


@pytest.fixture(scope="module")
def certificates():
    with tempfile.TemporaryDirectory(prefix="interop-pgtls-") as d:
        ca = CertificateAuthority(Path(d))
        server = ca._issue("server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH,
                           san=[x509.DNSName("localhost")])
        other = Path(d) / "other"
        other.mkdir()
        yield ca.cert_path, server, CertificateAuthority(other, "another CA").cert_path


@pytest.fixture(scope="module")
def tls_postgres(certificates):
    cluster = Postgres()
    try:
        cluster.start()
        cluster.enable_tls(certificates[1])
        cluster.create_database(DB)
    except (RuntimeError, AssertionError) as e:
        cluster.remove()
        pytest.fail(str(e), pytrace=False)
    os.environ["RINGBAR_TEST_PGPASSWORD"] = PASSWORD
    yield cluster
    cluster.remove()


def worker(postgres, name, host, sslmode, ca=None):
    database = {**postgres.database_config(DB), "host": host, "sslmode": sslmode,
                "connect_timeout_ms": 2000}
    if ca is not None:
        database["sslrootcert"] = str(ca)
    # a caller: a role that connects and joins, and stands by for calls
    return {"type": "postgresql-bridge", "id": name, "router": {"realm": "realm1"},
            "database": database, "caller": True}


def test_sslmodes_connect_encrypted_and_verify_the_server(tls_postgres, certificates):
    ca, _, other_ca = certificates
    workers = [
        worker(tls_postgres, "require", "127.0.0.1", "require"),
        worker(tls_postgres, "verify_ca", "127.0.0.1", "verify-ca", ca),
        worker(tls_postgres, "verify_full", "localhost", "verify-full", ca),
        worker(tls_postgres, "wrong_host", "127.0.0.1", "verify-full", ca),
        worker(tls_postgres, "wrong_ca", "localhost", "verify-full", other_ca),
    ]

    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        config["workers"].extend(workers)
        return config

    with tempfile.TemporaryDirectory(prefix="interop-pgtls-node-") as d:
        r = RouterProcess(ROUTER_KIND, RouterSetting(FEATURE_CORES, IO_BACKENDS[0]), d, make)
        _start_or_fail(r)
        try:
            expected = [
                "Bridge worker require: PostgreSQL bridge (caller) joined realm realm1",
                "Bridge worker verify_ca: PostgreSQL bridge (caller) joined realm realm1",
                "Bridge worker verify_full: PostgreSQL bridge (caller) joined realm realm1",
                f"Bridge worker wrong_host: PostgreSQL bridge (caller) cannot work with PostgreSQL "
                f"app@127.0.0.1:{tls_postgres.port}/{DB}",
                f"Bridge worker wrong_ca: PostgreSQL bridge (caller) cannot work with PostgreSQL "
                f"app@localhost:{tls_postgres.port}/{DB}",
            ]
            deadline = time.monotonic() + T
            while not all(line in r.log() for line in expected):
                assert time.monotonic() < deadline, r.log()
                time.sleep(0.2)
            log = r.log()
            lines = {w: next(l for l in log.splitlines() if f"Bridge worker {w}:" in l
                             and "cannot work with" in l) for w in ("wrong_host", "wrong_ca")}
            assert "set database.host to a name the server's certificate holds" \
                in lines["wrong_host"], lines
            assert "set database.sslrootcert to the CA file" in lines["wrong_ca"], lines
            assert "joined realm" not in "".join(
                l for l in log.splitlines() if "wrong_" in l), log
            # every connection the bridges hold is encrypted
            encrypted = tls_postgres.sql(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s "
                "JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'ringbar-bridge'",
                DB)
            done, total = encrypted.split("|")
            assert done == total and int(total) >= 3, encrypted
        finally:
            _finish(r)
