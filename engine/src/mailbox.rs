//! Mailboxes between cores: one bounded queue per (sender, receiver) pair,
//! drained in batches; a receiver is woken once per batch, not per message.
//!
//! Each pair's queue is FIFO, so what one core sends another arrives in
//! order: events of one publisher reach a subscriber in publish order even
//! across cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use ringbar_protocol::id::SessionId;
use ringbar_protocol::str::Str;
use tokio::sync::Notify;

use crate::broker::Publication;
use crate::dealer::calls::{Answer, Interrupt, Invoke};

/// Messages per (sender, receiver) queue.
const MAILBOX_CAPACITY: usize = 65_536;

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

/// All mailboxes of a router: `queues[to][from]`.
pub(crate) struct Mailboxes {
    queues: Vec<Vec<ArrayQueue<Mail>>>,
    wake: Vec<Notify>,
    pending: Vec<AtomicBool>,
}

impl Mailboxes {
    /// Mailboxes for `cores` cores.
    pub(crate) fn new(cores: usize) -> Self {
        Self {
            queues: (0..cores)
                .map(|_| {
                    (0..cores)
                        .map(|_| ArrayQueue::new(MAILBOX_CAPACITY))
                        .collect()
                })
                .collect(),
            wake: (0..cores).map(|_| Notify::new()).collect(),
            pending: (0..cores).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Queues `mail` from core `from` to core `to`; gives it back if that
    /// queue is full (the sender then holds back its publisher).
    pub(crate) fn send(&self, from: usize, to: usize, mail: Mail) -> Result<(), Mail> {
        let Some(queue) = self.queues.get(to).and_then(|q| q.get(from)) else {
            return Ok(());
        };
        queue.push(mail)?;
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
        for queue in queues {
            // Bounded by what is there now, so a busy sender cannot keep
            // this core here forever.
            for _ in 0..queue.len() {
                match queue.pop() {
                    Some(mail) => f(mail),
                    None => break,
                }
            }
        }
    }
}
