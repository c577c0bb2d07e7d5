"""Real WAMP clients for the interop tests: Autobahn|Python on asyncio.

`connect()` joins a realm over WebSocket (`ws`) or RawSocket (`rs`) with one
serializer and returns the joined session; `Inbox` collects events.
Everything here is bounded in time: every wait takes a timeout.
"""

import asyncio
import math

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession  # noqa: E402
from autobahn.wamp.serializer import (  # noqa: E402
    CBORSerializer,
    JsonSerializer,
    MsgPackSerializer,
)

from ubjsonserializer import UbjsonSerializer  # noqa: E402

SERIALIZERS = {
    "json": JsonSerializer,
    "msgpack": MsgPackSerializer,
    "cbor": CBORSerializer,
}
# what test_serializers.py covers beyond the COMBOS matrix: UBJSON and the
# batched WebSocket subprotocols (wamp.2.json.batched, ...)
MORE_SERIALIZERS = {
    "ubjson": UbjsonSerializer,
    **{
        f"{name}.batched": (lambda make: lambda: make(batched=True))(make)
        for name, make in {**SERIALIZERS, "ubjson": UbjsonSerializer}.items()
    },
}
TRANSPORTS = ("ws", "rs")
# every (transport, serializer) pair, as pytest ids "ws-json", "rs-cbor", ...
COMBOS = [(t, s) for t in TRANSPORTS for s in SERIALIZERS]
COMBO_IDS = [f"{t}-{s}" for t, s in COMBOS]

DEFAULT_TIMEOUT = 10.0


class JoinFailed(Exception):
    """The router refused the session (ABORT) or the transport closed before WELCOME."""

    def __init__(self, reason, message=None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Client(ApplicationSession):
    """An ApplicationSession that exposes its lifecycle as futures."""

    def __init__(self, config=None):
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.joined = loop.create_future()  # -> SessionDetails
        self.left = loop.create_future()  # -> CloseDetails
        self.disconnected = loop.create_future()  # -> None
        self.welcome = None
        self.label = ""

    def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onWelcome(self, welcome):
        self.welcome = welcome
        return None

    def onLeave(self, details):
        if not self.joined.done():
            self.joined.set_exception(JoinFailed(details.reason, details.message))
        if not self.left.done():
            self.left.set_result(details)
        self.disconnect()

    def onDisconnect(self):
        if not self.joined.done():
            self.joined.set_exception(JoinFailed("transport closed before WELCOME"))
        if not self.left.done():
            self.left.set_exception(ConnectionError("transport closed without GOODBYE"))
        if not self.disconnected.done():
            self.disconnected.set_result(None)

    @property
    def session_id(self):
        return self._session_id

    @property
    def authid(self):
        return self.joined.result().authid

    @property
    def authrole(self):
        return self.joined.result().authrole

    async def close(self, timeout=DEFAULT_TIMEOUT):
        """Leave with GOODBYE (if still joined) and wait for the transport to close."""
        if self.is_attached():
            try:
                await asyncio.wait_for(self.leave(), timeout)
            except Exception:
                pass
        if self._transport is not None:
            try:
                self._transport.close()
            except Exception:
                pass
        try:
            await asyncio.wait_for(asyncio.shield(self.disconnected), timeout)
        except (asyncio.TimeoutError, Exception):
            pass


def url_for(router, transport):
    if transport == "ws":
        return router.ws_url
    if transport == "rs":
        return router.rs_url
    raise ValueError(transport)


async def connect(
    router,
    transport="ws",
    serializer="json",
    realm="realm1",
    timeout=DEFAULT_TIMEOUT,
    wait_join=True,
    label=None,
    factory=None,
    url=None,
    ssl=None,
):
    """Connect and join; returns the joined `Client`, or raises `JoinFailed`. `factory`
    makes the session (a `Client` subclass, e.g. one that authenticates), `url` and `ssl`
    override the router's plain URL (for TLS)."""
    created = asyncio.get_running_loop().create_future()

    def make(cfg):
        s = (factory or Client)(cfg)
        s.label = label or f"{transport}-{serializer}"
        if not created.done():
            created.set_result(s)
        return s

    runner = ApplicationRunner(
        url or url_for(router, transport),
        realm,
        # None: Autobahn's own default list (batched CBOR first)
        serializers=None
        if serializer is None
        else [{**SERIALIZERS, **MORE_SERIALIZERS}[serializer]()],
        ssl=ssl,
    )
    _, protocol = await asyncio.wait_for(runner.run(make, start_loop=False), timeout)
    try:
        # the session is made once the transport's own handshake is done
        session = await asyncio.wait_for(created, timeout)
    except asyncio.TimeoutError:
        protocol.transport.close() if getattr(protocol, "transport", None) else None
        raise JoinFailed("transport handshake did not complete") from None
    if wait_join:
        await asyncio.wait_for(asyncio.shield(session.joined), timeout)
    return session


async def connect_many(router, specs, realm="realm1", timeout=DEFAULT_TIMEOUT):
    """Connect several sessions concurrently; specs is a list of (transport, serializer)."""
    return list(
        await asyncio.gather(
            *(connect(router, t, s, realm=realm, timeout=timeout) for t, s in specs)
        )
    )


async def close_all(sessions):
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


class Inbox:
    """Collects events delivered to a subscription handler."""

    def __init__(self):
        self.events = []  # (args, kwargs, details)
        self._changed = asyncio.Event()

    def handler(self, *args, **kwargs):
        details = kwargs.pop("details", None)
        self.events.append((list(args), kwargs, details))
        self._changed.set()

    @property
    def args(self):
        return [e[0] for e in self.events]

    async def wait_for(self, predicate, timeout=DEFAULT_TIMEOUT, what="events"):
        async def loop():
            while not predicate(self.events):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; got {len(self.events)}:"
                f" {self.events[-5:]!r}"
            ) from None

    async def wait_count(self, n, timeout=DEFAULT_TIMEOUT):
        await self.wait_for(lambda ev: len(ev) >= n, timeout, what=f"{n} events")

    async def wait_arg(self, value, timeout=DEFAULT_TIMEOUT):
        """Wait for an event whose first positional argument is `value`."""
        await self.wait_for(
            lambda ev: any(e[0][:1] == [value] for e in ev),
            timeout,
            what=f"an event with args[0] == {value!r}",
        )


async def subscribe(session, topic, match=None, get_retained=None, inbox=None):
    """Subscribe with an Inbox (a fresh one unless given); returns (subscription, inbox).
    The handler gets EventDetails."""
    from autobahn.wamp.types import SubscribeOptions

    inbox = inbox or Inbox()
    options = SubscribeOptions(match=match, details=True, get_retained=get_retained)
    sub = await asyncio.wait_for(
        session.subscribe(inbox.handler, topic, options=options), DEFAULT_TIMEOUT
    )
    return sub, inbox


def run(coro, timeout=60.0):
    """Run one test coroutine on a fresh event loop, bounded in time."""

    async def main():
        txaio.config.loop = asyncio.get_running_loop()
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def strict_equal(a, b, path="$"):
    """Deep equality that also compares types (True is not 1, 1.0 is not 1, bytes is not str).

    Returns None when equal, else a string naming the first difference.
    """
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: list lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = strict_equal(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = strict_equal(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, float):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return None
        return f"{path}: {a!r} != {b!r}"
    if a != b:
        return f"{path}: {a!r} != {b!r}"
    return None


async def assert_pubsub_works(router, realm="realm1", timeout=DEFAULT_TIMEOUT):
    """A fresh publisher and subscriber (different transports and serializers) still work."""
    import uuid

    from autobahn.wamp.types import PublishOptions

    topic = f"com.health.h{uuid.uuid4().hex[:12]}"
    sub = await connect(router, "rs", "msgpack", realm=realm, timeout=timeout)
    pub = await connect(router, "ws", "json", realm=realm, timeout=timeout)
    try:
        _, inbox = await subscribe(sub, topic)
        await asyncio.wait_for(
            pub.publish(topic, "ping", n=1, options=PublishOptions(acknowledge=True)), timeout
        )
        await inbox.wait_arg("ping", timeout)
    finally:
        await close_all([sub, pub])
