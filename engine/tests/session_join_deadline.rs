//! A connection whose session does not join in `join_timeout_ms` (no HELLO,
//! or authentication never finished) is closed; one that joined stays.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use support::{Client, TestRouter, Transport, join};

#[test]
fn a_connection_that_never_says_hello_is_closed() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start_edited(1, io, |config| {
            config.limits.join_timeout_ms = 300;
        });
        for transport in [
            Transport::WebSocket(Serializer::Json),
            Transport::RawSocket(Serializer::MsgPack),
        ] {
            let mut silent = Client::connect(&router, transport);
            let mut joined = Client::connect(&router, transport);
            join(&mut joined, "realm1");
            assert!(
                silent.ends_within(Duration::from_secs(5)),
                "{io:?} {transport:?}: a connection without HELLO stayed open"
            );
            assert!(
                !joined.ends_within(Duration::from_millis(600)),
                "{io:?} {transport:?}: a joined session was closed"
            );
        }
    }
}
