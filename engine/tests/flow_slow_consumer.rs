//! Slow consumers: subscribers stop reading while a publisher pushes
//! 1 GiB of events. Memory stays bounded, the other subscribers receive
//! everything, and the slow ones are handled by the configured policy;
//! many slow consumers together stay within each core's queue budget.

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

/// What is pushed: `events` events of `bytes` each.
struct Firehose {
    bytes: usize,
    events: u64,
}

/// Events of 64 KiB (shared by every queue): 16,384 of them are 1 GiB.
const GIBIBYTE: Firehose = Firehose {
    bytes: 64 << 10,
    events: 16_384,
};
/// The bound this test holds the whole process to (router and clients).
const RSS_BOUND_BYTES: u64 = 256 << 20;

/// Pushes `firehose` to three reading subscribers and `slow_count` that
/// never read; returns the router (still running) and the slow subscribers.
fn push(flow: FlowControl, firehose: &Firehose, slow_count: usize) -> (TestRouter, Vec<Client>) {
    push_on(IoBackend::Epoll, 3, flow, firehose, slow_count)
}

/// Like [`push`], on `backend`, with `reading` subscribers that read.
fn push_on(
    backend: IoBackend,
    reading: usize,
    flow: FlowControl,
    firehose: &Firehose,
    slow_count: usize,
) -> (TestRouter, Vec<Client>) {
    let events = firehose.events;
    let router = TestRouter::start_with(2, backend, flow);
    let slow: Vec<Client> = (0..slow_count)
        .map(|_| {
            let mut slow = Client::connect(&router, Transport::WebSocket(Serializer::MsgPack));
            join(&mut slow, "realm1");
            subscribe(&mut slow, "com.firehose", Dict::new());
            slow
        })
        .collect();
    // From here on the slow ones do not read.

    let received: Vec<Arc<AtomicU64>> = (0..reading).map(|_| Arc::new(AtomicU64::new(0))).collect();
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
                while count.load(Ordering::Relaxed) < events {
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
    let blob = Value::Bytes(vec![7; firehose.bytes]);
    let mut peak_rss = 0;
    for n in 0..events {
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
        if n % 256 == 255 || n + 1 == events {
            peak_rss = peak_rss.max(support::rss_bytes());
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    for count in &received {
        assert_eq!(
            count.load(Ordering::Relaxed),
            events,
            "a reading subscriber missed events"
        );
    }
    println!(
        "peak RSS {} MiB while pushing {} MiB to {slow_count} slow subscribers",
        peak_rss >> 20,
        (firehose.bytes as u64 * events) >> 20
    );
    assert!(
        peak_rss < RSS_BOUND_BYTES,
        "peak RSS {peak_rss} over {RSS_BOUND_BYTES}"
    );
    (router, slow)
}

/// Flow control with an 8 MiB queue per session and `policy` for the
/// slow ones.
fn flow(policy: SlowConsumerPolicy) -> FlowControl {
    FlowControl {
        max_queued_bytes: 8 << 20,
        slow_consumer: policy,
        ..FlowControl::default()
    }
}

/// One slow subscriber of the 1 GiB firehose, handled by `policy`.
fn push_a_gibibyte(policy: SlowConsumerPolicy) -> (TestRouter, Client) {
    let (router, mut slow) = push(flow(policy), &GIBIBYTE, 1);
    let slow = slow.pop().unwrap();
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
        events < GIBIBYTE.events,
        "the slow subscriber cannot have got everything ({events})"
    );
}

#[test]
fn slow_consumer_disconnect_closes_it() {
    let (_router, slow) = push_a_gibibyte(SlowConsumerPolicy::Disconnect);
    assert_cut_off(slow, GIBIBYTE.events);
}

/// On io_uring with a few subscribers the core's writers hand each write
/// to `tokio-uring`'s ring: the slow subscriber is still cut off, and the
/// readers get every event.
#[test]
fn slow_consumer_disconnect_closes_it_on_io_uring() {
    let disconnect = flow(SlowConsumerPolicy::Disconnect);
    let (_router, mut slow) = push_on(IoBackend::Uring, 3, disconnect, &GIBIBYTE, 1);
    assert_cut_off(slow.pop().unwrap(), GIBIBYTE.events);
}

/// With more subscribers than a small pass holds, the core's writers put
/// the sends on their own write ring: the slow subscriber is still cut
/// off, and the readers get every event.
#[test]
fn slow_consumer_among_many_readers_is_cut_off_on_the_write_ring() {
    let firehose = Firehose {
        bytes: 16 << 10,
        events: 4_096,
    };
    let disconnect = flow(SlowConsumerPolicy::Disconnect);
    // On two cores, more than twice a small pass.
    let (_router, mut slow) = push_on(IoBackend::Uring, 48, disconnect, &firehose, 1);
    assert_cut_off(slow.pop().unwrap(), firehose.events);
}

/// The slow subscriber's connection ends before it got all `events`.
fn assert_cut_off(mut slow: Client, events: u64) {
    let mut got = 0;
    while let Some(m) = slow.recv() {
        assert!(matches!(m, Message::Event(_)));
        got += 1;
    }
    assert!(
        got < events,
        "the slow subscriber was cut off ({got} events)"
    );
}

#[test]
fn many_slow_consumers_stay_within_the_core_budget() {
    // 48 slow subscribers may each queue 8 MiB (384 MiB of copies of small
    // events, over the RSS bound); each core's budget of 32 MiB holds them
    // to about 64 MiB in all, while the readers get every event.
    let budgeted = FlowControl {
        max_queued_bytes: 8 << 20,
        max_core_queued_bytes: 32 << 20,
        slow_consumer: SlowConsumerPolicy::Drop,
    };
    let small = Firehose {
        bytes: 512,
        events: 1 << 20,
    };
    let (_router, slow) = push(budgeted, &small, 48);
    assert_eq!(slow.len(), 48);
}
