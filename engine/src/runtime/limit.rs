//! `max_connections`: the cap on a transport's open connections, and the
//! node's cap on all of them (`limits.max_connections`).
//!
//! Every core accepts on a listening socket of its own, so a count is one
//! atomic shared by the listeners of all cores; a connection over a cap
//! is closed right after accept, before any handshake, as Crossbar.io does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Refusals are logged at most this often per transport, with their count
/// (Crossbar.io's interval), so a flood of connections is one line.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The open connections of one transport (or of the node), against its
/// cap.
#[derive(Debug)]
pub(crate) struct ConnectionLimit {
    /// What is capped, for the log: `transport ID` or `the node`.
    scope: String,
    max: usize,
    open: AtomicUsize,
    /// Refusals not logged yet.
    unlogged: AtomicU64,
    /// When refusals were last logged, in ms since `epoch`; `NEVER` before.
    logged_at_ms: AtomicU64,
    epoch: Instant,
}

/// The caps a connection must pass: its transport's and the node's.
#[derive(Debug, Clone)]
pub(crate) struct Caps {
    transport: Arc<ConnectionLimit>,
    node: Arc<ConnectionLimit>,
}

impl Caps {
    /// `transport`'s cap under the node's.
    pub(crate) fn new(transport: Arc<ConnectionLimit>, node: Arc<ConnectionLimit>) -> Self {
        Self { transport, node }
    }

    /// Places under both caps, or `None` (the place taken under one is
    /// given back when the other refuses).
    pub(crate) fn admit(&self) -> Option<(Admission, Admission)> {
        let transport = self.transport.admit()?;
        let node = self.node.admit()?;
        Some((transport, node))
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admission(Arc<ConnectionLimit>);

const NEVER: u64 = u64::MAX;

impl ConnectionLimit {
    /// A cap of `max` open connections on `scope` (`transport ID`, or
    /// `the node`).
    pub(crate) fn new(scope: &str, max: usize) -> Arc<Self> {
        Arc::new(ConnectionLimit {
            scope: scope.to_owned(),
            max,
            open: AtomicUsize::new(0),
            unlogged: AtomicU64::new(0),
            logged_at_ms: AtomicU64::new(NEVER),
            epoch: Instant::now(),
        })
    }

    /// A place for one more connection; `None` (and a log line now and
    /// then) when the cap is reached.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admission> {
        // Counting first and taking it back when over keeps two cores from
        // both taking the last place.
        if self.open.fetch_add(1, Ordering::AcqRel) < self.max {
            return Some(Admission(self.clone()));
        }
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        self.log_refusals();
        None
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn log_refusals(&self) {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1);
        let last = self.logged_at_ms.load(Ordering::Relaxed);
        let interval_ms = u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        let due = last == NEVER || now_ms.saturating_sub(last) >= interval_ms;
        // One core wins the right to log; the others' refusals are counted
        // in its line or the next.
        if due
            && self
                .logged_at_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let refused = self.unlogged.swap(0, Ordering::Relaxed);
            tracing::warn!(
                limit = %self.scope,
                refused,
                max_connections = self.max,
                "connections refused: max_connections reached"
            );
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_and_places_come_back() {
        let limit = ConnectionLimit::new("t", 2);
        let first = limit.admit();
        let second = limit.admit();
        assert!(first.is_some() && second.is_some());
        assert!(limit.admit().is_none());
        assert_eq!(limit.open(), 2);
        drop(first);
        assert_eq!(limit.open(), 1);
        let third = limit.admit();
        assert!(third.is_some());
        assert!(limit.admit().is_none());
        drop((second, third));
        assert_eq!(limit.open(), 0);
    }

    #[test]
    fn threads_never_exceed_the_cap() {
        let limit = ConnectionLimit::new("t", 100);
        // Every thread holds its places until all have tried.
        let all_tried = std::sync::Barrier::new(4);
        let admitted: Vec<usize> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let mut held = Vec::new();
                        for _ in 0..1000 {
                            if let Some(admission) = limit.admit() {
                                held.push(admission);
                            }
                        }
                        all_tried.wait();
                        held.len()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(admitted.iter().sum::<usize>(), 100);
        assert_eq!(limit.open(), 0);
    }
}
