//! What one session may hold: past `max_subscriptions_per_session` and
//! `max_registrations_per_session` a SUBSCRIBE or REGISTER gets an ERROR naming the
//! limit, the session goes on, and others are not affected.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::{Message, MessageType, Register, Subscribe};
use ringbar_protocol::value::Dict;
use support::{Client, TestRouter, Transport, join, req};

fn subscribe(c: &mut Client, n: u64) -> Message {
    c.send(&Message::Subscribe(Subscribe {
        request: req(n),
        options: Dict::new(),
        topic: format!("com.limits.t{n}").into(),
    }));
    c.recv().unwrap()
}

fn register(c: &mut Client, n: u64) -> Message {
    c.send(&Message::Register(Register {
        request: req(n),
        options: Dict::new(),
        procedure: format!("com.limits.p{n}").into(),
    }));
    c.recv().unwrap()
}

fn error_uri(m: &Message, of: MessageType) -> String {
    match m {
        Message::Error(e) if e.request_type == of as u64 => e.error.as_str().to_owned(),
        other => panic!("expected an ERROR for {of:?}, got {other:?}"),
    }
}

#[test]
fn subscriptions_and_registrations_stop_at_the_limits() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start_edited(1, io, |config| {
            config.limits.max_subscriptions_per_session = 3;
            config.limits.max_registrations_per_session = 2;
        });
        let mut c = Client::connect(&router, Transport::WebSocket(Serializer::Json));
        join(&mut c, "realm1");
        for n in 1..=3 {
            assert!(matches!(subscribe(&mut c, n), Message::Subscribed(_)));
        }
        // the same topic again is the same subscription: still allowed
        assert!(matches!(subscribe(&mut c, 1), Message::Subscribed(_)));
        assert_eq!(
            error_uri(&subscribe(&mut c, 4), MessageType::Subscribe),
            "ringbar.error.too_many_subscriptions"
        );
        for n in 1..=2 {
            assert!(matches!(register(&mut c, n), Message::Registered(_)));
        }
        assert_eq!(
            error_uri(&register(&mut c, 3), MessageType::Register),
            "ringbar.error.too_many_registrations"
        );
        // another session has its own allowance
        let mut other = Client::connect(&router, Transport::WebSocket(Serializer::Json));
        join(&mut other, "realm1");
        assert!(matches!(subscribe(&mut other, 4), Message::Subscribed(_)));
        assert!(matches!(register(&mut other, 3), Message::Registered(_)));
    }
}
