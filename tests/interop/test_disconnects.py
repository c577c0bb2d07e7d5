"""A thousand abrupt disconnects: TCP + WebSocket (or RawSocket) handshake + HELLO, then the
socket is closed without GOODBYE (half with RST, half with FIN; some before WELCOME arrives).
Afterwards a fresh session works, and the router's RSS has not grown beyond a generous bound."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rawwamp import WELCOME, RawWamp
from wampclient import assert_pubsub_works, run

pytestmark = pytest.mark.timeout(240)

N = 1000
PARALLEL = 16
# RSS may grow at most this much across the N disconnects (after a warm-up)
RSS_BOUND_KIB = 64 * 1024


def _abrupt(router, i):
    transport = "rs" if i % 3 == 0 else "ws"
    serializer = ("json", "msgpack", "cbor")[i % 3 if transport == "ws" else (i // 3) % 3]
    c = RawWamp(router, transport, serializer, timeout=10)
    try:
        c.send([1, "realm1", {"roles": {"subscriber": {}, "publisher": {}}}])
        if i % 4 != 0:
            m = c.recv()
            assert m[0] == WELCOME, m
            if i % 8 == 1:
                c.subscribe(f"com.abrupt.t{i % 10}")
    finally:
        c.close(abort=(i % 2 == 0))


def _burst(router, start, n):
    with ThreadPoolExecutor(PARALLEL) as pool:
        for f in [pool.submit(_abrupt, router, i) for i in range(start, start + n)]:
            f.result(timeout=60)


def test_thousand_abrupt_disconnects_leave_router_healthy(router):
    _burst(router, 0, 50)  # warm-up: allocator pools, caches
    time.sleep(0.5)
    rss_before = router.rss_kib()
    t0 = time.monotonic()
    _burst(router, 50, N)
    took = time.monotonic() - t0
    run(assert_pubsub_works(router))
    time.sleep(1.0)  # let the router finish tearing the sessions down
    rss_after = router.rss_kib()
    print(
        f"\n{N} abrupt disconnects in {took:.1f}s; router RSS before {rss_before} KiB,"
        f" after {rss_after} KiB (delta {rss_after - rss_before:+d} KiB)"
    )
    assert router.alive()
    assert rss_after - rss_before < RSS_BOUND_KIB, (rss_before, rss_after)
    run(assert_pubsub_works(router))
