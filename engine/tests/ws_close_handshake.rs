//! The WebSocket closing handshake the router starts (after GOODBYE): it
//! waits for the peer's Close before ending the connection, and cuts off a
//! peer that never answers once `close_handshake_timeout` has passed.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::{Goodbye, Message};
use ringbar_protocol::value::Dict;
use support::{Client, TestRouter, Transport, join};

/// Joins, says GOODBYE, and reads the router's GOODBYE and Close (1000).
fn goodbye(router: &TestRouter) -> Client {
    let mut c = Client::connect(router, Transport::WebSocket(Serializer::Json));
    join(&mut c, "realm1");
    c.send(&Message::Goodbye(Goodbye {
        details: Dict::new(),
        reason: "wamp.close.close_realm".into(),
    }));
    assert!(matches!(c.recv(), Some(Message::Goodbye(_))));
    assert!(c.recv().is_none());
    assert_eq!(c.closed, Some(1000));
    c
}

#[test]
fn the_router_waits_for_the_peers_close() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start(1, io);
        let mut c = goodbye(&router);
        assert!(
            !c.ends_within(Duration::from_millis(300)),
            "{io:?}: the router ended the connection before the peer's Close"
        );
        c.send_ws_close(1000);
        assert!(
            c.ends_within(Duration::from_secs(5)),
            "{io:?}: the router did not end the connection after the peer's Close"
        );
    }
}

#[test]
fn a_peer_that_never_answers_close_is_cut_off_after_the_timeout() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start(1, io);
        let started = Instant::now();
        let mut c = goodbye(&router);
        assert!(
            c.ends_within(Duration::from_secs(10)),
            "{io:?}: a silent peer was never cut off"
        );
        // The test router's close_handshake_timeout is the default, 1 s.
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{io:?}: cut off after {:?}, before the timeout",
            started.elapsed()
        );
    }
}
