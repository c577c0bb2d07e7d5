//! Retained events stay within the realm's byte budget
//! (`max_retained_bytes_per_realm`): one that does not fit is not kept
//! (and drops its topic's older one), others are unaffected.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Message;
use ringbar_protocol::uri::MatchPolicy;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, event_args, join, publish, subscribe};

fn retain() -> Dict {
    let mut d = Dict::new();
    d.insert("retain", true);
    d.insert("acknowledge", true);
    d
}

fn publish_retained(c: &mut Client, topic: &str, text: &str) {
    publish(c, topic, retain(), &[Value::Str(text.to_owned())]);
    assert!(matches!(c.recv(), Some(Message::Published(_))));
}

/// The retained events a new prefix subscriber of `com.kept.` gets.
fn retained_now(router: &TestRouter) -> Vec<String> {
    let mut c = Client::connect(router, Transport::WebSocket(Serializer::Json));
    join(&mut c, "realm1");
    let mut options = Dict::new();
    options.insert("match", MatchPolicy::Prefix.as_str());
    options.insert("get_retained", true);
    subscribe(&mut c, "com.kept.", options);
    c.set_read_timeout(std::time::Duration::from_millis(500));
    let mut got = Vec::new();
    while let Some(Message::Event(e)) = c.recv() {
        if let Value::List(args) = event_args(&e) {
            got.push(format!("{:?}", args[0]));
        }
    }
    got.sort();
    got
}

#[test]
fn retained_events_stay_within_the_realms_byte_budget() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start_edited(1, io, |config| {
            config.limits.max_retained_bytes_per_realm = 2_500;
        });
        let mut p = Client::connect(&router, Transport::WebSocket(Serializer::Json));
        join(&mut p, "realm1");
        let kb = |c: char| c.to_string().repeat(1000);
        publish_retained(&mut p, "com.kept.a", &kb('a'));
        publish_retained(&mut p, "com.kept.b", &kb('b'));
        // a third kilobyte does not fit
        publish_retained(&mut p, "com.kept.c", &kb('c'));
        let kept = retained_now(&router);
        assert_eq!(kept.len(), 2, "{io:?}: {kept:?}");
        assert!(kept.iter().all(|e| !e.contains('c')), "{io:?}");
        // replacing a kept topic's event counts only the new one
        publish_retained(&mut p, "com.kept.a", "small");
        publish_retained(&mut p, "com.kept.c", &kb('c'));
        let kept = retained_now(&router);
        assert_eq!(kept.len(), 3, "{io:?}: {kept:?}");
        // an event too big for the budget drops its topic's older one
        publish_retained(&mut p, "com.kept.b", &"x".repeat(3_000));
        let kept = retained_now(&router);
        assert_eq!(kept.len(), 2, "{io:?}: {kept:?}");
        assert!(
            kept.iter().all(|e| !e.contains('b') && !e.contains('x')),
            "{io:?}"
        );
    }
}
