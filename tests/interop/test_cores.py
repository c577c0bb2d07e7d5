"""ringbar only: with --cores 2, connections land on both cores (SO_REUSEPORT) and events cross
between cores in both directions, in order.

ringbar logs one line per joined session (at info level) that contains the words
`session joined`, the field `session=<id>` and the field `core=<n>`, e.g.

    2026-11-26T20:19:09.123Z  INFO ringbar_engine::session: session joined session=4414291245121 realm=realm1 core=1 authrole=anonymous peer=127.0.0.1:40312

The test maps each of its sessions to a core through that line.
"""

import asyncio
import json
import re
import subprocess
import time

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import RINGBAR_BIN, RouterSetting
from wampclient import COMBOS, close_all, connect, run, subscribe

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.ringbar_only(reason="--cores and the per-core session log line are ringbar's"),
]

JOINED = re.compile(r"session joined")
CORE = re.compile(r"""\bcore["']?\s*[=:]\s*(\d+)""")
SESSION = re.compile(r"""\bsession(?:_id)?["']?\s*[=:]\s*(\d+)""")


def session_cores(log):
    """{session id: core} from the router's `session joined` lines."""
    out = {}
    for line in log.splitlines():
        if not JOINED.search(line):
            continue
        c, s = CORE.search(line), SESSION.search(line)
        if c and s:
            out[int(s.group(1))] = int(c.group(1))
    return out


def test_log_line_parser():
    line = (
        "2026-11-26T20:19:09.123Z  INFO ringbar_engine::session: session joined"
        " session=4414291245121 realm=realm1 core=1 authrole=anonymous peer=127.0.0.1:40312"
    )
    assert session_cores(line) == {4414291245121: 1}
    assert session_cores('{"message":"session joined","session":7,"core":0}') == {7: 0}


async def _sessions_on_both_cores(router, want=20, most=80):
    sessions = []
    cores = {}
    while len(sessions) < most:
        batch = [
            await connect(router, *COMBOS[(len(sessions) + i) % len(COMBOS)])
            for i in range(want if not sessions else 10)
        ]
        sessions += batch
        deadline = time.monotonic() + 10
        while True:
            cores = session_cores(router.log())
            if all(s.session_id in cores for s in sessions) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        missing = [s.session_id for s in sessions if s.session_id not in cores]
        assert not missing, (
            f"no `session joined ... session=<id> ... core=<n>` log line for sessions {missing[:5]};"
            f" log tail:\n{router.log()[-2000:]}"
        )
        if {cores[s.session_id] for s in sessions} == {0, 1}:
            break
    return sessions, {s.session_id: cores[s.session_id] for s in sessions}


def test_sessions_land_on_both_cores_and_events_cross(router_factory, router_setting):
    router = router_factory(RouterSetting(2, router_setting.io))

    async def body():
        sessions, cores = await _sessions_on_both_cores(router)
        try:
            seen = set(cores.values())
            print(f"\nsessions per core: { {c: list(cores.values()).count(c) for c in sorted(seen)} }")
            assert seen == {0, 1}, cores
            # `ringbar status` reads the same per-core counts from the running node
            status = json.loads(
                subprocess.run(
                    [RINGBAR_BIN, "status", str(router.dir), "--json"],
                    check=True, capture_output=True, text=True, timeout=30,
                ).stdout
            )
            assert status["running"] and status["pid"] == router.pid and status["cores"] == 2
            assert status["sessions_per_core"] == [list(cores.values()).count(c) for c in (0, 1)], status
            assert status["messages_in"] >= len(sessions), status
            on = {c: [s for s in sessions if cores[s.session_id] == c] for c in (0, 1)}
            for src, dst in ((0, 1), (1, 0)):
                pub = on[src][0]
                subs = on[dst][:3]
                topic = f"com.cores.c{src}to{dst}.t{time.monotonic_ns()}"
                inboxes = [(await subscribe(s, topic))[1] for s in subs]
                n = 500
                for i in range(n - 1):
                    pub.publish(topic, i)
                await pub.publish(topic, n - 1, options=PublishOptions(acknowledge=True))
                for s, inbox in zip(subs, inboxes):
                    await inbox.wait_count(n, timeout=30)
                    assert [a[0] for a in inbox.args] == list(range(n)), (
                        f"core {src} -> core {dst} ({s.label}): events missing or out of order"
                    )
            # one publication fans out to subscribers on both cores
            topic = f"com.cores.both.t{time.monotonic_ns()}"
            subs = on[0][1:4] + on[1][1:4]
            inboxes = [(await subscribe(s, topic))[1] for s in subs]
            await on[0][0].publish(topic, "both", options=PublishOptions(acknowledge=True))
            for inbox in inboxes:
                await inbox.wait_arg("both")
        finally:
            await close_all(sessions)

    run(body(), timeout=100)


def test_calls_cross_cores_both_ways(router_factory, router_setting):
    """Caller and callee on different cores, each way: results (payload transcoded between
    serializers), progressive results, application errors, and a callee that leaves."""
    from autobahn.wamp.exception import ApplicationError
    from autobahn.wamp.types import CallOptions, RegisterOptions

    router = router_factory(RouterSetting(2, router_setting.io))

    async def body():
        sessions, cores = await _sessions_on_both_cores(router)
        try:
            on = {c: [s for s in sessions if cores[s.session_id] == c] for c in (0, 1)}
            for src, dst in ((0, 1), (1, 0)):
                callee, caller = on[dst][0], on[src][0]
                uri = f"com.cores.rpc{src}to{dst}.t{time.monotonic_ns()}"

                async def work(x, fail=False, details=None):
                    if fail:
                        raise ApplicationError(f"{uri}.failed", x, why="asked")
                    # progress is None unless the caller asked for progressive results
                    for i in range(3 if details.progress else 0):
                        details.progress(i)
                    return {"x": x, "core": dst}

                reg = await callee.register(work, uri, options=RegisterOptions(details_arg="details"))
                results = await asyncio.wait_for(
                    asyncio.gather(*(caller.call(uri, x) for x in range(50))), 30
                )
                assert results == [{"x": x, "core": dst} for x in range(50)]
                progress = []
                r = await caller.call(uri, "p", options=CallOptions(on_progress=progress.append))
                assert r == {"x": "p", "core": dst} and progress == [0, 1, 2]
                with pytest.raises(ApplicationError) as e:
                    await caller.call(uri, 7, fail=True)
                assert e.value.error == f"{uri}.failed" and e.value.args == (7,)
                assert e.value.kwargs == {"why": "asked"}
                await reg.unregister()
                with pytest.raises(ApplicationError) as e:
                    await caller.call(uri, 1)
                assert e.value.error == "wamp.error.no_such_procedure"
        finally:
            await close_all(sessions)

    run(body(), timeout=100)
