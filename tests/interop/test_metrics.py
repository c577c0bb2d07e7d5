"""The node's Prometheus endpoint (`ringbar.metrics`), as real Autobahn|Python clients
move its figures: sessions, messages in and out by type, bytes, the publish-to-event
histogram; every line of the text is a comment or `name{labels} value`."""

import asyncio
import re
import urllib.error
import urllib.request

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import free_port, router_config
from wampclient import close_all, connect, run, subscribe

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.ringbar_only(reason="Crossbar.io has no Prometheus endpoint"),
]

SERIES = re.compile(
    r'^(?P<name>ringbar_[a-z_]+)(?:\{(?P<labels>[a-z]+="[^"]*"(?:,[a-z]+="[^"]*")*)\})? '
    r"(?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))$"
)


def scrape(port, path="/metrics", method="GET"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return response.read().decode()


def parse(text):
    """{(name, ((label, value), ...)): value}, failing on any line that is not a series."""
    series = {}
    for line in text.splitlines():
        if line.startswith("# HELP ringbar_") or line.startswith("# TYPE ringbar_"):
            continue
        m = SERIES.match(line)
        assert m, f"not a series line: {line!r}"
        labels = tuple(re.findall(r'([a-z]+)="([^"]*)"', m["labels"] or ""))
        series[(m["name"], labels)] = float(m["value"])
    return series


def total(series, name, **labels):
    """The sum over cores of `name` with `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and want <= set(ls))


@pytest.fixture
def metrics_router(router_factory):
    port = free_port()

    def make_config(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        config["ringbar"] = {
            "metrics": {"endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port}}
        }
        return config

    return router_factory(make_config=make_config), port


def test_clients_move_the_figures(metrics_router, uid):
    router, port = metrics_router
    before = parse(scrape(port))
    topic = f"com.metrics.{uid}"
    publications = 10

    async def body():
        subscribers = [await connect(router, t, s) for t, s in [("ws", "json"), ("rs", "msgpack")]]
        inboxes = [(await subscribe(s, topic))[1] for s in subscribers]
        publisher = await connect(router, "ws", "cbor")
        for n in range(publications):
            await publisher.publish(topic, n, options=PublishOptions(acknowledge=True))
        for inbox in inboxes:
            await inbox.wait_count(publications)
        during = parse(scrape(port))
        await close_all(subscribers + [publisher])
        return during

    after = run(body())
    grew = lambda name, **labels: total(after, name, **labels) - total(before, name, **labels)
    assert grew("ringbar_sessions") == 3
    assert grew("ringbar_messages_in_total", type="HELLO") == 3
    assert grew("ringbar_messages_in_total", type="SUBSCRIBE") == 2
    assert grew("ringbar_messages_in_total", type="PUBLISH") == publications
    assert grew("ringbar_messages_out_total", type="WELCOME") == 3
    assert grew("ringbar_messages_out_total", type="PUBLISHED") == publications
    assert grew("ringbar_messages_out_total", type="EVENT") == 2 * publications
    assert grew("ringbar_bytes_in_total") > 0
    assert grew("ringbar_bytes_out_total") > 0
    assert total(after, "ringbar_events_dropped_total") == 0
    # one observation per publication and core with a subscriber
    observed = grew("ringbar_publish_to_event_seconds_count")
    assert publications <= observed <= 2 * publications, observed
    assert grew("ringbar_publish_to_event_seconds_bucket", le="+Inf") == observed
    assert grew("ringbar_publish_to_event_seconds_sum") > 0


def test_other_paths_and_methods_are_refused(metrics_router):
    _, port = metrics_router
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(port, path="/other")
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(port, method="POST")
    assert e.value.code == 405
    assert e.value.headers["Allow"] == "GET"
