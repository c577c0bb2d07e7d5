//! The router's own calls to a dynamic authenticator: a callee on another
//! core, a callee that leaves mid-call, and one that never answers, while
//! other sessions go on; on both I/O backends.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbar_engine::config::{
    AuthConfig, AuthenticatorProcedure, IoBackend, Provider, TransportKind,
};
use ringbar_protocol::codec;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::*;

const PROCEDURE: &str = "com.example.authenticate";
const CLIENT: Transport = Transport::RawSocket(Serializer::Json);
const AUTHENTICATOR: Transport = Transport::WebSocket(Serializer::MsgPack);

/// A router with 2 cores whose transports admit anonymous sessions and
/// `ticket` by the dynamic authenticator [`PROCEDURE`].
fn router(io: IoBackend) -> TestRouter {
    let auth = Arc::new(AuthConfig {
        ticket: Some(Provider::Procedure(AuthenticatorProcedure {
            procedure: PROCEDURE.into(),
            realm: None,
        })),
        ..AuthConfig::default()
    });
    TestRouter::start_edited(2, io, |config| {
        for transport in &mut config.transports {
            match &mut transport.kind {
                TransportKind::RawSocket(rs) => rs.auth = auth.clone(),
                TransportKind::WebSocket(ws) => ws.auth = auth.clone(),
                _ => {}
            }
        }
    })
}

/// An anonymous session that registered [`PROCEDURE`], and its core.
fn authenticator(router: &TestRouter) -> (Client, usize) {
    let before = router.sessions_per_core();
    let mut c = Client::connect(router, AUTHENTICATOR);
    join(&mut c, "realm1");
    let after = router.sessions_per_core();
    let core = (0..after.len()).find(|&i| after[i] > before[i]).unwrap();
    c.send(&Message::Register(Register {
        request: req(1),
        options: Dict::new(),
        procedure: PROCEDURE.into(),
    }));
    match c.recv() {
        Some(Message::Registered(_)) => (c, core),
        other => panic!("expected REGISTERED, got {other:?}"),
    }
}

/// A client that sent HELLO (ticket, `authid`) and AUTHENTICATE.
fn authenticating(router: &TestRouter, authid: &str) -> Client {
    let mut c = Client::connect(router, CLIENT);
    let details: Dict = [
        ("authmethods", Value::List(vec![Value::from("ticket")])),
        ("authid", Value::from(authid)),
    ]
    .into_iter()
    .collect();
    c.send(&Message::Hello(Hello {
        realm: "realm1".into(),
        details,
    }));
    match c.recv() {
        Some(Message::Challenge(ch)) => assert_eq!(ch.authmethod.as_str(), "ticket"),
        other => panic!("expected CHALLENGE, got {other:?}"),
    }
    c.send(&Message::Authenticate(Authenticate {
        signature: "the-ticket".into(),
        extra: Dict::new(),
    }));
    c
}

/// The INVOCATION the authenticator gets, and its arguments.
fn invocation(c: &mut Client) -> (Invocation, Vec<Value>) {
    match c.recv() {
        Some(Message::Invocation(i)) => {
            let args = match &i.payload {
                Payload::Arguments(a) => match codec::decode_value(a.serializer, &a.args) {
                    Ok(Value::List(list)) => list,
                    other => panic!("arguments are not a list: {other:?}"),
                },
                other => panic!("no arguments: {other:?}"),
            };
            (i, args)
        }
        other => panic!("expected INVOCATION, got {other:?}"),
    }
}

fn abort_message(c: &mut Client) -> (String, String) {
    match c.recv() {
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

fn backends() -> [IoBackend; 2] {
    [IoBackend::Epoll, IoBackend::Auto]
}

#[test]
fn the_authenticator_on_another_core_admits_and_refuses() {
    for io in backends() {
        let router = router(io);
        let (mut auth, auth_core) = authenticator(&router);
        let mut remote = false;
        for _ in 0..32 {
            let before = router.sessions_per_core();
            let mut c = authenticating(&router, "joe");
            let (call, args) = invocation(&mut auth);
            assert_eq!(args[0], Value::from("realm1"));
            assert_eq!(args[1], Value::from("joe"));
            let details = args[2].as_dict().unwrap();
            assert_eq!(details.get("ticket"), Some(&Value::from("the-ticket")));
            auth.send(&Message::Yield(Yield {
                request: call.request,
                options: Dict::new(),
                payload: Payload::from_values(auth.serializer(), &[Value::from("anonymous")], None)
                    .unwrap(),
            }));
            match c.recv() {
                Some(Message::Welcome(w)) => {
                    assert_eq!(w.details.get("authprovider"), Some(&Value::from("dynamic")));
                }
                other => panic!("expected WELCOME, got {other:?}"),
            }
            let after = router.sessions_per_core();
            remote |= after
                .iter()
                .zip(&before)
                .enumerate()
                .any(|(core, (a, b))| a > b && core != auth_core);
            if remote {
                break;
            }
        }
        assert!(remote, "no client landed on the other core");

        // an ERROR refuses with its URI
        let mut c = authenticating(&router, "mallory");
        let (call, _) = invocation(&mut auth);
        auth.send(&Message::Error(Error {
            request_type: MessageType::Invocation.code(),
            request: call.request,
            details: Dict::new(),
            error: "com.example.invalid_ticket".into(),
            payload: Payload::from_values(auth.serializer(), &[Value::from("bad ticket")], None)
                .unwrap(),
        }));
        assert_eq!(
            abort_message(&mut c),
            (
                "com.example.invalid_ticket".to_owned(),
                "bad ticket".to_owned()
            )
        );
    }
}

#[test]
fn an_authenticator_that_leaves_mid_call_refuses_the_session() {
    for io in backends() {
        let router = router(io);
        let (mut auth, _) = authenticator(&router);
        let mut c = authenticating(&router, "joe");
        let _ = invocation(&mut auth);
        drop(auth);
        let (reason, message) = abort_message(&mut c);
        assert_eq!(reason, "wamp.error.not_authorized");
        assert!(message.contains("left before it answered"), "{message}");
        // with nobody registered, the refusal says so
        let mut c = authenticating(&router, "joe");
        let (reason, message) = abort_message(&mut c);
        assert_eq!(reason, "wamp.error.not_authorized");
        assert!(message.contains("is not registered"), "{message}");
    }
}

#[test]
fn an_authenticator_that_never_answers_times_out_while_others_join() {
    let router = router(IoBackend::Epoll);
    let (mut auth, _) = authenticator(&router);
    let started = Instant::now();
    let mut waiting = authenticating(&router, "joe");
    waiting.set_read_timeout(Duration::from_secs(20));
    let _ = invocation(&mut auth);
    // other sessions, on any core, join meanwhile
    for _ in 0..4 {
        let mut other = Client::connect(&router, CLIENT);
        join(&mut other, "realm1");
    }
    let (reason, message) = abort_message(&mut waiting);
    let waited = started.elapsed();
    assert_eq!(reason, "wamp.error.not_authorized");
    assert!(message.contains("did not answer in time"), "{message}");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(15)).contains(&waited),
        "{waited:?}"
    );
    // the callee hears that the call ended
    match auth.recv() {
        Some(Message::Interrupt(_)) | None => {}
        other => panic!("expected INTERRUPT, got {other:?}"),
    }
}
