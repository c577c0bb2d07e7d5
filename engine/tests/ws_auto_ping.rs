//! Automatic pings: a quiet peer is pinged after `auto_ping_interval` and
//! cut off when it does not answer within `auto_ping_timeout`, which
//! defaults to the interval (it was 1 ms when the timeout was not set).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use ringbar_engine::config::{IoBackend, TransportKind};
use ringbar_protocol::codec::Serializer;
use support::{Client, TestRouter, Transport, join};

#[test]
fn a_peer_has_the_interval_to_answer_when_no_timeout_is_set() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start_edited(1, io, |config| {
            for transport in &mut config.transports {
                if let TransportKind::WebSocket(ws) = &mut transport.kind {
                    ws.options.auto_ping_interval_ms = 1000;
                    ws.options.auto_ping_timeout_ms = 0;
                }
            }
        });
        let mut c = Client::connect(&router, Transport::WebSocket(Serializer::Json));
        join(&mut c, "realm1");
        let joined = Instant::now();
        // pinged at about 1 s; a silent peer is cut off at about 2 s
        assert!(
            !c.ends_within(Duration::from_millis(1500)),
            "{io:?}: cut off {:?} after joining, before the ping had a timeout's time",
            joined.elapsed()
        );
        assert!(
            c.ends_within(Duration::from_secs(8)),
            "{io:?}: a peer that never answers pings was never cut off"
        );
    }
}
