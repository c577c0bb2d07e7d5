//! The mesh between cores: one bounded queue per (sender, receiver) pair,
//! drained in batches; a receiver is woken once per batch, not per message.
//! Generic over what travels in it, so it knows nothing of routing.
//!
//! Each pair's queue is FIFO, so what one core sends another arrives in
//! order: events of one publisher reach a subscriber in publish order even
//! across cores.
//!
//! A sender whose queue is full keeps its message and parks on the
//! receiver's [`room`](Mailboxes::room) signal, which the receiver raises
//! after a drain that such a sender waits for: no polling.
//!
//! Waiting is the driver's: a receiver polls [`Mailboxes::poll_mail`], a
//! blocked sender awaits a [`Room`]; both are plain wakers behind a lock
//! taken once per batch, no runtime.
//!
//! Memory grows with use, not with the bound: a pair's queue is made on its
//! first message and holds segments of a few dozen messages while busy
//! (`SegQueue`), so a router of N cores costs N² pointers at rest, not
//! N² × the capacity (64 cores: 32 KiB instead of gigabytes).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crossbeam_queue::SegQueue;

/// Why a message was not queued; it comes back with the error.
#[derive(Debug)]
pub enum SendError<T> {
    /// The receiver's queue from this sender is full: wait for
    /// [`Mailboxes::room`] and try again.
    Full(T),
    /// No such core (or no such sender): a bug in the caller, which must
    /// not wait for an answer that cannot come.
    NoSuchCore(T),
}

/// One (sender, receiver) queue, bounded by `limits.mailbox_capacity`.
struct Queue<T> {
    mail: SegQueue<T>,
    /// Messages in `mail`: raised before a push and lowered after a pop,
    /// so it never reads below the real count and the bound holds.
    len: AtomicUsize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            mail: SegQueue::new(),
            len: AtomicUsize::new(0),
        }
    }
}

impl<T> Queue<T> {
    fn push(&self, mail: T, capacity: usize) -> Result<(), T> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(mail);
        }
        self.mail.push(mail);
        Ok(())
    }

    fn pop(&self) -> Option<T> {
        let mail = self.mail.pop()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(mail)
    }
}

/// What a receiving core has: its queues, by sender, and its signals.
struct Inbox<T> {
    /// `queues[from]`, each made on first use.
    queues: Vec<OnceLock<Box<Queue<T>>>>,
    /// The receiver's task while it waits for mail.
    receiver: Mutex<Option<Waker>>,
    /// Mail arrived since the last drain (one wake-up per batch).
    pending: AtomicBool,
    /// Drains that made room for a blocked sender, counted.
    drains: AtomicU64,
    /// Senders waiting for the next such drain.
    waiting_for_room: Mutex<Vec<Waker>>,
    /// A sender found a queue full and waits for room.
    blocked: AtomicBool,
}

/// All mailboxes of a router, one [`Inbox`] per receiving core.
pub struct Mailboxes<T> {
    inboxes: Vec<Inbox<T>>,
    /// Messages per queue.
    capacity: usize,
}

impl<T> Mailboxes<T> {
    /// Mailboxes for `cores` cores, each queue holding `capacity` messages.
    pub fn new(cores: usize, capacity: usize) -> Self {
        Self {
            inboxes: (0..cores)
                .map(|_| Inbox {
                    queues: (0..cores).map(|_| OnceLock::new()).collect(),
                    receiver: Mutex::new(None),
                    pending: AtomicBool::new(false),
                    drains: AtomicU64::new(0),
                    waiting_for_room: Mutex::new(Vec::new()),
                    blocked: AtomicBool::new(false),
                })
                .collect(),
            capacity,
        }
    }

    /// How many cores the mesh joins.
    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// Queues `mail` from core `from` to core `to`. A full queue gives it
    /// back (the sender then holds back its publisher and waits for
    /// [`room`](Self::room)); an unknown core is an error, never a silent
    /// drop.
    pub fn send(&self, from: usize, to: usize, mail: T) -> Result<(), SendError<T>> {
        let Some(inbox) = self.inboxes.get(to) else {
            return Err(SendError::NoSuchCore(mail));
        };
        let Some(queue) = inbox.queues.get(from) else {
            return Err(SendError::NoSuchCore(mail));
        };
        if let Err(mail) = queue.get_or_init(Box::default).push(mail, self.capacity) {
            inbox.blocked.store(true, Ordering::SeqCst);
            return Err(SendError::Full(mail));
        }
        if !inbox.pending.swap(true, Ordering::AcqRel)
            && let Some(receiver) = lock(&inbox.receiver).take()
        {
            receiver.wake();
        }
        Ok(())
    }

    /// Resolves after core `to` next drains its mail: made before a retry
    /// of a refused [`send`](Self::send), it cannot miss the drain that
    /// made room. `None` for an unknown core.
    pub fn room(&self, to: usize) -> Option<Room<'_>> {
        self.inboxes.get(to).map(|inbox| Room {
            seen: inbox.drains.load(Ordering::SeqCst),
            drains: &inbox.drains,
            waiting: &inbox.waiting_for_room,
        })
    }

    /// `Ready` when core `to` has mail (or does not exist); else `cx` is
    /// woken when mail comes.
    pub fn poll_mail(&self, to: usize, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inbox) = self.inboxes.get(to) else {
            return Poll::Ready(());
        };
        if inbox.pending.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut receiver = lock(&inbox.receiver);
        // Checked again under the lock: a sender that raised `pending`
        // before this waker was stored takes it after.
        if inbox.pending.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *receiver = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Takes everything queued for core `to`, sender by sender, calling `f`
    /// for each message; then wakes the senders waiting for room.
    pub fn drain(&self, to: usize, mut f: impl FnMut(T)) {
        let Some(inbox) = self.inboxes.get(to) else {
            return;
        };
        inbox.pending.store(false, Ordering::Release);
        for queue in inbox.queues.iter().filter_map(OnceLock::get) {
            // Bounded by what is there now, so a busy sender cannot keep
            // this core here forever.
            for _ in 0..queue.mail.len() {
                match queue.pop() {
                    Some(mail) => f(mail),
                    None => break,
                }
            }
        }
        if inbox.blocked.swap(false, Ordering::SeqCst) {
            inbox.drains.fetch_add(1, Ordering::SeqCst);
            let waiting = std::mem::take(&mut *lock(&inbox.waiting_for_room));
            for sender in waiting {
                sender.wake();
            }
        }
    }
}

/// Resolves after the receiving core's next drain that makes room for a
/// blocked sender, counted from when it was made ([`Mailboxes::room`]).
pub struct Room<'a> {
    seen: u64,
    drains: &'a AtomicU64,
    waiting: &'a Mutex<Vec<Waker>>,
}

impl Future for Room<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.drains.load(Ordering::SeqCst) != self.seen {
            return Poll::Ready(());
        }
        let mut waiting = lock(self.waiting);
        // Checked again under the lock: a drain counts before it takes
        // the wakers.
        if self.drains.load(Ordering::SeqCst) != self.seen {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The lock's value even if a thread panicked holding it: what it guards
/// (wakers) stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    /// A small capacity, so the bound is reached quickly.
    const CAPACITY: usize = 64;

    fn drained(mailboxes: &Mailboxes<u64>, to: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        mailboxes.drain(to, |n| ids.push(n));
        ids
    }

    #[test]
    fn queues_are_made_on_first_use_only() {
        let mailboxes = Mailboxes::new(64, CAPACITY);
        let made = |m: &Mailboxes<u64>| {
            m.inboxes
                .iter()
                .flat_map(|inbox| &inbox.queues)
                .filter(|q| q.get().is_some())
                .count()
        };
        assert_eq!(made(&mailboxes), 0);
        assert!(mailboxes.send(3, 7, 1).is_ok());
        assert_eq!(made(&mailboxes), 1);
        assert_eq!(drained(&mailboxes, 7), [1]);
    }

    #[test]
    fn each_pair_is_fifo_and_bounded() {
        let mailboxes = Mailboxes::new(2, CAPACITY);
        for n in 1..=CAPACITY as u64 {
            assert!(mailboxes.send(0, 1, n).is_ok());
        }
        let refused = mailboxes.send(0, 1, 0);
        assert!(
            matches!(refused, Err(SendError::Full(0))),
            "the queue holds at most its capacity"
        );
        // another sender's queue to the same core is its own
        assert!(mailboxes.send(1, 1, 7).is_ok());
        let ids = drained(&mailboxes, 1);
        assert_eq!(ids.len(), CAPACITY + 1);
        assert!(ids[..CAPACITY].windows(2).all(|w| w[0] < w[1]));
        // drained, it takes mail again
        assert!(mailboxes.send(0, 1, 1).is_ok());
    }

    #[test]
    fn an_unknown_core_is_refused_with_its_mail() {
        let mailboxes = Mailboxes::new(2, CAPACITY);
        assert!(matches!(
            mailboxes.send(0, 2, 5),
            Err(SendError::NoSuchCore(5))
        ));
        assert!(matches!(
            mailboxes.send(9, 1, 6),
            Err(SendError::NoSuchCore(6))
        ));
        assert!(mailboxes.room(2).is_none());
    }

    #[test]
    fn a_drain_wakes_a_sender_waiting_for_room_and_only_then() {
        let mailboxes = Mailboxes::new(2, CAPACITY);
        for n in 0..CAPACITY as u64 {
            assert!(mailboxes.send(0, 1, n).is_ok());
        }
        let mut room = pin!(mailboxes.room(1).unwrap());
        assert!(matches!(mailboxes.send(0, 1, 1), Err(SendError::Full(_))));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(room.as_mut().poll(&mut cx).is_pending());
        assert_eq!(drained(&mailboxes, 1).len(), CAPACITY);
        assert_eq!(room.as_mut().poll(&mut cx), Poll::Ready(()));
        assert!(mailboxes.send(0, 1, 1).is_ok());
    }
}
