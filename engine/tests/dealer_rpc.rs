//! The dealer across cores: caller and callee on different cores, with
//! different serializers and transports, on both I/O backends.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::{FlowControl, IoBackend};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::*;

const CALLEE: Transport = Transport::WebSocket(Serializer::MsgPack);
const CALLER: Transport = Transport::RawSocket(Serializer::Json);

fn dict(entries: &[(&str, Value)]) -> Dict {
    entries.iter().cloned().collect()
}

fn roles() -> Dict {
    let features = Value::Dict(dict(&[
        ("call_canceling", Value::Bool(true)),
        ("progressive_call_results", Value::Bool(true)),
    ]));
    let role = Value::Dict(dict(&[("features", features)]));
    dict(&[("caller", role.clone()), ("callee", role)])
}

/// A joined client and the core it landed on.
fn joined(router: &TestRouter, transport: Transport) -> (Client, usize) {
    let before = router.sessions_per_core();
    let mut c = Client::connect(router, transport);
    join_as(&mut c, "realm1", roles());
    let after = router.sessions_per_core();
    let core = (0..after.len()).find(|&i| after[i] > before[i]).unwrap();
    (c, core)
}

/// A callee, and a caller on another core.
fn callee_and_remote_caller(router: &TestRouter) -> (Client, Client) {
    let (callee, callee_core) = joined(router, CALLEE);
    let mut spare = Vec::new();
    for _ in 0..64 {
        let (caller, core) = joined(router, CALLER);
        if core != callee_core {
            return (callee, caller);
        }
        spare.push(caller);
    }
    panic!("no connection landed on a second core");
}

fn args(payload: &Payload) -> (Value, Option<Value>) {
    match payload {
        Payload::Arguments(a) => (
            codec::decode_value(a.serializer, &a.args).unwrap(),
            a.kwargs
                .as_ref()
                .map(|k| codec::decode_value(a.serializer, k).unwrap()),
        ),
        other => panic!("no arguments: {other:?}"),
    }
}

fn register(c: &mut Client, procedure: &str) -> u64 {
    c.send(&Message::Register(Register {
        request: req(1),
        options: Dict::new(),
        procedure: procedure.into(),
    }));
    match c.recv() {
        Some(Message::Registered(r)) => r.registration.get(),
        other => panic!("expected REGISTERED, got {other:?}"),
    }
}

fn call(c: &mut Client, request: u64, procedure: &str, options: Dict, a: &[Value]) {
    let payload = Payload::from_values(c.serializer(), a, None).unwrap();
    c.send(&Message::Call(Call {
        request: req(request),
        options,
        procedure: procedure.into(),
        payload,
    }));
}

fn invocation(c: &mut Client) -> Invocation {
    match c.recv() {
        Some(Message::Invocation(i)) => i,
        other => panic!("expected INVOCATION, got {other:?}"),
    }
}

fn yield_to(c: &mut Client, i: &Invocation, options: Dict, a: &[Value]) {
    let payload = Payload::from_values(c.serializer(), a, None).unwrap();
    c.send(&Message::Yield(Yield {
        request: i.request,
        options,
        payload,
    }));
}

fn expect_error(c: &mut Client, request: u64, uri: &str) -> Error {
    match c.recv() {
        Some(Message::Error(e)) => {
            assert_eq!((e.request.get(), e.error.as_str()), (request, uri));
            e
        }
        other => panic!("expected ERROR {uri}, got {other:?}"),
    }
}

fn calls_across_cores(io: IoBackend) {
    let router = TestRouter::start(2, io);
    let (mut callee, mut caller) = callee_and_remote_caller(&router);
    let registration = register(&mut callee, "com.example.add");

    // A call, its payload transcoded JSON -> MessagePack and back.
    let kwargs = dict(&[("x", Value::from("y"))]);
    let payload = Payload::from_values(
        Serializer::Json,
        &[Value::UInt(2), Value::UInt(3)],
        Some(&kwargs),
    )
    .unwrap();
    caller.send(&Message::Call(Call {
        request: req(10),
        options: Dict::new(),
        procedure: "com.example.add".into(),
        payload,
    }));
    let i = invocation(&mut callee);
    assert_eq!(i.registration.get(), registration);
    assert_eq!(
        args(&i.payload),
        (
            Value::List(vec![Value::UInt(2), Value::UInt(3)]),
            Some(Value::Dict(kwargs))
        )
    );
    yield_to(&mut callee, &i, Dict::new(), &[Value::UInt(5)]);
    match caller.recv() {
        Some(Message::Result(r)) => {
            assert_eq!(r.request.get(), 10);
            assert_eq!(args(&r.payload).0, Value::List(vec![Value::UInt(5)]));
        }
        other => panic!("expected RESULT, got {other:?}"),
    }

    // An application error passes through unchanged.
    call(&mut caller, 11, "com.example.add", Dict::new(), &[]);
    let i = invocation(&mut callee);
    let kw = dict(&[("k", Value::from("v"))]);
    callee.send(&Message::Error(Error {
        request_type: MessageType::Invocation.code(),
        request: i.request,
        details: Dict::new(),
        error: "com.example.oops".into(),
        payload: Payload::from_values(Serializer::MsgPack, &[Value::Int(-1)], Some(&kw)).unwrap(),
    }));
    let e = expect_error(&mut caller, 11, "com.example.oops");
    assert_eq!(
        args(&e.payload),
        (Value::List(vec![Value::Int(-1)]), Some(Value::Dict(kw)))
    );

    // Progressive results.
    call(
        &mut caller,
        12,
        "com.example.add",
        dict(&[("receive_progress", Value::Bool(true))]),
        &[],
    );
    let i = invocation(&mut callee);
    assert_eq!(i.details.get("receive_progress"), Some(&Value::Bool(true)));
    for n in 0..3u64 {
        yield_to(
            &mut callee,
            &i,
            dict(&[("progress", Value::Bool(true))]),
            &[Value::UInt(n)],
        );
    }
    yield_to(&mut callee, &i, Dict::new(), &[Value::from("done")]);
    for n in 0..3u64 {
        match caller.recv() {
            Some(Message::Result(r)) => {
                assert_eq!(r.details.get("progress"), Some(&Value::Bool(true)));
                assert_eq!(args(&r.payload).0, Value::List(vec![Value::UInt(n)]));
            }
            other => panic!("expected progressive RESULT, got {other:?}"),
        }
    }
    match caller.recv() {
        Some(Message::Result(r)) => assert!(r.details.get("progress").is_none()),
        other => panic!("expected final RESULT, got {other:?}"),
    }

    // CANCEL (kill): the callee is interrupted and its answer passed on.
    call(&mut caller, 13, "com.example.add", Dict::new(), &[]);
    let i = invocation(&mut callee);
    caller.send(&Message::Cancel(Cancel {
        request: req(13),
        options: dict(&[("mode", Value::from("kill"))]),
    }));
    match callee.recv() {
        Some(Message::Interrupt(x)) => {
            assert_eq!(x.request, i.request);
            assert_eq!(x.options.get("mode"), Some(&Value::from("kill")));
        }
        other => panic!("expected INTERRUPT, got {other:?}"),
    }
    callee.send(&Message::Error(Error {
        request_type: MessageType::Invocation.code(),
        request: i.request,
        details: Dict::new(),
        error: "wamp.error.canceled".into(),
        payload: Payload::Empty,
    }));
    expect_error(&mut caller, 13, "wamp.error.canceled");

    // The dealer's timeout: the caller gets wamp.error.timeout, the callee
    // an INTERRUPT; its late YIELD goes nowhere.
    call(
        &mut caller,
        14,
        "com.example.add",
        dict(&[("timeout", Value::UInt(100))]),
        &[],
    );
    let i = invocation(&mut callee);
    expect_error(&mut caller, 14, "wamp.error.timeout");
    match callee.recv() {
        Some(Message::Interrupt(x)) => {
            assert_eq!(x.request, i.request);
            assert_eq!(
                x.options.get("reason"),
                Some(&Value::from("wamp.error.timeout"))
            );
        }
        other => panic!("expected INTERRUPT, got {other:?}"),
    }
    yield_to(&mut callee, &i, Dict::new(), &[]);

    // The callee leaves mid-call: the caller gets wamp.error.canceled, and
    // the procedure is gone.
    call(&mut caller, 15, "com.example.add", Dict::new(), &[]);
    invocation(&mut callee);
    drop(callee);
    expect_error(&mut caller, 15, "wamp.error.canceled");
    call(&mut caller, 16, "com.example.add", Dict::new(), &[]);
    expect_error(&mut caller, 16, "wamp.error.no_such_procedure");
}

#[test]
fn calls_across_cores_epoll() {
    calls_across_cores(IoBackend::Epoll);
}

#[test]
fn calls_across_cores_uring() {
    calls_across_cores(IoBackend::Auto);
}

#[test]
fn a_caller_that_leaves_interrupts_its_callee_on_another_core() {
    let router = TestRouter::start(2, IoBackend::Epoll);
    let (mut callee, mut caller) = callee_and_remote_caller(&router);
    register(&mut callee, "com.example.slow");
    call(&mut caller, 1, "com.example.slow", Dict::new(), &[]);
    let i = invocation(&mut callee);
    drop(caller);
    match callee.recv() {
        Some(Message::Interrupt(x)) => {
            assert_eq!(x.request, i.request);
            assert_eq!(x.options.get("mode"), Some(&Value::from("killnowait")));
        }
        other => panic!("expected INTERRUPT, got {other:?}"),
    }
}

#[test]
fn a_callee_with_a_full_queue_fails_calls_instead_of_queueing() {
    let flow = FlowControl {
        max_queued_bytes: 64 * 1024,
        ..FlowControl::default()
    };
    let router = TestRouter::start_with(2, IoBackend::Epoll, flow);
    let (mut callee, mut caller) = callee_and_remote_caller(&router);
    register(&mut callee, "com.example.stuck");
    // The callee reads nothing: once the socket buffers are full, its queue
    // fills, and further calls fail at once.
    let big = Value::from("x".repeat(60_000));
    for n in 1..=400u64 {
        call(
            &mut caller,
            n,
            "com.example.stuck",
            Dict::new(),
            std::slice::from_ref(&big),
        );
    }
    match caller.recv() {
        Some(Message::Error(e)) => {
            assert_eq!(e.error.as_str(), "wamp.error.unavailable");
            assert_eq!(e.request_type, MessageType::Call.code());
        }
        other => panic!("expected ERROR wamp.error.unavailable, got {other:?}"),
    }
}

#[test]
fn calls_in_flight_per_caller_are_bounded() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let (mut callee, _) = joined(&router, CALLEE);
    let (mut caller, _) = joined(&router, CALLER);
    register(&mut callee, "com.example.never");
    for n in 1..=1025u64 {
        call(&mut caller, n, "com.example.never", Dict::new(), &[]);
    }
    expect_error(&mut caller, 1025, "wamp.error.unavailable");
}

#[test]
fn an_error_for_anything_but_an_invocation_is_a_protocol_violation() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let (mut c, _) = joined(&router, CALLER);
    c.send(&Message::Error(Error {
        request_type: MessageType::Subscribe.code(),
        request: req(1),
        details: Dict::new(),
        error: "com.example.nonsense".into(),
        payload: Payload::Empty,
    }));
    match c.recv() {
        Some(Message::Abort(a)) => assert_eq!(a.reason.as_str(), "wamp.error.protocol_violation"),
        other => panic!("expected ABORT, got {other:?}"),
    }
}

/// A request id used again after a CANCEL `skip`, while the callee still
/// holds the first INVOCATION: a CANCEL `kill` of the second call still
/// interrupts the callee (the first one's late YIELD used to unlink the
/// second call from its invocation; found by the router-core fuzz target).
#[test]
fn a_request_id_used_again_after_a_skip_cancel_can_still_be_killed() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let (mut callee, _) = joined(&router, CALLEE);
    register(&mut callee, "com.example.slow");
    let (mut caller, _) = joined(&router, CALLER);
    let cancel = |c: &mut Client, mode: &str| {
        c.send(&Message::Cancel(Cancel {
            request: req(5),
            options: dict(&[("mode", Value::from(mode))]),
        }))
    };
    call(&mut caller, 5, "com.example.slow", Dict::new(), &[]);
    let first = invocation(&mut callee);
    cancel(&mut caller, "skip");
    expect_error(&mut caller, 5, "wamp.error.canceled");
    call(&mut caller, 5, "com.example.slow", Dict::new(), &[]);
    let second = invocation(&mut callee);
    // The skipped call's late answer goes nowhere.
    yield_to(&mut callee, &first, Dict::new(), &[Value::from("late")]);
    cancel(&mut caller, "kill");
    match callee.recv() {
        Some(Message::Interrupt(x)) => assert_eq!(x.request, second.request),
        other => panic!("expected INTERRUPT of the second call, got {other:?}"),
    }
    yield_to(&mut callee, &second, Dict::new(), &[Value::from("second")]);
    match caller.recv() {
        Some(Message::Result(r)) => {
            assert_eq!(r.request, req(5));
            assert_eq!(args(&r.payload).0, Value::List(vec![Value::from("second")]));
        }
        other => panic!("expected the second call's RESULT, got {other:?}"),
    }
}
