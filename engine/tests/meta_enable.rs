//! A realm's `enable_meta_api`: off, the router neither answers its `wamp.*`
//! procedures (a CALL gets `wamp.error.no_such_procedure`, as from
//! Crossbar.io, which then registers none) nor publishes meta events; on
//! (the default), it does both.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::*;

const T: Transport = Transport::RawSocket(Serializer::Json);

/// realm1 with the meta API off, `meta` (a copy of it) with it on.
fn router(io: IoBackend) -> TestRouter {
    TestRouter::start_edited(1, io, |config| {
        let mut meta = config.realms[0].clone();
        meta.name = "meta".into();
        config.realms[0].enable_meta_api = false;
        config.realms.push(meta);
    })
}

/// A watcher's subscriptions to `wamp.session.on_join` and `com.sentinel`,
/// and the first EVENT it gets after another session joins `realm` and
/// publishes to `com.sentinel`: the `on_join` meta event when the realm
/// publishes them, else the sentinel's.
fn first_after_join(router: &TestRouter, realm: &str) -> (u64, u64, Event) {
    let mut watcher = Client::connect(router, T);
    join(&mut watcher, realm);
    let on_join = subscribe(&mut watcher, "wamp.session.on_join", Dict::new());
    let sentinel = subscribe(&mut watcher, "com.sentinel", Dict::new());
    let mut other = Client::connect(router, T);
    join(&mut other, realm);
    publish(&mut other, "com.sentinel", Dict::new(), &[Value::UInt(1)]);
    match watcher.recv() {
        Some(Message::Event(e)) => (on_join.get(), sentinel.get(), e),
        other => panic!("expected EVENT, got {other:?}"),
    }
}

/// The answer to a CALL of `wamp.session.count` in `realm`.
fn session_count(router: &TestRouter, realm: &str) -> Message {
    let mut caller = Client::connect(router, T);
    join(&mut caller, realm);
    let payload = Payload::from_values(caller.serializer(), &[], None).unwrap();
    caller.send(&Message::Call(Call {
        request: req(7),
        options: Dict::new(),
        procedure: "wamp.session.count".into(),
        payload,
    }));
    caller.recv().expect("an answer to the CALL")
}

fn off_and_on(io: IoBackend) {
    let router = router(io);

    let (_, sentinel, event) = first_after_join(&router, "realm1");
    assert_eq!(event.subscription.get(), sentinel, "no on_join when off");
    match session_count(&router, "realm1") {
        Message::Error(e) => assert_eq!(e.error.as_str(), "wamp.error.no_such_procedure"),
        other => panic!("expected ERROR, got {other:?}"),
    }

    let (on_join, _, event) = first_after_join(&router, "meta");
    assert_eq!(event.subscription.get(), on_join, "on_join when on");
    match session_count(&router, "meta") {
        Message::Result(r) => assert_eq!(r.request.get(), 7),
        other => panic!("expected RESULT, got {other:?}"),
    }
}

#[test]
fn the_meta_api_is_off_or_on_per_realm_epoll() {
    off_and_on(IoBackend::Epoll);
}

#[test]
fn the_meta_api_is_off_or_on_per_realm_uring() {
    off_and_on(IoBackend::Auto);
}
