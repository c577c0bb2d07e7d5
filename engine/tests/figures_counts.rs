//! The per-core figures behind `ringbar status` and the metrics endpoint:
//! what real clients do moves the right counts, and dropped events are
//! counted with their reason.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use ringbar_engine::config::{FlowControl, IoBackend, SlowConsumerPolicy};
use ringbar_engine::figures::{CoreSnapshot, DropReason};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::{Message, MessageType};
use ringbar_protocol::rawsocket::MaxMessageLength;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, join, publish, subscribe};

/// The sum over cores of `figure`.
fn total(cores: &[CoreSnapshot], figure: impl Fn(&CoreSnapshot) -> u64) -> u64 {
    cores.iter().map(figure).sum()
}

fn by_type(list: &[(MessageType, u64)], message: MessageType) -> u64 {
    list.iter()
        .find(|(t, _)| *t == message)
        .map_or(0, |(_, n)| *n)
}

fn dropped(cores: &[CoreSnapshot], reason: DropReason) -> u64 {
    total(cores, |c| {
        c.events_dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    })
}

/// Polls the figures until `done` holds (counts land after the bytes are
/// written, so a client may see a reply a moment before its count).
fn figures_when(router: &TestRouter, done: impl Fn(&[CoreSnapshot]) -> bool) -> Vec<CoreSnapshot> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cores = router.stats().cores();
        if done(&cores) || Instant::now() > deadline {
            return cores;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn publishing_moves_sessions_messages_bytes_and_the_latency_histogram() {
    const PUBLICATIONS: u64 = 20;
    let router = TestRouter::start(2, IoBackend::Epoll);
    let mut subscribers: Vec<Client> = [
        Transport::WebSocket(Serializer::Json),
        Transport::RawSocket(Serializer::MsgPack),
    ]
    .into_iter()
    .map(|transport| {
        let mut c = Client::connect(&router, transport);
        join(&mut c, "realm1");
        subscribe(&mut c, "com.figures", Dict::new());
        c
    })
    .collect();
    let mut publisher = Client::connect(&router, Transport::WebSocket(Serializer::Cbor));
    join(&mut publisher, "realm1");
    let ack: Dict = [("acknowledge", Value::Bool(true))].into_iter().collect();
    for n in 0..PUBLICATIONS {
        publish(
            &mut publisher,
            "com.figures",
            ack.clone(),
            &[Value::UInt(n)],
        );
        assert!(matches!(publisher.recv(), Some(Message::Published(_))));
    }
    for subscriber in &mut subscribers {
        for _ in 0..PUBLICATIONS {
            assert!(matches!(subscriber.recv(), Some(Message::Event(_))));
        }
    }

    let cores = figures_when(&router, |cores| {
        total(cores, |c| by_type(&c.messages_out, MessageType::Event)) == 2 * PUBLICATIONS
            && total(cores, |c| c.queued_bytes) == 0
    });
    assert_eq!(cores.len(), 2);
    assert_eq!(total(&cores, |c| c.sessions), 3);
    assert_eq!(
        router.stats().sessions_per_core().iter().sum::<usize>(),
        3,
        "status reads the same figure"
    );
    let sent = |m| total(&cores, |c| by_type(&c.messages_in, m));
    let queued = |m| total(&cores, |c| by_type(&c.messages_out, m));
    assert_eq!(sent(MessageType::Hello), 3);
    assert_eq!(sent(MessageType::Subscribe), 2);
    assert_eq!(sent(MessageType::Publish), PUBLICATIONS);
    assert_eq!(queued(MessageType::Welcome), 3);
    assert_eq!(queued(MessageType::Subscribed), 2);
    assert_eq!(queued(MessageType::Published), PUBLICATIONS);
    assert_eq!(queued(MessageType::Event), 2 * PUBLICATIONS);
    assert_eq!(
        router.stats().events_out_per_core().iter().sum::<u64>(),
        2 * PUBLICATIONS
    );
    assert_eq!(
        router.stats().messages_in_per_core().iter().sum::<u64>(),
        3 + 2 + PUBLICATIONS
    );
    assert!(total(&cores, |c| c.bytes_in) > 0);
    // Every EVENT, WELCOME, SUBSCRIBED and PUBLISHED was written: dozens
    // of bytes each at least.
    assert!(total(&cores, |c| c.bytes_out) > 20 * (2 * PUBLICATIONS + 3 + 2 + PUBLICATIONS));
    assert_eq!(total(&cores, |c| c.messages_in_undecodable), 0);
    for reason in DropReason::ALL {
        assert_eq!(dropped(&cores, reason), 0, "{reason:?}");
    }

    // One observation per publication and core with a subscriber: at
    // least one per publication, at most one per core.
    let observed = total(&cores, |c| c.publish_to_event.count);
    assert!(
        (PUBLICATIONS..=2 * PUBLICATIONS).contains(&observed),
        "{observed}"
    );
    for core in &cores {
        let h = &core.publish_to_event;
        assert!(
            h.buckets
                .windows(2)
                .all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0)
        );
        assert!(h.buckets.last().unwrap().1 <= h.count);
        assert!(h.count == 0 || h.sum_seconds > 0.0);
    }

    drop(subscribers);
    let cores = figures_when(&router, |cores| total(cores, |c| c.sessions) == 1);
    assert_eq!(total(&cores, |c| c.sessions), 1, "sessions are a gauge");
}

#[test]
fn an_event_too_large_for_its_subscriber_is_counted_as_dropped() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut small = Client::connect_with(
        &router,
        Transport::RawSocket(Serializer::Json),
        MaxMessageLength::from_exponent(1).unwrap(),
    );
    join(&mut small, "realm1");
    subscribe(&mut small, "com.sized", Dict::new());
    let mut publisher = Client::connect(&router, Transport::WebSocket(Serializer::Json));
    join(&mut publisher, "realm1");
    let long = Value::from("x".repeat(2000).as_str());
    publish(&mut publisher, "com.sized", Dict::new(), &[long]);
    publish(&mut publisher, "com.sized", Dict::new(), &[Value::UInt(2)]);
    assert!(matches!(small.recv(), Some(Message::Event(_))));
    let cores = router.stats().cores();
    assert_eq!(dropped(&cores, DropReason::TooLarge), 1);
    assert_eq!(
        total(&cores, |c| by_type(&c.messages_out, MessageType::Event)),
        1
    );
}

#[test]
fn a_slow_consumer_cut_off_is_counted_with_its_dropped_events() {
    let flow = FlowControl {
        max_queued_bytes: 64 << 10,
        slow_consumer: SlowConsumerPolicy::Disconnect,
        ..FlowControl::default()
    };
    let router = TestRouter::start_with(1, IoBackend::Epoll, flow);
    let mut slow = Client::connect(&router, Transport::WebSocket(Serializer::MsgPack));
    join(&mut slow, "realm1");
    subscribe(&mut slow, "com.firehose", Dict::new());
    // From here on the slow one does not read.
    let mut publisher = Client::connect(&router, Transport::RawSocket(Serializer::MsgPack));
    join(&mut publisher, "realm1");
    let blob = Value::Bytes(vec![7; 256 << 10]);
    let cores = {
        let mut published = 0;
        loop {
            publish(
                &mut publisher,
                "com.firehose",
                Dict::new(),
                std::slice::from_ref(&blob),
            );
            published += 1;
            let cores = router.stats().cores();
            if total(&cores, |c| c.slow_consumer_disconnects) > 0 || published == 400 {
                break cores;
            }
        }
    };
    assert_eq!(total(&cores, |c| c.slow_consumer_disconnects), 1);
    assert!(dropped(&cores, DropReason::SessionQueueFull) >= 1);
    drop(slow);
}
