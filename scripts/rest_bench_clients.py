"""The WAMP side of scripts/bench-rest-vs-crossbar.sh, in Autobahn|Python: a
subscriber that counts the events HTTP publishes produce (every 100 ms the
count goes to COUNT_FILE), or a callee that answers HTTP calls with their
arguments. Each runs in its own process, so a subscriber's backlog of
events does not delay the calls. READY_FILE appears once it has joined.

    python rest_bench_clients.py subscriber ws://127.0.0.1:PORT/ws realm1 TOPIC COUNT_FILE READY_FILE
    python rest_bench_clients.py callee ws://127.0.0.1:PORT/ws realm1 PROCEDURE READY_FILE
"""

import asyncio
import os
import sys

from autobahn.asyncio.component import Component, run

ROLE, URL, REALM, URI = sys.argv[1:5]
READY_FILE = sys.argv[-1]

events = 0


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


component = Component(transports=URL, realm=REALM)


@component.on_join
async def joined(session, details):
    if ROLE == "subscriber":
        count_file = sys.argv[5]

        def on_event(*args, **kwargs):
            global events
            events += 1

        await session.subscribe(on_event, URI)

        async def report():
            while True:
                write_atomically(count_file, f"{events}\n")
                await asyncio.sleep(0.1)

        asyncio.ensure_future(report())
    else:
        await session.register(lambda *args: args[0] if len(args) == 1 else list(args), URI)
    write_atomically(READY_FILE, "ready\n")


if __name__ == "__main__":
    run([component], log_level="warn")
