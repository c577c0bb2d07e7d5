//! The router's logic on the simulation: dealer, broker, meta API,
//! authentication and limits, in milliseconds and without a port; and a
//! seeded random test of many sessions. What needs a real socket
//! (transports, TLS, framing, flow control on a socket) stays in
//! `engine/tests`.

mod auth;
mod authorizer;
mod broker;
mod dealer;
mod determinism;
mod limits;
mod meta;
mod random;

use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::Result as CallResult;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};

use super::{ClientId, Setup, Sim};

/// A `Dict` of `entries`.
fn dict(entries: &[(&str, Value)]) -> Dict {
    entries.iter().cloned().collect()
}

/// A request id.
fn req(n: u64) -> RequestId {
    RequestId::new(n).unwrap()
}

/// Every role, with the features the tests use.
fn roles() -> Dict {
    let features = Value::Dict(dict(&[
        ("call_canceling", Value::Bool(true)),
        ("progressive_call_results", Value::Bool(true)),
        ("caller_identification", Value::Bool(true)),
        ("publisher_identification", Value::Bool(true)),
    ]));
    let role = Value::Dict(dict(&[("features", features)]));
    ["caller", "callee", "publisher", "subscriber"]
        .into_iter()
        .map(|name| (name, role.clone()))
        .collect()
}

/// A client on `core` speaking `serializer`, joined to `realm`.
fn joined(
    sim: &mut Sim,
    core: usize,
    serializer: Serializer,
    realm: &str,
) -> (ClientId, SessionId) {
    let c = sim.connect(core, serializer);
    let session = join(sim, c, realm);
    (c, session)
}

/// Joins `realm`; the session id.
fn join(sim: &mut Sim, c: ClientId, realm: &str) -> SessionId {
    sim.send(
        c,
        Message::Hello(Hello {
            realm: realm.into(),
            details: dict(&[("roles", Value::Dict(roles()))]),
        }),
    );
    match sim.recv(c) {
        Some(Message::Welcome(w)) => w.session,
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

/// HELLO to realm1 as `authid`, offering only `authmethod`.
fn hello_as(authmethod: &str, authid: &str) -> Message {
    Message::Hello(Hello {
        realm: "realm1".into(),
        details: dict(&[
            ("authmethods", list(&[Value::from(authmethod)])),
            ("authid", Value::from(authid)),
        ]),
    })
}

/// Arguments in the client's serializer.
fn payload(serializer: Serializer, args: &[Value], kwargs: Option<&Dict>) -> Payload {
    Payload::from_values(serializer, args, kwargs).unwrap()
}

/// A payload's arguments and keyword arguments.
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

/// A list of values.
fn list(values: &[Value]) -> Value {
    Value::List(values.to_vec())
}

fn subscribe(sim: &mut Sim, c: ClientId, topic: &str, options: Dict) -> SubscriptionId {
    sim.send(
        c,
        Message::Subscribe(Subscribe {
            request: req(1),
            options,
            topic: topic.into(),
        }),
    );
    match sim.recv(c) {
        Some(Message::Subscribed(s)) => s.subscription,
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
}

fn publish(sim: &mut Sim, c: ClientId, topic: &str, options: Dict, a: &[Value]) {
    let serializer = sim.serializer(c);
    sim.send(
        c,
        Message::Publish(Publish {
            request: req(2),
            options,
            topic: topic.into(),
            payload: payload(serializer, a, None),
        }),
    );
}

fn event(sim: &mut Sim, c: ClientId) -> Event {
    match sim.recv(c) {
        Some(Message::Event(e)) => e,
        other => panic!("expected EVENT, got {other:?}"),
    }
}

fn register(sim: &mut Sim, c: ClientId, procedure: &str, options: Dict) -> RegistrationId {
    sim.send(
        c,
        Message::Register(Register {
            request: req(1),
            options,
            procedure: procedure.into(),
        }),
    );
    match sim.recv(c) {
        Some(Message::Registered(r)) => r.registration,
        other => panic!("expected REGISTERED, got {other:?}"),
    }
}

fn call(sim: &mut Sim, c: ClientId, request: u64, procedure: &str, options: Dict, a: &[Value]) {
    let serializer = sim.serializer(c);
    sim.send(
        c,
        Message::Call(Call {
            request: req(request),
            options,
            procedure: procedure.into(),
            payload: payload(serializer, a, None),
        }),
    );
}

fn invocation(sim: &mut Sim, c: ClientId) -> Invocation {
    match sim.recv(c) {
        Some(Message::Invocation(i)) => i,
        other => panic!("expected INVOCATION, got {other:?}"),
    }
}

fn yield_to(sim: &mut Sim, c: ClientId, i: &Invocation, options: Dict, a: &[Value]) {
    let serializer = sim.serializer(c);
    sim.send(
        c,
        Message::Yield(Yield {
            request: i.request,
            options,
            payload: payload(serializer, a, None),
        }),
    );
}

/// The callee answers invocation `request` with ERROR `uri`.
fn invocation_error(sim: &mut Sim, c: ClientId, request: RequestId, uri: &str, payload: Payload) {
    sim.send(
        c,
        Message::Error(Error {
            request_type: MessageType::Invocation.code(),
            request,
            details: Dict::new(),
            error: uri.into(),
            payload,
        }),
    );
}

fn result(sim: &mut Sim, c: ClientId) -> CallResult {
    match sim.recv(c) {
        Some(Message::Result(r)) => r,
        other => panic!("expected RESULT, got {other:?}"),
    }
}

fn interrupt(sim: &mut Sim, c: ClientId) -> Interrupt {
    match sim.recv(c) {
        Some(Message::Interrupt(i)) => i,
        other => panic!("expected INTERRUPT, got {other:?}"),
    }
}

/// The next message is an ERROR `uri` for request `request`.
fn expect_error(sim: &mut Sim, c: ClientId, request: u64, uri: &str) -> Error {
    match sim.recv(c) {
        Some(Message::Error(e)) => {
            assert_eq!((e.request.get(), e.error.as_str()), (request, uri));
            e
        }
        other => panic!("expected ERROR {uri}, got {other:?}"),
    }
}

/// The next message is an ABORT; its reason and `message`.
fn expect_abort(sim: &mut Sim, c: ClientId) -> (String, String) {
    match sim.recv(c) {
        Some(Message::Abort(a)) => (
            a.reason.to_string(),
            a.details
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        other => panic!("expected ABORT, got {other:?}"),
    }
}
