"""Routed RPC from raw WAMP peers, for what Autobahn|Python does not send: progressive
call invocations, forward_timeout, every CANCEL mode, disclose_me and disclose_caller,
callees that do not announce call_canceling, the dealer features in WELCOME, and bad
input (YIELD for an unknown request, a request id reused while in flight, CANCEL after
the call ended)."""

import time

import pytest

from rawwamp import ABORT, ERROR, WELCOME, Closed, RawWamp

pytestmark = pytest.mark.timeout(60)

CALL, CANCEL, RESULT = 48, 49, 50
REGISTER, REGISTERED, UNREGISTER, UNREGISTERED = 64, 65, 66, 67
INVOCATION, INTERRUPT, YIELD = 68, 69, 70

FEATURES = {"call_canceling": True, "progressive_call_results": True,
            "progressive_call_invocations": True, "caller_identification": True,
            "call_timeout": True}
ROLES = {"caller": {"features": dict(FEATURES)}, "callee": {"features": dict(FEATURES)}}
NO_CANCEL_ROLES = {"caller": {"features": {}}, "callee": {"features": {}}}

SERIALIZERS = ["json", "msgpack", "cbor"]


def peer(router, transport="ws", serializer="json", roles=ROLES):
    p = RawWamp(router, transport, serializer)
    p.join(roles=roles)
    return p


def register(p, procedure, options=None):
    req = p.next_request()
    p.send([REGISTER, req, options or {}, procedure])
    m = p.recv()
    assert m[0] == REGISTERED and m[1] == req, m
    return m[2]


def call(p, procedure, args=None, options=None, req=None):
    req = req or p.next_request()
    msg = [CALL, req, options or {}, procedure]
    if args is not None:
        msg.append(args)
    p.send(msg)
    return req


def expect(p, msg_type):
    m = p.recv()
    assert m[0] == msg_type, f"expected message type {msg_type}, got {m!r}"
    return m


def nothing_within(p, seconds):
    """No message arrives within `seconds`."""
    p.conn.sock.settimeout(seconds)
    try:
        m = p.recv()
    except (TimeoutError, OSError, Closed):
        return
    finally:
        p.conn.sock.settimeout(5.0)
    raise AssertionError(f"unexpected message {m!r}")


@pytest.fixture
def pair(router):
    callee = peer(router, "ws", "msgpack")
    caller = peer(router, "rs", "json")
    yield callee, caller
    callee.close()
    caller.close()


def test_welcome_announces_the_dealer_features(router):
    p = peer(router)
    try:
        features = p.welcome_details["roles"]["dealer"]["features"]
        for f in ("progressive_call_results", "call_canceling", "caller_identification",
                  "pattern_based_registration", "shared_registration"):
            assert features.get(f) is True, f
    finally:
        p.close()


@pytest.mark.crossbar_differs("Crossbar.io does not announce call_timeout or "
                              "progressive_call_invocations")
def test_welcome_announces_timeout_and_progressive_invocations(router):
    p = peer(router)
    try:
        features = p.welcome_details["roles"]["dealer"]["features"]
        assert features.get("call_timeout") is True
        assert features.get("progressive_call_invocations") is True
    finally:
        p.close()


@pytest.mark.crossbar_differs("Crossbar.io does not pass on progressive call invocations")
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_progressive_call_invocations(router, uid, serializer):
    callee = peer(router, "ws", serializer)
    caller = peer(router, "rs", SERIALIZERS[(SERIALIZERS.index(serializer) + 1) % 3])
    try:
        register(callee, f"com.{uid}.upload")
        req = call(caller, f"com.{uid}.upload", [1], {"progress": True, "disclose_me": True})
        first = expect(callee, INVOCATION)
        assert first[3].get("progress") is True and first[4] == [1]
        assert first[3].get("caller") == caller.session_id
        call(caller, f"com.{uid}.upload", [2], {"progress": True}, req=req)
        call(caller, f"com.{uid}.upload", [3], {}, req=req)
        second, third = expect(callee, INVOCATION), expect(callee, INVOCATION)
        assert second[1] == third[1] == first[1]
        assert second[3].get("progress") is True and second[4] == [2]
        assert not third[3].get("progress") and third[4] == [3]
        # options of the first CALL hold for every part
        assert second[3].get("caller") == third[3].get("caller") == caller.session_id
        callee.send([YIELD, first[1], {}, [6]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == [6]
    finally:
        callee.close()
        caller.close()


@pytest.mark.crossbar_differs("Crossbar.io does not pass on progressive call invocations")
def test_progressive_call_to_a_callee_without_the_feature_is_not_supported(router, uid):
    callee = peer(router, "ws", "json", roles=NO_CANCEL_ROLES)
    caller = peer(router, "rs", "cbor")
    try:
        register(callee, f"com.{uid}.old")
        req = call(caller, f"com.{uid}.old", [1], {"progress": True})
        e = expect(caller, ERROR)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.feature_not_supported"
        nothing_within(callee, 0.3)
    finally:
        callee.close()
        caller.close()


@pytest.mark.crossbar_differs("Crossbar.io does not pass on progressive call invocations")
def test_progressive_call_from_a_caller_without_the_feature_is_a_protocol_violation(router, uid):
    callee = peer(router, "ws", "msgpack")
    caller = peer(router, "rs", "json", roles=NO_CANCEL_ROLES)
    try:
        register(callee, f"com.{uid}.new")
        call(caller, f"com.{uid}.new", [1], {"progress": True})
        m = caller.recv_until(ABORT)
        assert m[2] == "wamp.error.protocol_violation"
    finally:
        callee.close()
        caller.close()


def test_forward_timeout_leaves_the_timeout_to_the_callee(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.fw", {"forward_timeout": True})
    req = call(caller, f"com.{uid}.fw", [], {"timeout": 150})
    inv = expect(callee, INVOCATION)
    assert inv[3].get("timeout") == 150
    nothing_within(caller, 0.5)
    callee.send([ERROR, INVOCATION, inv[1], {}, "wamp.error.timeout"])
    e = expect(caller, ERROR)
    assert e[1:3] == [CALL, req] and e[4] == "wamp.error.timeout"


@pytest.mark.crossbar_differs("Crossbar.io reads CALL.Options.timeout in seconds")
def test_dealer_timeout_interrupts_with_killnowait(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.slow")
    t0 = time.monotonic()
    req = call(caller, f"com.{uid}.slow", [], {"timeout": 200})
    inv = expect(callee, INVOCATION)
    assert "timeout" not in inv[3]
    e = expect(caller, ERROR)
    assert e[1:3] == [CALL, req] and e[4] == "wamp.error.timeout"
    assert 0.15 < time.monotonic() - t0 < 3
    i = expect(callee, INTERRUPT)
    assert i[1] == inv[1] and i[2].get("mode") == "killnowait"
    callee.send([YIELD, inv[1], {}, ["late"]])
    nothing_within(caller, 0.3)


CANCEL_MODES = [
    pytest.param(
        "skip",
        marks=pytest.mark.crossbar_differs("Crossbar.io does not answer a skip CANCEL at once"),
    ),
    "kill",
    "killnowait",
]


@pytest.mark.parametrize("mode", CANCEL_MODES)
def test_cancel_modes(pair, uid, mode):
    callee, caller = pair
    register(callee, f"com.{uid}.c")
    req = call(caller, f"com.{uid}.c")
    inv = expect(callee, INVOCATION)
    caller.send([CANCEL, req, {"mode": mode}])
    if mode == "skip":
        e = expect(caller, ERROR)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled"
        nothing_within(callee, 0.3)
        callee.send([YIELD, inv[1], {}, ["skipped"]])
        nothing_within(caller, 0.3)
    elif mode == "kill":
        i = expect(callee, INTERRUPT)
        assert i[1] == inv[1] and i[2].get("mode") == "kill"
        nothing_within(caller, 0.3)
        callee.send([ERROR, INVOCATION, inv[1], {}, "wamp.error.canceled", ["by callee"]])
        e = expect(caller, ERROR)
        # the ERROR comes only after the callee's (ringbar passes the callee's on unchanged)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled"
    else:
        e = expect(caller, ERROR)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled"
        i = expect(callee, INTERRUPT)
        assert i[1] == inv[1] and i[2].get("mode") == "killnowait"
        callee.send([ERROR, INVOCATION, inv[1], {}, "wamp.error.canceled"])
        nothing_within(caller, 0.3)
    # CANCEL for a call that has ended is ignored; the session goes on
    caller.send([CANCEL, req, {"mode": mode}])
    req2 = call(caller, f"com.{uid}.c")
    inv2 = expect(callee, INVOCATION)
    callee.send([YIELD, inv2[1], {}, ["ok"]])
    r = expect(caller, RESULT)
    assert r[1] == req2 and r[3] == ["ok"]


@pytest.mark.crossbar_differs("Crossbar.io waits for the callee's answer")
def test_cancel_kill_for_a_callee_without_call_canceling_acts_as_skip(router, uid):
    callee = peer(router, "ws", "cbor", roles=NO_CANCEL_ROLES)
    caller = peer(router, "rs", "msgpack")
    try:
        register(callee, f"com.{uid}.nc")
        req = call(caller, f"com.{uid}.nc")
        expect(callee, INVOCATION)
        caller.send([CANCEL, req, {"mode": "kill"}])
        e = expect(caller, ERROR)
        assert e[1:3] == [CALL, req] and e[4] == "wamp.error.canceled"
        nothing_within(callee, 0.3)
    finally:
        callee.close()
        caller.close()


def invoked_with(callee, caller, procedure, options):
    """Calls `procedure`, answers it; returns the INVOCATION's details."""
    req = call(caller, procedure, [], options)
    inv = expect(callee, INVOCATION)
    callee.send([YIELD, inv[1], {}])
    assert expect(caller, RESULT)[1] == req
    return inv[3]


def assert_disclosed(details, caller):
    assert details.get("caller") == caller.session_id, details
    assert details.get("caller_authrole") == "anonymous"
    assert isinstance(details.get("caller_authid"), str)


def test_caller_is_not_disclosed_unless_asked(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.who")
    assert "caller" not in invoked_with(callee, caller, f"com.{uid}.who", {})


@pytest.mark.crossbar_differs("Crossbar.io ignores disclose_me on CALL and disclose_caller on "
                              "REGISTER (only the role's disclose.caller counts)")
def test_caller_disclosed_by_disclose_me_or_disclose_caller(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.who")
    register(callee, f"com.{uid}.always", {"disclose_caller": True})
    assert_disclosed(invoked_with(callee, caller, f"com.{uid}.who", {"disclose_me": True}), caller)
    assert_disclosed(invoked_with(callee, caller, f"com.{uid}.always", {}), caller)


def test_caller_disclosed_by_the_role(router, uid):
    callee = RawWamp(router, "rs", "cbor")
    callee.join(realm="disclosing", roles=ROLES)
    caller = RawWamp(router, "ws", "json")
    caller.join(realm="disclosing", roles=ROLES)
    try:
        register(callee, f"com.{uid}.who")
        assert_disclosed(invoked_with(callee, caller, f"com.{uid}.who", {}), caller)
    finally:
        callee.close()
        caller.close()


def test_unregister(pair, uid):
    callee, caller = pair
    reg = register(callee, f"com.{uid}.u")
    req = callee.next_request()
    callee.send([UNREGISTER, req, reg])
    assert expect(callee, UNREGISTERED)[1] == req
    req = callee.next_request()
    callee.send([UNREGISTER, req, reg])
    e = expect(callee, ERROR)
    assert e[1:3] == [UNREGISTER, req] and e[4] == "wamp.error.no_such_registration"
    req = call(caller, f"com.{uid}.u")
    e = expect(caller, ERROR)
    assert e[1:3] == [CALL, req] and e[4] == "wamp.error.no_such_procedure"


def test_yield_for_an_unknown_request_is_ignored(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.y")
    callee.send([YIELD, 987654, {}, ["stray"]])
    callee.send([ERROR, INVOCATION, 987655, {}, "com.stray"])
    req = call(caller, f"com.{uid}.y")
    inv = expect(callee, INVOCATION)
    callee.send([YIELD, inv[1], {}, ["fine"]])
    r = expect(caller, RESULT)
    assert r[1] == req and r[3] == ["fine"]


@pytest.mark.crossbar_differs("Crossbar.io routes a second CALL with a request id in flight "
                              "as a new call")
def test_request_id_reused_while_in_flight_is_a_protocol_violation(pair, uid):
    callee, caller = pair
    register(callee, f"com.{uid}.d")
    req = call(caller, f"com.{uid}.d")
    expect(callee, INVOCATION)
    call(caller, f"com.{uid}.d", req=req)
    m = caller.recv_until(ABORT)
    assert m[2] == "wamp.error.protocol_violation"
    # the callee is not harmed: it gets an INTERRUPT for the aborted caller's call
    i = expect(callee, INTERRUPT)
    assert i[2].get("mode") == "killnowait"


PPT = {"ppt_scheme": "x_interop", "ppt_serializer": "custom", "ppt_cipher": "x_none",
       "ppt_keyid": "key-1"}
# not valid MessagePack, CBOR or UTF-8: a router that parses the payload chokes on it
OPAQUE = b"\xc1\xff\x00\xfe call \x80\x81"
OPAQUE_RESULT = b"\xc1\xfe result \x00"


@pytest.mark.crossbar_differs("Crossbar.io 26.10 implements Autobahn's enc_algo passthru, "
                              "not the spec's ppt_* options")
@pytest.mark.parametrize("callee_wire,caller_wire",
                         [(("ws", "msgpack"), ("rs", "cbor")), (("rs", "json"), ("ws", "msgpack"))],
                         ids=["msgpack-cbor", "json-msgpack"])
def test_payload_passthru_in_calls(router, uid, callee_wire, caller_wire):
    callee = peer(router, *callee_wire)
    caller = peer(router, *caller_wire)
    try:
        assert caller.welcome_details["roles"]["dealer"]["features"]["payload_passthru_mode"]
        register(callee, f"com.{uid}.ppt")
        req = call(caller, f"com.{uid}.ppt", [OPAQUE], dict(PPT))
        inv = expect(callee, INVOCATION)
        assert inv[4] == [OPAQUE]
        for k, v in PPT.items():
            assert inv[3].get(k) == v, inv
        callee.send([YIELD, inv[1], dict(PPT), [OPAQUE_RESULT]])
        r = expect(caller, RESULT)
        assert r[1] == req and r[3] == [OPAQUE_RESULT]
        for k, v in PPT.items():
            assert r[2].get(k) == v, r
    finally:
        callee.close()
        caller.close()
