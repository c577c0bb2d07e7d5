//! The fan-out's sessions: subscribers that count, order-check and time
//! every EVENT from its stamp, and publishers that send stamped PUBLISHes
//! at the rate the coordinator sets.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::Message;
use tokio::sync::Semaphore;

use super::{Fanout, MAX_RATE, Shared};
use crate::conn::Conn;
use crate::run::{Run, nonce};
use crate::sniff;
use crate::stamp::{self, Stamp};
use crate::wamp::{self, PublishTemplate};

/// Publications queued per write at the maximum rate.
const MAX_RATE_BATCH: usize = 64;
/// A paced publisher's queue bound: beyond it the router is not keeping up.
const MAX_QUEUED_BYTES: usize = 1 << 20;
/// Sessions one thread sets up at once (each is a TCP connect and a join).
const SETUP_CONCURRENCY: usize = 64;

/// Worker `w` of `n`: starts its share of subscribers and publishers and
/// runs them until the coordinator says stop.
pub(super) async fn worker(
    w: usize,
    n: usize,
    run: Run,
    fanout: Fanout,
    shared: Arc<Shared>,
) -> io::Result<()> {
    let setup = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    for index in (w..fanout.subscribers).step_by(n) {
        let (run, fanout, shared, setup) =
            (run.clone(), fanout.clone(), shared.clone(), setup.clone());
        tokio::task::spawn_local(async move {
            let result = subscriber(index, w, &run, &fanout, &shared, &setup).await;
            if let Err(e) = result {
                shared.session_failed(&e);
            }
        });
    }
    for index in (w..fanout.publishers).step_by(n) {
        let (run, fanout, shared) = (run.clone(), fanout.clone(), shared.clone());
        tokio::task::spawn_local(async move {
            if let Err(e) = publisher(index, &run, &fanout, &shared).await {
                shared.session_failed(&e);
            }
        });
    }
    if let Some(churn) = fanout.churn.clone() {
        let (run, shared) = (run.clone(), shared.clone());
        let topics = fanout.topics;
        tokio::task::spawn_local(async move {
            crate::churn::pace(w, n, run, churn, topics, shared).await;
        });
    }
    while !shared.stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The topic URI of topic number `t`.
pub(crate) fn topic_uri(t: usize) -> String {
    format!("com.ringbar.loadtest.fanout.t{t}")
}

async fn subscriber(
    index: usize,
    worker: usize,
    run: &Run,
    fanout: &Fanout,
    shared: &Shared,
    setup: &Semaphore,
) -> io::Result<()> {
    let permit = setup.acquire().await.map_err(io::Error::other)?;
    let mut conn = Conn::join(fanout.subscriber_target(index, run), nonce(index)).await?;
    wamp::subscribe(&mut conn, &topic_uri(index % fanout.topics)).await?;
    drop(permit);
    shared.ready.fetch_add(1, Ordering::AcqRel);
    let slow = (index < fanout.slow_subscribers).then_some(fanout.slow_delay);
    let serializer = conn.serializer();
    let mut last_seq = vec![0u64; fanout.publishers];
    let mut latencies_us: Vec<u64> = Vec::new();
    let mut unexpected = Vec::new();
    loop {
        let mut events = 0u64;
        let mut out_of_order = 0u64;
        let mut read_ns = 0;
        let open = conn
            .read_batch(|message, now_ns| {
                read_ns = now_ns;
                let stamp = match sniff::message_type(serializer, message) {
                    Some(36) => Stamp::find(message),
                    _ => None,
                };
                let Some((stamp, _)) = stamp else {
                    unexpected.push(message.to_vec());
                    return;
                };
                events += 1;
                match last_seq.get_mut(usize::from(stamp.source)) {
                    Some(last) if stamp.seq > *last => *last = stamp.seq,
                    _ => out_of_order += 1,
                }
                latencies_us.push(now_ns.saturating_sub(stamp.sent_ns) / 1000);
            })
            .await?;
        if let Some(counter) = shared.received.get(index) {
            counter.add(events);
        }
        if out_of_order > 0 {
            shared
                .out_of_order
                .fetch_add(out_of_order, Ordering::Relaxed);
        }
        if let Some(&largest) = latencies_us.iter().max() {
            shared.timeline.record(read_ns, largest);
        }
        if let Some(Ok(mut histogram)) = shared.latency.get(worker).map(|h| h.lock()) {
            for &us in &latencies_us {
                histogram.saturating_record(us.max(1));
            }
        }
        latencies_us.clear();
        for message in unexpected.drain(..) {
            shared.errors.add(describe(serializer, message));
        }
        if !open {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the router closed a subscriber's connection",
            ));
        }
        conn.flush().await?;
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
    }
}

async fn publisher(index: usize, run: &Run, fanout: &Fanout, shared: &Shared) -> io::Result<()> {
    let mut conn = Conn::join(&run.target, nonce(1_000_000 + index)).await?;
    let serializer = conn.serializer();
    let topics = fanout.topics_of(index);
    let mut templates = topics
        .iter()
        .map(|&t| PublishTemplate::new(serializer, &topic_uri(t), fanout.payload_bytes))
        .collect::<io::Result<Vec<_>>>()?;
    let mut seqs = vec![0u64; topics.len()];
    let mut next = 0;
    let source = u16::try_from(index).map_err(|_| io::Error::other("at most 65,536 publishers"))?;
    shared.ready.fetch_add(1, Ordering::AcqRel);

    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut generation = u64::MAX;
    let mut since = Instant::now();
    let mut sent_in_generation = 0u64;
    let mut batches = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        let g = shared.generation.load(Ordering::Acquire);
        if g != generation {
            generation = g;
            since = Instant::now();
            sent_in_generation = 0;
        }
        // Counted as publishing before the rate is read, so a pause that
        // sets the rate to 0 and then sees no publisher counting has seen
        // every publication counted (`Shared::pause`).
        let counting = Publishing::enter(&shared.publishing);
        let rate = shared.rate.load(Ordering::SeqCst);
        let count = if rate == MAX_RATE {
            MAX_RATE_BATCH as u64
        } else {
            let mine = rate as f64 / fanout.publishers as f64;
            // The first publication goes at once, the n-th after (n-1)/rate.
            let due = (since.elapsed().as_secs_f64() * mine) as u64 + u64::from(mine > 0.0);
            due.saturating_sub(sent_in_generation)
        };
        if count > 0 && conn.queued() < MAX_QUEUED_BYTES {
            let now_ns = stamp::now_ns();
            for _ in 0..count {
                let k = next % topics.len();
                next += 1;
                let (Some(seq), Some(template), Some(&topic)) =
                    (seqs.get_mut(k), templates.get_mut(k), topics.get(k))
                else {
                    continue;
                };
                *seq += 1;
                let message = template.stamped(Stamp {
                    source,
                    seq: *seq,
                    sent_ns: now_ns,
                });
                conn.queue_encoded(message)?;
                if let Some(counter) = shared.published.get(topic) {
                    counter.add(1);
                }
                if conn.queued() >= MAX_QUEUED_BYTES {
                    break;
                }
            }
            sent_in_generation += count;
            drop(counting);
            conn.flush().await?;
        } else {
            drop(counting);
        }
        batches += 1;
        if rate != MAX_RATE || batches.is_multiple_of(64) {
            let errors = &shared.errors;
            let open =
                conn.read_now(|message, _| errors.add(describe(serializer, message.to_vec())))?;
            if !open {
                return Err(io::Error::other(
                    "the router closed a publisher's connection",
                ));
            }
        }
        if rate == MAX_RATE {
            tokio::task::yield_now().await;
        } else {
            tick.tick().await;
        }
    }
    Ok(())
}

/// A publisher counted in `Shared::publishing` for as long as it lives (an
/// error that ends the publisher mid-batch included).
struct Publishing<'a>(&'a AtomicUsize);

impl<'a> Publishing<'a> {
    fn enter(publishing: &'a AtomicUsize) -> Self {
        publishing.fetch_add(1, Ordering::SeqCst);
        Self(publishing)
    }
}

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What an unexpected message says: an ERROR's URI, or its type.
pub(crate) fn describe(serializer: Serializer, message: Vec<u8>) -> String {
    match codec::decode(serializer, message.into()) {
        Ok(Message::Error(e)) => e.error.as_str().to_owned(),
        Ok(other) => format!("unexpected {:?} message", other.message_type()),
        Err(e) => format!("undecodable message: {e}"),
    }
}
