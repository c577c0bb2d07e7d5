//! A session's outbound queue as the connection's tasks use it: the
//! byte-bounded queue of `ringbar_router::local::outbound`, the core's
//! budget over all its queues, and the wake-ups of the writer task (the
//! queue became non-empty) and of a reader waiting for room.
//!
//! Handlers only push and wake; the writer drains everything queued with one
//! vectored write per batch, so a burst of events costs one system call and
//! one wake-up.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use ringbar_router::local::outbound::DropReason;
pub(crate) use ringbar_router::local::outbound::MAX_IOVECS;
use ringbar_router::local::outbound::OutboundQueue;
use tokio::sync::Notify;

use crate::figures::CoreFigures;

/// The bytes queued on one core's connections together, against the core's
/// limit (`max_core_queued_bytes`). Shared by the core's queues (`Rc`); the
/// count itself is the core's `queued_bytes` figure, so the metrics read it
/// as it is.
pub(crate) struct QueueBudget {
    figures: Arc<CoreFigures>,
    queues: Cell<usize>,
    limit: usize,
}

impl QueueBudget {
    /// A budget of `limit` bytes, counted in `figures`.
    pub(crate) fn new(limit: usize, figures: Arc<CoreFigures>) -> Self {
        Self {
            figures,
            queues: Cell::new(0),
            limit,
        }
    }

    /// The bytes queued now.
    fn queued(&self) -> usize {
        usize::try_from(self.figures.queued_bytes.get()).unwrap_or(usize::MAX)
    }

    /// Whether a queue holding `held` bytes may take `more`: always while
    /// the core is under its limit; past it, only a queue under its fair
    /// share (the limit over the number of queues).
    fn admits(&self, held: usize, more: usize) -> bool {
        self.queued() + more <= self.limit || held < self.limit / self.queues.get().max(1)
    }

    fn add(&self, bytes: usize) {
        self.figures.queued_bytes.add(bytes as u64);
    }

    fn sub(&self, bytes: usize) {
        self.figures.queued_bytes.sub(bytes as u64);
    }
}

/// Frames queued for one connection.
pub(crate) struct Outbound {
    queue: RefCell<OutboundQueue>,
    budget: Rc<QueueBudget>,
    wake: Notify,
    /// Wakes a reader waiting in [`Outbound::writable`].
    drained: Notify,
}

impl Outbound {
    /// An empty queue holding at most `max_queued_bytes`, counted against
    /// its core's `budget`.
    pub(crate) fn new(max_queued_bytes: usize, budget: Rc<QueueBudget>) -> Self {
        budget.queues.set(budget.queues.get() + 1);
        Self {
            queue: RefCell::new(OutboundQueue::new(max_queued_bytes)),
            budget,
            wake: Notify::new(),
            drained: Notify::new(),
        }
    }

    /// Queues a frame the session must get (replies, errors, GOODBYE). Its
    /// own requests produce these, and its reader waits while the queue is
    /// full ([`Outbound::writable`]); what others cause (invocations,
    /// results) is bounded by the dealer's in-flight limits.
    pub(crate) fn push(&self, frame: Bytes) {
        self.enqueue(&frame);
    }

    /// Queues an event unless the queue is over its limit, the core's
    /// queues over theirs, or the connection closing; the error says which.
    pub(crate) fn push_event(&self, frame: &Bytes) -> Result<(), DropReason> {
        // Not through `push_event_with`'s clone: a small frame is copied
        // into the tail, and a clone per subscriber would be an atomic
        // increment and decrement for nothing.
        self.admit(frame.len())?;
        self.enqueue(frame);
        Ok(())
    }

    /// Like [`Outbound::push_event`] for a frame that is made only once the
    /// queue takes it, judged by `len`: a frame compressed with the
    /// connection's context must not be made and then dropped, since the
    /// peer's window would miss it.
    pub(crate) fn push_event_with(
        &self,
        len: usize,
        make: impl FnOnce() -> Bytes,
    ) -> Result<(), DropReason> {
        self.admit(len)?;
        self.enqueue(&make());
        Ok(())
    }

    fn admit(&self, len: usize) -> Result<(), DropReason> {
        self.queue
            .borrow_mut()
            .admit(len, |held, len| self.budget.admits(held, len))
    }

    fn enqueue(&self, frame: &Bytes) {
        let mut queue = self.queue.borrow_mut();
        if queue.is_closing() {
            return;
        }
        self.budget.add(frame.len());
        if queue.push(frame) {
            self.wake.notify_one();
        }
    }

    /// Events dropped because the queue (or the core's budget) was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.queue.borrow().dropped()
    }

    /// Bytes waiting.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queue.borrow().queued_bytes()
    }

    /// Waits until the writer has taken the queue below its limit, or the
    /// queue closed. The reader calls it before it handles the next
    /// message, so a peer that floods requests (Pings, calls) and reads
    /// nothing is no longer read: its kernel buffers fill and it waits.
    pub(crate) async fn writable(&self) {
        loop {
            {
                let queue = self.queue.borrow();
                if !queue.is_full() || queue.is_closing() {
                    return;
                }
            }
            self.drained.notified().await;
        }
    }

    /// Lets the writer finish what is queued and stop; later pushes are
    /// ignored.
    pub(crate) fn close(&self) {
        self.queue.borrow_mut().close();
        self.wake.notify_one();
        self.drained.notify_one();
    }

    /// Whether [`Outbound::close`] was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.queue.borrow().is_closing()
    }

    /// The next batch to write, waiting for one; `None` when closed and
    /// drained.
    pub(crate) async fn next_batch(&self) -> Option<Vec<Bytes>> {
        loop {
            {
                let mut queue = self.queue.borrow_mut();
                if let Some(batch) = queue.take_batch() {
                    self.budget.sub(batch.bytes);
                    if batch.drained {
                        self.drained.notify_one();
                    }
                    return Some(batch.frames);
                }
                if queue.is_closing() {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }
}

impl Drop for Outbound {
    /// What was never written leaves the core's budget with the queue.
    fn drop(&mut self) {
        self.budget.sub(self.queue.borrow().queued_bytes());
        self.budget
            .queues
            .set(self.budget.queues.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` bytes of `seed`: only lengths matter to these tests.
    fn frame(len: usize, seed: u8) -> Bytes {
        Bytes::from(vec![seed; len])
    }

    fn budget(limit: usize) -> Rc<QueueBudget> {
        Rc::new(QueueBudget::new(limit, Arc::new(CoreFigures::new())))
    }

    #[test]
    fn a_closing_queue_refuses_events() {
        let out = Outbound::new(100, budget(1 << 20));
        out.close();
        assert_eq!(out.push_event(&frame(10, 0)), Err(DropReason::Closing));
        assert_eq!(out.queued_bytes(), 0);
    }

    #[test]
    fn an_event_over_the_byte_limit_is_dropped_and_counted() {
        let out = Outbound::new(100, budget(1 << 20));
        assert!(out.push_event(&frame(60, 0)).is_ok());
        assert_eq!(
            out.push_event(&frame(60, 1)),
            Err(DropReason::SessionQueueFull)
        );
        assert_eq!(out.dropped(), 1);
        assert_eq!(out.queued_bytes(), 60);
    }

    #[test]
    fn a_refused_event_is_never_made() {
        let out = Outbound::new(100, budget(1 << 20));
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            frame(10, 0)
        };
        // Judged by the length given, counted by what was made.
        assert!(out.push_event_with(100, make).is_ok());
        assert_eq!(out.queued_bytes(), 10);
        assert_eq!(
            out.push_event_with(91, make),
            Err(DropReason::SessionQueueFull)
        );
        assert_eq!(made.get(), 1);
    }

    #[test]
    fn past_the_core_budget_only_queues_under_their_share_take_events() {
        let budget = budget(300);
        let slow = Outbound::new(1000, budget.clone());
        let fast = Outbound::new(1000, budget.clone());
        // Two queues: a fair share is 150 bytes.
        for i in 0..4 {
            assert!(slow.push_event(&frame(60, i)).is_ok());
        }
        assert_eq!(budget.queued(), 240);
        // Over the budget now: the slow queue (240 held) is refused, the
        // fast one (empty) still gets its events.
        assert_eq!(
            slow.push_event(&frame(100, 9)),
            Err(DropReason::CoreQueueBudget)
        );
        assert!(fast.push_event(&frame(100, 9)).is_ok());
        drop(slow);
        assert_eq!(budget.queued(), 100, "a dropped queue gives its bytes back");
        assert_eq!(budget.queues.get(), 1);
    }
}
