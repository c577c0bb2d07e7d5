//! Slow consumers: one subscriber stops reading while a publisher pushes
//! 1 GiB of events. Memory stays bounded, the other subscribers receive
//! everything, and the slow one is handled by the configured policy.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ringbar_engine::config::{FlowControl, IoBackend, SlowConsumerPolicy};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Message;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, join, publish, subscribe};

/// Events of 64 KiB: 16,384 of them are 1 GiB.
const EVENT_BYTES: usize = 64 << 10;
const EVENTS: u64 = 16_384;
/// The bound this test holds the whole process to (router and clients).
const RSS_BOUND_BYTES: u64 = 256 << 20;

/// Returns the router (still running) and the slow subscriber.
fn push_a_gibibyte(policy: SlowConsumerPolicy) -> (TestRouter, Client) {
    let flow = FlowControl {
        max_queued_bytes: 8 << 20,
        slow_consumer: policy,
    };
    let router = TestRouter::start_with(2, IoBackend::Epoll, flow);
    let mut slow = Client::connect(&router, Transport::WebSocket(Serializer::MsgPack));
    join(&mut slow, "realm1");
    subscribe(&mut slow, "com.firehose", Dict::new());
    // From here on `slow` does not read.

    let received: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let readers: Vec<_> = received
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let transport = if i == 0 {
                Transport::RawSocket(Serializer::MsgPack)
            } else {
                Transport::WebSocket(Serializer::MsgPack)
            };
            let mut c = Client::connect(&router, transport);
            join(&mut c, "realm1");
            subscribe(&mut c, "com.firehose", Dict::new());
            let count = count.clone();
            std::thread::spawn(move || {
                while count.load(Ordering::Relaxed) < EVENTS {
                    match c.recv() {
                        Some(Message::Event(_)) => {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(other) => panic!("unexpected {other:?}"),
                        None => break,
                    }
                }
            })
        })
        .collect();

    let mut publisher = Client::connect(&router, Transport::WebSocket(Serializer::MsgPack));
    join(&mut publisher, "realm1");
    let blob = Value::Bytes(vec![7; EVENT_BYTES]);
    let mut peak_rss = 0;
    for n in 0..EVENTS {
        publish(
            &mut publisher,
            "com.firehose",
            Dict::new(),
            std::slice::from_ref(&blob),
        );
        // Keep the readers close behind (at most 32 events, 2 MiB, well
        // under the 8 MiB queue limit), so only the slow one falls back.
        if n % 16 == 15 {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while received
                .iter()
                .any(|c| c.load(Ordering::Relaxed) + 16 < n + 1)
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a reading subscriber stalled at event {n}"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        if n % 256 == 255 {
            peak_rss = peak_rss.max(support::rss_bytes());
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    for count in &received {
        assert_eq!(
            count.load(Ordering::Relaxed),
            EVENTS,
            "a reading subscriber missed events"
        );
    }
    println!("peak RSS {} MiB while pushing 1 GiB", peak_rss >> 20);
    assert!(
        peak_rss < RSS_BOUND_BYTES,
        "peak RSS {peak_rss} over {RSS_BOUND_BYTES}"
    );
    (router, slow)
}

#[test]
fn slow_consumer_drop_keeps_memory_bounded() {
    let (_router, mut slow) = push_a_gibibyte(SlowConsumerPolicy::Drop);
    // The slow session is still joined: what it reads now is a prefix of
    // the events (the rest were dropped), then it can still be used.
    slow.send(&Message::Goodbye(ringbar_protocol::message::Goodbye {
        details: Dict::new(),
        reason: "wamp.close.normal".into(),
    }));
    let mut events = 0;
    loop {
        match slow.recv() {
            Some(Message::Event(_)) => events += 1,
            Some(Message::Goodbye(_)) => break,
            other => panic!("unexpected {other:?} after {events} events"),
        }
    }
    assert!(
        events < EVENTS,
        "the slow subscriber cannot have got everything ({events})"
    );
}

#[test]
fn slow_consumer_disconnect_closes_it() {
    let (_router, mut slow) = push_a_gibibyte(SlowConsumerPolicy::Disconnect);
    let mut events = 0;
    while let Some(m) = slow.recv() {
        assert!(matches!(m, Message::Event(_)));
        events += 1;
    }
    assert!(
        events < EVENTS,
        "the slow subscriber was cut off ({events} events)"
    );
}
