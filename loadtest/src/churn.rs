//! `churn`: while a fan-out runs, sessions connect, subscribe to one of its
//! topics, hold, unsubscribe and leave at a given rate, so the router's
//! session and subscription tables change under load.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::fanout::{Shared, topic_uri};
use crate::report::Report;
use crate::run::{Run, nonce};
use crate::wamp;

/// The churn beside the fan-out.
#[derive(Debug, Clone)]
pub(crate) struct Churn {
    /// Session cycles started per second, over all load threads.
    pub(crate) rate: f64,
    /// How long each session stays subscribed.
    pub(crate) hold: Duration,
    /// At most this many churn sessions at once; starts beyond are skipped.
    pub(crate) max_open: usize,
}

/// Counters of the churn sessions.
#[derive(Debug, Default)]
pub(crate) struct ChurnCounters {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

/// The churn counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChurnSnapshot {
    started: u64,
    completed: u64,
    failed: u64,
    skipped: u64,
}

impl ChurnCounters {
    /// The counters now.
    pub(crate) fn snapshot(&self) -> ChurnSnapshot {
        ChurnSnapshot {
            started: self.started.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }
}

impl ChurnSnapshot {
    /// Adds the churn figures between `before` and this snapshot.
    pub(crate) fn report_since(&self, before: &ChurnSnapshot, seconds: f64, report: &mut Report) {
        let completed = self.completed - before.completed;
        report.push(
            "churn_sessions_started",
            (self.started - before.started) as f64,
            "",
        );
        report.push(
            "churn_cycles_per_s",
            completed as f64 / seconds.max(1e-9),
            "1/s",
        );
        report.push("churn_failed", (self.failed - before.failed) as f64, "");
        report.push("churn_skipped", (self.skipped - before.skipped) as f64, "");
    }
}

/// Worker `w` of `n`: starts its share of churn sessions, from the first
/// rate the coordinator sets until it says stop.
pub(crate) async fn pace(
    w: usize,
    n: usize,
    run: Run,
    churn: Churn,
    topics: usize,
    shared: Arc<Shared>,
) {
    let per_thread = churn.rate / n as f64;
    if per_thread <= 0.0 {
        return;
    }
    let max_open = churn.max_open.div_ceil(n);
    let open = Rc::new(Cell::new(0usize));
    while shared.generation.load(Ordering::Acquire) == 0 {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let mut count: u64 = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let due = (started.elapsed().as_secs_f64() * per_thread) as u64;
        while count < due {
            count += 1;
            if open.get() >= max_open {
                shared.churn.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            open.set(open.get() + 1);
            shared.churn.started.fetch_add(1, Ordering::Relaxed);
            let index = 2_000_000 + w + n * count as usize;
            let (run, churn, shared, open) =
                (run.clone(), churn.clone(), shared.clone(), open.clone());
            tokio::task::spawn_local(async move {
                match cycle(index, &run, &churn, &topic_uri(index % topics)).await {
                    Ok(()) => shared.churn.completed.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        shared.errors.add(format!("churn session: {e}"));
                        shared.churn.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                open.set(open.get() - 1);
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One session's life: join, subscribe, hold (reading what arrives),
/// unsubscribe, leave.
async fn cycle(index: usize, run: &Run, churn: &Churn, topic: &str) -> io::Result<()> {
    let mut conn = Conn::join(&run.target, nonce(index)).await?;
    let subscription = wamp::subscribe(&mut conn, topic).await?;
    if let Ok(e) = tokio::time::timeout(churn.hold, conn.hold()).await {
        return Err(e);
    }
    wamp::unsubscribe(&mut conn, subscription).await?;
    wamp::leave(&mut conn).await
}
