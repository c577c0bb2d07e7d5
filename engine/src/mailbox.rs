//! Mailboxes between cores: one bounded queue per (sender, receiver) pair,
//! drained in batches; a receiver is woken once per batch, not per message.
//!
//! Each pair's queue is FIFO, so what one core sends another arrives in
//! order: events of one publisher reach a subscriber in publish order even
//! across cores.
//!
//! Memory grows with use, not with the bound: a pair's queue is made on its
//! first message and holds segments of a few dozen messages while busy
//! (`SegQueue`), so a router of N cores costs N² pointers at rest, not
//! N² × the capacity (64 cores: 32 KiB instead of gigabytes).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_queue::SegQueue;
use ringbar_protocol::id::SessionId;
use ringbar_protocol::str::Str;
use tokio::sync::Notify;

use crate::broker::Publication;
use crate::dealer::calls::{Answer, Interrupt, Invoke};

/// What one core asks of another.
pub(crate) enum Mail {
    /// Deliver a publication to this core's subscribers.
    Publication(Arc<Publication>),
    /// Close a session of this core (the `wamp.session.kill*` meta
    /// procedures): GOODBYE with `reason` and `message`.
    KillSession {
        /// The session.
        session: SessionId,
        /// The GOODBYE reason.
        reason: Str,
        /// The GOODBYE's `details.message`.
        message: Option<String>,
    },
    /// Invoke a callee on this core (from the caller's core).
    Invoke(Box<Invoke>),
    /// End an invocation on this core early (from the caller's core).
    Interrupt(Interrupt),
    /// A callee's answer for a caller on this core.
    Answer(Box<Answer>),
}

/// One (sender, receiver) queue, bounded by `limits.mailbox_capacity`.
#[derive(Default)]
struct Queue {
    mail: SegQueue<Mail>,
    /// Messages in `mail`: raised before a push and lowered after a pop,
    /// so it never reads below the real count and the bound holds.
    len: AtomicUsize,
}

impl Queue {
    fn push(&self, mail: Mail, capacity: usize) -> Result<(), Mail> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(mail);
        }
        self.mail.push(mail);
        Ok(())
    }

    fn pop(&self) -> Option<Mail> {
        let mail = self.mail.pop()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(mail)
    }
}

/// All mailboxes of a router: `queues[to][from]`, each made on first use.
pub(crate) struct Mailboxes {
    queues: Vec<Vec<OnceLock<Box<Queue>>>>,
    wake: Vec<Notify>,
    pending: Vec<AtomicBool>,
    /// Messages per queue.
    capacity: usize,
}

impl Mailboxes {
    /// Mailboxes for `cores` cores, each queue holding `capacity` messages.
    pub(crate) fn new(cores: usize, capacity: usize) -> Self {
        Self {
            queues: (0..cores)
                .map(|_| (0..cores).map(|_| OnceLock::new()).collect())
                .collect(),
            wake: (0..cores).map(|_| Notify::new()).collect(),
            pending: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            capacity,
        }
    }

    /// Queues `mail` from core `from` to core `to`; gives it back if that
    /// queue is full (the sender then holds back its publisher).
    pub(crate) fn send(&self, from: usize, to: usize, mail: Mail) -> Result<(), Mail> {
        let Some(queue) = self.queues.get(to).and_then(|q| q.get(from)) else {
            return Ok(());
        };
        queue.get_or_init(Box::default).push(mail, self.capacity)?;
        if let Some(pending) = self.pending.get(to)
            && !pending.swap(true, Ordering::AcqRel)
            && let Some(wake) = self.wake.get(to)
        {
            wake.notify_one();
        }
        Ok(())
    }

    /// Waits until core `to` has mail.
    pub(crate) async fn wait(&self, to: usize) {
        if let Some(wake) = self.wake.get(to) {
            wake.notified().await;
        }
    }

    /// Takes everything queued for core `to`, sender by sender, calling `f`
    /// for each message.
    pub(crate) fn drain(&self, to: usize, mut f: impl FnMut(Mail)) {
        if let Some(pending) = self.pending.get(to) {
            pending.store(false, Ordering::Release);
        }
        let Some(queues) = self.queues.get(to) else {
            return;
        };
        for queue in queues.iter().filter_map(OnceLock::get) {
            // Bounded by what is there now, so a busy sender cannot keep
            // this core here forever.
            for _ in 0..queue.mail.len() {
                match queue.pop() {
                    Some(mail) => f(mail),
                    None => break,
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small capacity, so the bound is reached quickly.
    const CAPACITY: usize = 64;

    /// A small mail for tests.
    pub(crate) fn kill(n: u64) -> Mail {
        Mail::KillSession {
            session: SessionId::new(n).unwrap(),
            reason: Str::from("wamp.close.killed"),
            message: None,
        }
    }

    fn drained(mailboxes: &Mailboxes, to: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        mailboxes.drain(to, |mail| {
            if let Mail::KillSession { session, .. } = mail {
                ids.push(session.get());
            }
        });
        ids
    }

    #[test]
    fn queues_are_made_on_first_use_only() {
        let mailboxes = Mailboxes::new(64, CAPACITY);
        let made = |m: &Mailboxes| {
            m.queues
                .iter()
                .flatten()
                .filter(|q| q.get().is_some())
                .count()
        };
        assert_eq!(made(&mailboxes), 0);
        assert!(mailboxes.send(3, 7, kill(1)).is_ok());
        assert_eq!(made(&mailboxes), 1);
        assert_eq!(drained(&mailboxes, 7), [1]);
    }

    #[test]
    fn each_pair_is_fifo_and_bounded() {
        let mailboxes = Mailboxes::new(2, CAPACITY);
        for n in 1..=CAPACITY as u64 {
            assert!(mailboxes.send(0, 1, kill(n)).is_ok());
        }
        let refused = mailboxes.send(0, 1, kill(u64::MAX >> 12));
        assert!(refused.is_err(), "the queue holds at most its capacity");
        // another sender's queue to the same core is its own
        assert!(mailboxes.send(1, 1, kill(7)).is_ok());
        let ids = drained(&mailboxes, 1);
        assert_eq!(ids.len(), CAPACITY + 1);
        assert!(ids[..CAPACITY].windows(2).all(|w| w[0] < w[1]));
        // drained, it takes mail again
        assert!(mailboxes.send(0, 1, kill(1)).is_ok());
    }
}
