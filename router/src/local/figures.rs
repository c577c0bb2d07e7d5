//! Live figures of each core: sessions, messages and bytes in and out,
//! dropped events, queued bytes, and the time from a PUBLISH to its EVENTs.
//!
//! Each core writes only its own [`CoreFigures`] (a load and a store per
//! count, no locked instruction and no cache line shared with another
//! writer); any thread reads them, and the engine's `Stats` adds them up per
//! core as a [`CoreSnapshot`] for `ringbar status` and the node's metrics
//! endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::local::outbound::DropReason;
use ringbar_protocol::message::MessageType;

/// Upper bounds of the buckets of the publish-to-event histogram, in
/// microseconds (10 µs to 1 s; slower deliveries fall in the last, open
/// bucket).
pub const PUBLISH_TO_EVENT_BUCKETS_US: [u64; 16] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000,
];

/// One core's figures at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoreSnapshot {
    /// Joined sessions.
    pub sessions: u64,
    /// WAMP messages received, by type (every type a peer may send, zeros
    /// included).
    pub messages_in: Vec<(MessageType, u64)>,
    /// Messages received that could not be decoded.
    pub messages_in_undecodable: u64,
    /// WAMP messages queued for peers, by type (every type a router sends,
    /// EVENTs included, zeros too).
    pub messages_out: Vec<(MessageType, u64)>,
    /// Bytes read from WAMP connections (WebSocket or RawSocket frames,
    /// after TLS; opening handshakes not counted).
    pub bytes_in: u64,
    /// Bytes written to WAMP connections, counted when each write
    /// completes (before TLS).
    pub bytes_out: u64,
    /// Events not queued for a subscriber, by reason.
    pub events_dropped: Vec<(DropReason, u64)>,
    /// Connections closed by the `disconnect` slow-consumer policy.
    pub slow_consumer_disconnects: u64,
    /// Connections closed at accept because their transport held its
    /// `max_connections`.
    pub connections_refused: u64,
    /// Bytes queued on the core's connections now.
    pub queued_bytes: u64,
    /// The time from a PUBLISH being decoded to its EVENTs being queued for
    /// the subscribers' writers on this core.
    pub publish_to_event: HistogramSnapshot,
}

/// A histogram at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, observations at most that long), one per
    /// bound of [`PUBLISH_TO_EVENT_BUCKETS_US`], cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    /// The observations' sum, in seconds.
    pub sum_seconds: f64,
}

/// A count that only its core writes, readable by any thread. An add is a
/// relaxed load and store, as cheap as a plain integer, because there is
/// never a second writer to race with.
#[derive(Debug, Default)]
pub struct CoreCounter(AtomicU64);

impl CoreCounter {
    /// Zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds `n`; only the owning core calls this.
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Takes `n` away (never below zero); only the owning core calls this.
    pub fn sub(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).saturating_sub(n),
            Ordering::Relaxed,
        );
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Slots for counts by message type: the type's code (every code but
/// EVENT_RECEIVED's is at most 70), with EVENT_RECEIVED in the unused 0.
const MESSAGE_SLOTS: usize = 71;

fn slot(message: MessageType) -> usize {
    match message {
        MessageType::EventReceived => 0,
        other => usize::try_from(other.code()).unwrap_or(0),
    }
}

/// The live figures of one core (see the module's doc). Aligned so that two
/// cores' figures never share a cache line.
#[repr(align(128))]
pub struct CoreFigures {
    /// Joined sessions.
    pub sessions: CoreCounter,
    messages_in: [CoreCounter; MESSAGE_SLOTS],
    messages_in_undecodable: CoreCounter,
    messages_out: [CoreCounter; MESSAGE_SLOTS],
    /// Bytes read from WAMP connections.
    pub bytes_in: CoreCounter,
    /// Bytes written to WAMP connections.
    pub bytes_out: CoreCounter,
    events_dropped: [CoreCounter; DropReason::ALL.len()],
    /// Connections closed by the `disconnect` slow-consumer policy.
    pub slow_consumer_disconnects: CoreCounter,
    /// Connections closed at accept over their transport's
    /// `max_connections`.
    pub connections_refused: CoreCounter,
    /// Bytes queued on the core's connections (the core's `QueueBudget`
    /// keeps it).
    pub queued_bytes: CoreCounter,
    publish_to_event: [CoreCounter; PUBLISH_TO_EVENT_BUCKETS_US.len() + 1],
    publish_to_event_ns: CoreCounter,
}

impl Default for CoreFigures {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreFigures {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            sessions: CoreCounter::new(),
            messages_in: [const { CoreCounter::new() }; MESSAGE_SLOTS],
            messages_in_undecodable: CoreCounter::new(),
            messages_out: [const { CoreCounter::new() }; MESSAGE_SLOTS],
            bytes_in: CoreCounter::new(),
            bytes_out: CoreCounter::new(),
            events_dropped: [const { CoreCounter::new() }; DropReason::ALL.len()],
            slow_consumer_disconnects: CoreCounter::new(),
            connections_refused: CoreCounter::new(),
            queued_bytes: CoreCounter::new(),
            publish_to_event: [const { CoreCounter::new() }; PUBLISH_TO_EVENT_BUCKETS_US.len() + 1],
            publish_to_event_ns: CoreCounter::new(),
        }
    }

    /// Counts a message received.
    pub fn message_in(&self, message: MessageType) {
        if let Some(counter) = self.messages_in.get(slot(message)) {
            counter.add(1);
        }
    }

    /// Counts a message received that could not be decoded.
    pub fn message_undecodable(&self) {
        self.messages_in_undecodable.add(1);
    }

    /// Counts a message queued for a peer.
    pub fn message_out(&self, message: MessageType) {
        if let Some(counter) = self.messages_out.get(slot(message)) {
            counter.add(1);
        }
    }

    /// Messages received, of every type.
    pub fn messages_in_total(&self) -> u64 {
        self.messages_in.iter().map(CoreCounter::get).sum::<u64>()
            + self.messages_in_undecodable.get()
    }

    /// EVENTs queued for subscribers.
    pub fn events_out(&self) -> u64 {
        self.messages_out
            .get(slot(MessageType::Event))
            .map_or(0, CoreCounter::get)
    }

    /// Counts an event not queued, and why.
    pub fn event_dropped(&self, reason: DropReason) {
        if let Some(counter) = self.events_dropped.get(reason as usize) {
            counter.add(1);
        }
    }

    /// Records how long a publication took from its PUBLISH to its EVENTs
    /// on this core.
    pub fn publish_delivered(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = PUBLISH_TO_EVENT_BUCKETS_US
            .iter()
            .position(|&us| ns <= us * 1_000)
            .unwrap_or(PUBLISH_TO_EVENT_BUCKETS_US.len());
        if let Some(counter) = self.publish_to_event.get(bucket) {
            counter.add(1);
        }
        self.publish_to_event_ns.add(ns);
    }

    /// The figures now.
    pub fn snapshot(&self) -> CoreSnapshot {
        let by_type = |slots: &[CoreCounter; MESSAGE_SLOTS], of: fn(MessageType) -> bool| {
            // In code order, EVENT_RECEIVED (337, kept in slot 0) last.
            (1..MESSAGE_SLOTS)
                .chain([0])
                .filter_map(|code| {
                    let message = match code {
                        0 => MessageType::EventReceived,
                        code => MessageType::from_code(u64::try_from(code).ok()?)?,
                    };
                    let count = slots.get(code).map_or(0, CoreCounter::get);
                    of(message).then_some((message, count))
                })
                .collect()
        };
        CoreSnapshot {
            sessions: self.sessions.get(),
            messages_in: by_type(&self.messages_in, sent_by_peers),
            messages_in_undecodable: self.messages_in_undecodable.get(),
            messages_out: by_type(&self.messages_out, sent_by_routers),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            events_dropped: DropReason::ALL
                .iter()
                .zip(&self.events_dropped)
                .map(|(reason, counter)| (*reason, counter.get()))
                .collect(),
            slow_consumer_disconnects: self.slow_consumer_disconnects.get(),
            connections_refused: self.connections_refused.get(),
            queued_bytes: self.queued_bytes.get(),
            publish_to_event: self.histogram(),
        }
    }

    /// The histogram, its count taken from the buckets themselves so that
    /// the `+Inf` bucket always equals it.
    fn histogram(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(PUBLISH_TO_EVENT_BUCKETS_US.len());
        for (us, counter) in PUBLISH_TO_EVENT_BUCKETS_US
            .iter()
            .zip(&self.publish_to_event)
        {
            cumulative += counter.get();
            buckets.push((*us as f64 / 1e6, cumulative));
        }
        let over = self.publish_to_event.last().map_or(0, CoreCounter::get);
        HistogramSnapshot {
            buckets,
            count: cumulative + over,
            sum_seconds: self.publish_to_event_ns.get() as f64 / 1e9,
        }
    }
}

/// Whether a client or a callee may send this type to a router (what a
/// router sends is never counted in).
fn sent_by_peers(message: MessageType) -> bool {
    use MessageType::*;
    matches!(
        message,
        Hello
            | Abort
            | Authenticate
            | Goodbye
            | Error
            | Publish
            | Subscribe
            | Unsubscribe
            | EventReceived
            | Call
            | Cancel
            | Register
            | Unregister
            | Yield
    )
}

/// Whether a router sends this type to its peers.
fn sent_by_routers(message: MessageType) -> bool {
    use MessageType::*;
    matches!(
        message,
        Welcome
            | Abort
            | Challenge
            | Goodbye
            | Error
            | Published
            | Subscribed
            | Unsubscribed
            | Event
            | Result
            | Registered
            | Unregistered
            | Invocation
            | Interrupt
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for code in (0..=70).chain([337]) {
            if let Some(message) = MessageType::from_code(code) {
                assert!(slot(message) < MESSAGE_SLOTS, "{message:?}");
                assert!(seen.insert(slot(message)), "{message:?} shares a slot");
            }
        }
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn messages_are_counted_by_type() {
        let figures = CoreFigures::new();
        figures.message_in(MessageType::Publish);
        figures.message_in(MessageType::Publish);
        figures.message_in(MessageType::EventReceived);
        figures.message_undecodable();
        figures.message_out(MessageType::Event);
        let snapshot = figures.snapshot();
        let count = |list: &[(MessageType, u64)], m| {
            list.iter().find(|(t, _)| *t == m).map(|(_, n)| *n).unwrap()
        };
        assert_eq!(count(&snapshot.messages_in, MessageType::Publish), 2);
        assert_eq!(count(&snapshot.messages_in, MessageType::EventReceived), 1);
        assert_eq!(count(&snapshot.messages_in, MessageType::Call), 0);
        assert!(
            snapshot
                .messages_in
                .iter()
                .all(|(t, _)| *t != MessageType::Event),
            "a router never receives EVENT"
        );
        assert_eq!(snapshot.messages_in_undecodable, 1);
        assert_eq!(figures.messages_in_total(), 4);
        assert_eq!(figures.events_out(), 1);
        assert_eq!(count(&snapshot.messages_out, MessageType::Event), 1);
    }

    #[test]
    fn the_histogram_is_cumulative_and_its_count_is_the_last_bucket() {
        let figures = CoreFigures::new();
        for us in [5, 10, 11, 900, 2_000_000] {
            figures.publish_delivered(Duration::from_micros(us));
        }
        let h = figures.snapshot().publish_to_event;
        assert_eq!(h.buckets.len(), PUBLISH_TO_EVENT_BUCKETS_US.len());
        assert_eq!(h.buckets[0], (10e-6, 2), "10 µs is in the 10 µs bucket");
        assert_eq!(h.buckets[1].1, 3);
        assert_eq!(h.buckets[6], (1e-3, 4));
        assert_eq!(h.buckets.last().unwrap(), &(1.0, 4));
        assert_eq!(h.count, 5);
        assert!(
            (h.sum_seconds - 2.000_926).abs() < 1e-9,
            "{}",
            h.sum_seconds
        );
    }

    #[test]
    fn a_counter_never_goes_below_zero() {
        let counter = CoreCounter::new();
        counter.add(3);
        counter.sub(5);
        assert_eq!(counter.get(), 0);
    }
}
