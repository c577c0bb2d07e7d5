//! `limits.idle_timeout_ms`: a connection with no bytes either way for that
//! long is closed; one that sends, or only receives, stays. On both I/O
//! backends.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Message;
use ringbar_protocol::value::{Dict, Value};
use support::*;

const T: Transport = Transport::RawSocket(Serializer::Json);
const IDLE_MS: u64 = 300;

fn idle(io: IoBackend) {
    let router = TestRouter::start_edited(1, io, |config| {
        config.limits.idle_timeout_ms = IDLE_MS;
    });
    let mut silent = Client::connect(&router, T);
    join(&mut silent, "realm1");
    let mut subscriber = Client::connect(&router, Transport::WebSocket(Serializer::Json));
    join(&mut subscriber, "realm1");
    subscribe(&mut subscriber, "com.idle.tick", Dict::new());
    let mut publisher = Client::connect(&router, T);
    join(&mut publisher, "realm1");

    // Four idle periods: the publisher sends and the subscriber receives
    // every 100 ms; the silent one does neither.
    for n in 0..12u64 {
        publish(
            &mut publisher,
            "com.idle.tick",
            Dict::new(),
            &[Value::UInt(n)],
        );
        match subscriber.recv() {
            Some(Message::Event(_)) => {}
            got => panic!("the receiving subscriber got {got:?} at tick {n}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        silent.ends_within(Duration::from_secs(3)),
        "an idle connection stayed open"
    );
    assert!(!publisher.ends_within(Duration::from_millis(50)));
    assert_eq!(router.sessions(), 2);
}

#[test]
fn idle_connections_close_and_busy_ones_stay_epoll() {
    idle(IoBackend::Epoll);
}

#[test]
fn idle_connections_close_and_busy_ones_stay_uring() {
    idle(IoBackend::Uring);
}
