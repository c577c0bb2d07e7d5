//! What a bridge worker counts, for `ringbar status` and `/metrics`:
//! atomics its tasks bump and the node reads from another thread.

use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters of one bridge worker (all of its components).
#[derive(Debug, Default)]
pub struct Figures {
    /// Components whose session is joined now.
    pub(crate) joined: AtomicU64,
    /// Sessions joined since the worker started (reconnects included).
    pub(crate) joins: AtomicU64,
    /// Calls answered or made with a result (RESTCallee: the HTTP
    /// response; PostgreSQL: procedures and queued calls; SRDP).
    pub(crate) calls: AtomicU64,
    /// Calls answered or made with an error.
    pub(crate) call_errors: AtomicU64,
    /// MessageForwarder events received.
    pub(crate) events: AtomicU64,
    /// Events delivered: the HTTP service took them (the expected status,
    /// when set), or a subscription function did.
    pub(crate) forwarded: AtomicU64,
    /// HTTP attempts repeated after a failure.
    pub(crate) retries: AtomicU64,
    /// Events dropped because their queue was full.
    pub(crate) dropped_full: AtomicU64,
    /// Events dropped because delivering them failed: the last HTTP
    /// attempt, a subscription function refusing them, or an outbox row
    /// that could not be published.
    pub(crate) dropped_failed: AtomicU64,
    /// Events waiting in the targets' (or subscription functions')
    /// queues now.
    pub(crate) queued: AtomicU64,
    /// SRDP adapters reached now.
    pub(crate) srdp_links: AtomicU64,
    /// SRDP frames (and stray bytes) thrown away: bad CRC, garbage.
    pub(crate) srdp_bad_frames: AtomicU64,
    /// SRDP CHANGE events decoded for publication.
    pub(crate) srdp_changes: AtomicU64,
    /// SRDP CHANGE events dropped because the router was slow or away.
    pub(crate) srdp_changes_dropped: AtomicU64,
    /// Events a PostgreSQL bridge published from its outbox.
    pub(crate) published: AtomicU64,
}

/// A copy of [`Figures`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiguresSnapshot {
    /// Components whose session is joined now.
    pub joined: u64,
    /// Sessions joined since the worker started.
    pub joins: u64,
    /// Calls answered or made with a result (RESTCallee: the HTTP
    /// response; PostgreSQL: procedures and queued calls; SRDP).
    pub calls: u64,
    /// Calls answered or made with an error.
    pub call_errors: u64,
    /// MessageForwarder events received.
    pub events: u64,
    /// Events delivered (HTTP service, or subscription function).
    pub forwarded: u64,
    /// HTTP attempts repeated after a failure.
    pub retries: u64,
    /// Events dropped because their queue was full.
    pub dropped_full: u64,
    /// Events dropped because delivering them failed: the last HTTP
    /// attempt, a subscription function refusing them, or an outbox row
    /// that could not be published.
    pub dropped_failed: u64,
    /// Events waiting in the targets' (or subscription functions')
    /// queues now.
    pub queued: u64,
    /// SRDP adapters reached now.
    pub srdp_links: u64,
    /// SRDP frames (and stray bytes) thrown away.
    pub srdp_bad_frames: u64,
    /// SRDP CHANGE events decoded for publication.
    pub srdp_changes: u64,
    /// SRDP CHANGE events dropped.
    pub srdp_changes_dropped: u64,
    /// Events a PostgreSQL bridge published from its outbox.
    pub published: u64,
}

impl Figures {
    /// The counters now.
    pub fn snapshot(&self) -> FiguresSnapshot {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        FiguresSnapshot {
            joined: get(&self.joined),
            joins: get(&self.joins),
            calls: get(&self.calls),
            call_errors: get(&self.call_errors),
            events: get(&self.events),
            forwarded: get(&self.forwarded),
            retries: get(&self.retries),
            dropped_full: get(&self.dropped_full),
            dropped_failed: get(&self.dropped_failed),
            queued: get(&self.queued),
            srdp_links: get(&self.srdp_links),
            srdp_bad_frames: get(&self.srdp_bad_frames),
            srdp_changes: get(&self.srdp_changes),
            srdp_changes_dropped: get(&self.srdp_changes_dropped),
            published: get(&self.published),
        }
    }
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Takes one from the gauge `counter`.
pub(crate) fn drop_one(counter: &AtomicU64) {
    counter.fetch_sub(1, Ordering::Relaxed);
}
