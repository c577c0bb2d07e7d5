//! The router's timers: deadlines it keeps (a call's timeout, ...) and
//! the driver serves, and the [`Clock`] the driver tells the time by. The
//! router reads no clock of its own: time is a count of nanoseconds since
//! an origin the driver picks, handed in as `now`, or read from the
//! driver's clock (a simulation's is manual).
//!
//! An ordered queue (a B-tree keyed by deadline), not a hashed wheel: the
//! driver sleeps exactly until [`next_deadline`](Timers::next_deadline)
//! (no tick while idle, no rounds), a cancelled timer leaves nothing
//! behind, and every operation is O(log n) in the timers pending, which
//! are bounded by the calls in flight.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// The driver's clock: the router asks it the time instead of the OS, so
/// a simulation that moves its clock by hand moves the router's too.
pub trait Clock: Send + Sync {
    /// Now, on a monotonic clock (deadlines, how long a delivery took).
    fn now(&self) -> Instant;
    /// Now, on the wall clock (what the router reports: when a
    /// subscription was made, when an event was kept in a history).
    fn wall(&self) -> SystemTime;
}

/// Names a pending timer, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId {
    deadline: u64,
    seq: u64,
}

/// Pending timers, each carrying what to do when it expires.
#[derive(Debug)]
pub struct Timers<T> {
    queue: BTreeMap<(u64, u64), T>,
    /// Orders timers with the same deadline by insertion.
    next_seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Self {
            queue: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Timers<T> {
    /// A timer that expires at `deadline` (nanoseconds since the driver's
    /// origin) with `value`.
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.insert((deadline, seq), value);
        TimerId { deadline, seq }
    }

    /// Stops timer `id`; its value, if it had not expired.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.queue.remove(&(id.deadline, id.seq))
    }

    /// When the earliest timer expires: the driver wakes the router then.
    pub fn next_deadline(&self) -> Option<u64> {
        self.queue
            .first_key_value()
            .map(|((deadline, _), _)| *deadline)
    }

    /// Takes the earliest timer whose deadline is at or before `now`, one
    /// at a time, so the caller may act on each (and set new timers)
    /// between takes.
    pub fn expire(&mut self, now: u64) -> Option<T> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    /// How many timers are pending.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expired(timers: &mut Timers<&'static str>, now: u64) -> Vec<&'static str> {
        std::iter::from_fn(|| timers.expire(now)).collect()
    }

    #[test]
    fn timers_expire_in_deadline_order_then_insertion_order() {
        let mut timers = Timers::default();
        timers.insert(30, "c");
        timers.insert(10, "a");
        timers.insert(10, "b");
        assert_eq!(timers.next_deadline(), Some(10));
        assert!(expired(&mut timers, 9).is_empty());
        assert_eq!(expired(&mut timers, 10), ["a", "b"]);
        assert_eq!(timers.next_deadline(), Some(30));
        assert_eq!(expired(&mut timers, 100), ["c"]);
        assert!(timers.is_empty() && timers.next_deadline().is_none());
    }

    #[test]
    fn a_cancelled_timer_never_expires_and_leaves_nothing() {
        let mut timers = Timers::default();
        let a = timers.insert(10, "a");
        timers.insert(20, "b");
        assert_eq!(timers.cancel(a), Some("a"));
        assert_eq!(timers.cancel(a), None);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.next_deadline(), Some(20));
        assert_eq!(expired(&mut timers, 20), ["b"]);
    }
}
