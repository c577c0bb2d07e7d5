//! A session's outbound queue, bounded in bytes: the frames waiting for the
//! connection's writer, and the rules for what it takes; [`Outbound`], the
//! queue as routing and the connection's tasks share it, raises the
//! signals the driver waits on: wake the writer (the queue became
//! non-empty), and let a reader waiting for room go on (the queue fell
//! below its limit). The driver owns the writer and the reader.
//!
//! Replies count against the same limit as events. They are never dropped:
//! the driver stops reading the connection while the queue is full, so a
//! peer that sends requests and reads no answers holds at most the limit
//! plus the answers to one message. Events are refused (and counted) past
//! the limit, or past the core's budget when this queue holds more than its
//! share.
//!
//! Small frames (most events) are copied end to end into a contiguous tail
//! buffer as they are queued, instead of each holding a reference to the
//! shared frame and taking an iovec of its own: copying a hundred bytes is
//! cheaper than the reference count traffic and the kernel's per-segment
//! cost of a vectored write. Large frames keep their shared buffer and go out
//! without a copy.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};

use crate::local::figures::CoreFigures;
use crate::local::prefetch::{CACHE_LINE, prefetch};
use crate::local::ready::ReadyQueues;
use crate::local::signal::Signal;
use crate::slab::Key;

/// The most buffers one vectored write takes (Linux's `IOV_MAX`).
pub const MAX_IOVECS: usize = 1024;

/// The most bytes one write takes, so one connection cannot hold the core:
/// fairness between connections, not a bound on a peer
/// (`flow.max_queued_bytes` bounds its queue).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Frames up to this size are copied into the tail buffer (see the module
/// doc: cheaper than an iovec each). This and the two below are speed
/// choices, not bounds on peers.
const COALESCE_MAX_FRAME: usize = 1024;

/// A tail buffer this full is sealed into a segment of its own, so a tail
/// is never copied again as it grows.
const COALESCE_CHUNK: usize = 64 * 1024;

/// What a fresh tail buffer reserves at least: a quiet session's event
/// takes a small buffer, not a page. A busier one gets room for what its
/// last write carried, or twice the tail it follows (see
/// [`Frames::fresh_tail`]).
const TAIL_START: usize = 256;

/// Doubling the tail it follows takes a new tail up to this size; past it
/// only the last batch makes a tail larger, so a busy connection holds
/// what it writes, not twice that.
const TAIL_DOUBLING_MAX: usize = 4 * 1024;

/// Why an event was not queued for a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The subscriber's own queue held its byte limit
    /// (`flow.max_queued_bytes`): a slow consumer.
    SessionQueueFull,
    /// The core's queues together held their limit
    /// (`flow.max_core_queued_bytes`) and this subscriber's queue held more
    /// than its fair share of it.
    CoreQueueBudget,
    /// The event was longer than the subscriber accepts (a RawSocket peer's
    /// announced maximum message length).
    TooLarge,
    /// The subscriber's connection was closing (for example cut off as a
    /// slow consumer).
    Closing,
}

impl DropReason {
    /// Every reason, in the order figures list them.
    pub const ALL: [DropReason; 4] = [
        DropReason::SessionQueueFull,
        DropReason::CoreQueueBudget,
        DropReason::TooLarge,
        DropReason::Closing,
    ];

    /// The reason as a metric label value.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::SessionQueueFull => "session_queue_full",
            DropReason::CoreQueueBudget => "core_queue_budget",
            DropReason::TooLarge => "too_large",
            DropReason::Closing => "closing",
        }
    }
}

/// Frames queued for one connection, with its byte limit.
pub struct OutboundQueue {
    frames: Frames,
    queued_bytes: usize,
    max_queued_bytes: usize,
    closing: bool,
    dropped: u64,
}

/// One vectored write's worth of frames.
pub struct Batch {
    /// The buffers, in order.
    pub frames: Vec<Bytes>,
    /// How many bytes they hold.
    pub bytes: usize,
    /// Whether the queue was full and is no longer: a reader waiting for
    /// room may go on.
    pub drained: bool,
}

impl OutboundQueue {
    /// An empty queue holding at most `max_queued_bytes`.
    pub fn new(max_queued_bytes: usize) -> Self {
        Self {
            frames: Frames::default(),
            queued_bytes: 0,
            max_queued_bytes,
            closing: false,
            dropped: 0,
        }
    }

    /// Whether an event of `len` bytes may be queued; `core_admits(held,
    /// len)` says whether the core's budget takes it from a queue holding
    /// `held`. A refusal is counted as a dropped event, except while closing.
    pub fn admit(
        &mut self,
        len: usize,
        core_admits: impl FnOnce(usize, usize) -> bool,
    ) -> Result<(), DropReason> {
        if self.closing {
            return Err(DropReason::Closing);
        }
        let refused = if self.queued_bytes + len > self.max_queued_bytes {
            DropReason::SessionQueueFull
        } else if !core_admits(self.queued_bytes, len) {
            DropReason::CoreQueueBudget
        } else {
            return Ok(());
        };
        self.dropped += 1;
        Err(refused)
    }

    /// Queues `frame` (nothing while closing); returns whether the queue was
    /// empty, so the writer must be woken: it drains everything before it
    /// waits again, one wake-up per batch, not per frame.
    pub fn push(&mut self, frame: &Bytes) -> bool {
        if self.closing {
            return false;
        }
        self.queued_bytes += frame.len();
        let was_empty = self.frames.is_empty();
        self.frames.push(frame);
        was_empty
    }

    /// Like [`OutboundQueue::push`] for a frame `write` appends to the
    /// queue's own buffer, returning whether the writer must be woken and
    /// how many bytes it wrote (`write` is not called while closing).
    pub fn push_written<E>(
        &mut self,
        write: impl FnOnce(&mut BytesMut) -> Result<usize, E>,
    ) -> Result<(bool, usize), E> {
        if self.closing {
            return Ok((false, 0));
        }
        let was_empty = self.frames.is_empty();
        let written = self.frames.push_written(write)?;
        self.queued_bytes += written;
        Ok((was_empty && written > 0, written))
    }

    /// The next batch to write, if anything is queued.
    pub fn take_batch(&mut self) -> Option<Batch> {
        if self.frames.is_empty() {
            return None;
        }
        let was_full = self.is_full();
        let (frames, bytes) = self.frames.take_batch();
        self.queued_bytes -= bytes;
        Some(Batch {
            frames,
            bytes,
            drained: was_full && !self.is_full(),
        })
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Events dropped because the queue (or the core's budget) was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether the queue holds its limit or more: the connection's requests
    /// then wait, whatever their answers are.
    pub fn is_full(&self) -> bool {
        self.queued_bytes >= self.max_queued_bytes
    }

    /// Takes no more frames; what is queued still goes out.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether [`OutboundQueue::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing
    }
}

/// The bytes of queued frames, in order: whole segments, then the tail.
#[derive(Default)]
struct Frames {
    /// Ready to write, oldest first: large frames (shared, not copied) and
    /// sealed tails.
    segments: VecDeque<Bytes>,
    /// Small frames copied end to end; comes after every segment.
    tail: BytesMut,
    /// How many bytes the last batch carried: what the next tail reserves
    /// room for.
    last_batch: usize,
}

impl Frames {
    fn is_empty(&self) -> bool {
        self.segments.is_empty() && self.tail.is_empty()
    }

    fn push(&mut self, frame: &Bytes) {
        if frame.len() <= COALESCE_MAX_FRAME {
            if self.tail.capacity() - self.tail.len() < frame.len() {
                self.fresh_tail(frame.len());
            }
            self.tail.extend_from_slice(frame);
            if self.tail.len() >= COALESCE_CHUNK {
                self.seal_tail();
            }
        } else {
            self.seal_tail();
            self.segments.push_back(frame.clone());
        }
    }

    /// Appends what `write` writes to the tail (it returns how many bytes).
    fn push_written<E>(
        &mut self,
        write: impl FnOnce(&mut BytesMut) -> Result<usize, E>,
    ) -> Result<usize, E> {
        if self.tail.capacity() - self.tail.len() < COALESCE_MAX_FRAME {
            self.fresh_tail(COALESCE_MAX_FRAME);
        }
        let written = write(&mut self.tail)?;
        if self.tail.len() >= COALESCE_CHUNK {
            self.seal_tail();
        }
        Ok(written)
    }

    /// Starts a new tail with room for at least `need` bytes, sealing the
    /// one that has no room left instead of growing it: growing copies
    /// every byte it holds (a fifth of the routing time at 4 M events/s,
    /// docs/BENCHMARKS.md). The new tail has room for what the last batch
    /// carried, so a connection that gets many events per write fills one
    /// buffer per write; and for twice the tail it follows, up to
    /// [`TAIL_DOUBLING_MAX`], so a burst after a quiet spell (of events, or
    /// of answers written in place, which need [`COALESCE_MAX_FRAME`] of
    /// room each) takes a few buffers, not one per message. A quiet
    /// connection's event takes [`TAIL_START`] bytes: a publication to
    /// 1,000 such subscribers allocates (and the kernel maps) a quarter of
    /// a megabyte, not four (docs/BENCHMARKS.md).
    fn fresh_tail(&mut self, need: usize) {
        let follows = self.tail.capacity();
        self.seal_tail();
        let size = self
            .last_batch
            .max((2 * follows).min(TAIL_DOUBLING_MAX))
            .next_power_of_two();
        self.tail
            .reserve(size.clamp(TAIL_START, COALESCE_CHUNK).max(need));
    }

    /// Moves the tail (when not empty) to the end of the segments; the next
    /// small frame starts a fresh buffer, so an idle connection holds none.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.segments
                .push_back(std::mem::take(&mut self.tail).freeze());
        }
    }

    /// Takes buffers for one vectored write: at most [`MAX_IOVECS`] of them
    /// and (unless the first alone is larger) [`MAX_BATCH_BYTES`] bytes.
    /// Returns them and how many bytes they hold, and remembers that for
    /// the next tail.
    fn take_batch(&mut self) -> (Vec<Bytes>, usize) {
        let (batch, bytes) = self.take_buffers();
        self.last_batch = bytes;
        (batch, bytes)
    }

    /// The buffers of [`Frames::take_batch`].
    fn take_buffers(&mut self) -> (Vec<Bytes>, usize) {
        if self.segments.is_empty() {
            let tail = std::mem::take(&mut self.tail).freeze();
            let bytes = tail.len();
            return (vec![tail], bytes);
        }
        let mut batch = Vec::with_capacity((self.segments.len() + 1).min(MAX_IOVECS));
        let mut bytes = 0;
        while batch.len() < MAX_IOVECS {
            let len = match self.segments.front() {
                Some(segment) => segment.len(),
                None if !self.tail.is_empty() => self.tail.len(),
                None => break,
            };
            if bytes > 0 && bytes + len > MAX_BATCH_BYTES {
                break;
            }
            match self.segments.pop_front() {
                Some(segment) => batch.push(segment),
                None => batch.push(std::mem::take(&mut self.tail).freeze()),
            }
            bytes += len;
        }
        (batch, bytes)
    }
}

/// The bytes queued on one core's connections together, against the core's
/// limit (`max_core_queued_bytes`). Shared by the core's queues (`Rc`); the
/// count itself is the core's `queued_bytes` figure, so the metrics read it
/// as it is.
pub struct QueueBudget {
    figures: Arc<CoreFigures>,
    queues: Cell<usize>,
    limit: usize,
}

impl QueueBudget {
    /// A budget of `limit` bytes, counted in `figures`.
    pub fn new(limit: usize, figures: Arc<CoreFigures>) -> Self {
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

/// Frames queued for one connection, as routing (which pushes and
/// raises) and the driver's writer (which drains everything queued with
/// one vectored write per batch, so a burst of events costs one system
/// call and one wake-up) share them.
pub struct Outbound {
    queue: RefCell<OutboundQueue>,
    budget: Rc<QueueBudget>,
    /// Wakes the writer: frames to write, or the queue closed.
    wake: Signal,
    /// Set when the core's one writer writes this queue: the list it joins
    /// instead of raising `wake`, and its key there.
    listed: OnceCell<(Rc<ReadyQueues>, Key)>,
    /// Wakes a reader waiting in [`Outbound::writable`].
    drained: Signal,
}

/// What the writer is to do next with a queue.
pub enum Next {
    /// Write these buffers, in order.
    Write(Vec<Bytes>),
    /// Nothing is queued: wait.
    Wait,
    /// The queue is closed and drained: the writer is done.
    Done,
}

impl Outbound {
    /// An empty queue holding at most `max_queued_bytes`, counted against
    /// its core's `budget`.
    pub fn new(max_queued_bytes: usize, budget: Rc<QueueBudget>) -> Self {
        budget.queues.set(budget.queues.get() + 1);
        Self {
            queue: RefCell::new(OutboundQueue::new(max_queued_bytes)),
            budget,
            wake: Signal::default(),
            listed: OnceCell::new(),
            drained: Signal::default(),
        }
    }

    /// Hands the queue to its core's one writer: from now on it joins
    /// `ready` under `key` where it would wake a writer task of its own
    /// (and joins it at once when it already holds frames, or closed).
    /// Called once, when the connection starts; a second call is ignored.
    pub fn write_through(&self, ready: Rc<ReadyQueues>, key: Key) {
        if self.listed.set((ready, key)).is_ok() {
            let queue = self.queue.borrow();
            if !queue.frames.is_empty() || queue.is_closing() {
                drop(queue);
                self.wake_writer();
            }
        }
    }

    /// Tells the writer there is something to do: its core's list, or its
    /// own task.
    fn wake_writer(&self) {
        match self.listed.get() {
            Some((ready, key)) => ready.push(*key),
            None => self.wake.raise(),
        }
    }

    /// Queues a frame the session must get (replies, errors, GOODBYE). Its
    /// own requests produce these, and its reader waits while the queue is
    /// full ([`Outbound::writable`]); what others cause (invocations,
    /// results) is bounded by the dealer's in-flight limits.
    pub fn push(&self, frame: Bytes) {
        self.enqueue(&frame);
    }

    /// Like [`Outbound::push`] for a frame `write` appends to the queue's
    /// own buffer (it returns how many bytes): a reply is encoded where it
    /// is written from, not in a buffer of its own first.
    pub fn push_written<E>(
        &self,
        write: impl FnOnce(&mut BytesMut) -> Result<usize, E>,
    ) -> Result<(), E> {
        let (wake, written) = self.queue.borrow_mut().push_written(write)?;
        self.budget.add(written);
        if wake {
            self.wake_writer();
        }
        Ok(())
    }

    /// Queues an event unless the queue is over its limit, the core's
    /// queues over theirs, or the connection closing; the error says which.
    pub fn push_event(&self, frame: &Bytes) -> Result<(), DropReason> {
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
    pub fn push_event_with(
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
            drop(queue);
            self.wake_writer();
        }
    }

    /// Prefetches what queueing an event reads: every cache line of the
    /// queue, and the writer's signal. Only their addresses are taken;
    /// nothing is read.
    pub fn prefetch(&self) {
        let queue: *const u8 = (&raw const self.queue).cast();
        let end = queue.wrapping_add(size_of::<RefCell<OutboundQueue>>());
        let mut line = queue;
        while line < end {
            prefetch(line);
            line = line.wrapping_add(CACHE_LINE);
        }
        // The queue need not start on a line: its last byte may sit on a
        // line the steps above skipped.
        prefetch(end.wrapping_sub(1));
        prefetch(&self.wake);
    }

    /// Prefetches where the next small frame will be copied to: the two
    /// cache lines from the end of the tail buffer (a small event spans two
    /// or three). Reads the queue, so [`Outbound::prefetch`] it first.
    pub fn prefetch_tail(&self) {
        if let Ok(queue) = self.queue.try_borrow() {
            let tail = &queue.frames.tail;
            let end = tail.as_ptr().wrapping_add(tail.len());
            prefetch(end);
            prefetch(end.wrapping_add(CACHE_LINE));
        }
    }

    /// Events dropped because the queue (or the core's budget) was full.
    pub fn dropped(&self) -> u64 {
        self.queue.borrow().dropped()
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.queue.borrow().queued_bytes()
    }

    /// Whether the queue holds its limit or more: the connection's reader
    /// then waits ([`Outbound::poll_writable`]).
    pub fn is_full(&self) -> bool {
        self.queue.borrow().is_full()
    }

    /// `Ready` once the writer has taken the queue below its limit, or the
    /// queue closed; else `cx` is woken when that happens. The reader
    /// polls it before it handles the next message, so a peer that floods
    /// requests (Pings, calls) and reads nothing is no longer read: its
    /// kernel buffers fill and it waits.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            {
                let queue = self.queue.borrow();
                if !queue.is_full() || queue.is_closing() {
                    return Poll::Ready(());
                }
            }
            ready!(self.drained.poll_raised(cx));
        }
    }

    /// Lets the writer finish what is queued and stop; later pushes are
    /// ignored.
    pub fn close(&self) {
        self.queue.borrow_mut().close();
        self.wake_writer();
        self.drained.raise();
    }

    /// Whether [`Outbound::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.queue.borrow().is_closing()
    }

    /// The next batch to write, or `None` when closed and drained; else
    /// `Pending`, and `cx` is woken when frames are queued or the queue
    /// closes.
    pub fn poll_next_batch(&self, cx: &mut Context<'_>) -> Poll<Option<Vec<Bytes>>> {
        loop {
            match self.next() {
                Next::Write(frames) => return Poll::Ready(Some(frames)),
                Next::Done => return Poll::Ready(None),
                Next::Wait => ready!(self.wake.poll_raised(cx)),
            }
        }
    }

    /// The writer's next step, for a writer that is told when to look
    /// ([`Outbound::write_through`]) instead of polling.
    pub fn next(&self) -> Next {
        let mut queue = self.queue.borrow_mut();
        if let Some(batch) = queue.take_batch() {
            self.budget.sub(batch.bytes);
            if batch.drained {
                self.drained.raise();
            }
            return Next::Write(batch.frames);
        }
        if queue.is_closing() {
            return Next::Done;
        }
        Next::Wait
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
    use proptest::prelude::*;

    fn frame(len: usize, seed: usize) -> Bytes {
        (0..len)
            .map(|i| (i + seed) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Batches carry exactly the queued bytes, in order, within the
        /// iovec and byte limits, whether frames come all at once or
        /// between batches.
        #[test]
        fn batches_keep_bytes_order_and_limits(
            sizes in proptest::collection::vec(
                prop_oneof![
                    8 => 1usize..=COALESCE_MAX_FRAME,
                    8 => COALESCE_MAX_FRAME + 1..COALESCE_MAX_FRAME + 64,
                    1 => 1usize..300_000,
                ],
                1..2500,
            ),
            take_every in 1usize..3000,
        ) {
            let queued: Vec<Bytes> = sizes.iter().enumerate().map(|(i, n)| frame(*n, i)).collect();
            let mut queue = Frames::default();
            let mut written = Vec::new();
            let take = |queue: &mut Frames, written: &mut Vec<u8>| -> Result<(), TestCaseError> {
                let (batch, bytes) = queue.take_batch();
                prop_assert!(!batch.is_empty() && batch.len() <= MAX_IOVECS);
                let total: usize = batch.iter().map(Bytes::len).sum();
                prop_assert_eq!(total, bytes);
                prop_assert!(bytes <= MAX_BATCH_BYTES || batch.len() == 1);
                for buf in &batch {
                    written.extend_from_slice(buf);
                }
                Ok(())
            };
            for (i, f) in queued.iter().enumerate() {
                queue.push(f);
                if i % take_every == take_every - 1 {
                    take(&mut queue, &mut written)?;
                }
            }
            while !queue.is_empty() {
                take(&mut queue, &mut written)?;
            }
            let expected: Vec<u8> = queued.iter().flat_map(|f| f.iter().copied()).collect();
            prop_assert_eq!(written, expected);
        }
    }

    #[test]
    fn small_frames_share_one_buffer_and_large_ones_are_not_copied() {
        let large = frame(COALESCE_MAX_FRAME + 1, 7);
        let mut queue = Frames::default();
        for f in [frame(90, 1), frame(90, 2), large.clone(), frame(90, 3)] {
            queue.push(&f);
        }
        let (batch, bytes) = queue.take_batch();
        assert_eq!(bytes, 270 + large.len());
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[0].len(), 180);
        assert_eq!(batch[1].as_ptr(), large.as_ptr());
        assert_eq!(batch[2].len(), 90);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_tail_is_sealed_not_grown_and_the_next_one_fits_the_last_batch() {
        let mut queue = Frames::default();
        queue.push(&frame(100, 0));
        let first = queue.tail.as_ptr();
        let mut bytes = 100;
        while bytes <= TAIL_START {
            queue.push(&frame(100, bytes));
            bytes += 100;
        }
        let (batch, taken) = queue.take_batch();
        assert_eq!(taken, bytes);
        assert_eq!(batch.len(), 2, "the full tail became a segment");
        assert_eq!(batch[0].as_ptr(), first, "and was never moved");
        queue.push(&frame(100, 0));
        assert!(
            queue.tail.capacity() >= bytes,
            "room for what the last batch carried"
        );
    }

    /// Messages of 100 bytes in a burst: 16,400 bytes.
    const BURST: usize = 164;

    /// Takes `queue`'s batch, a burst's worth, and checks that it went
    /// into a few buffers, not one per message.
    fn assert_few_buffers(queue: &mut Frames) {
        let (batch, taken) = queue.take_batch();
        assert_eq!(taken, 100 * BURST);
        assert!(batch.len() <= 10, "{} buffers", batch.len());
    }

    #[test]
    fn a_quiet_connection_takes_a_small_tail_and_a_burst_few_buffers() {
        let mut queue = Frames::default();
        queue.push(&frame(100, 0));
        assert!(queue.tail.capacity() < 1024, "{}", queue.tail.capacity());
        for i in 1..BURST {
            queue.push(&frame(100, i));
        }
        assert_few_buffers(&mut queue);
    }

    #[test]
    fn answers_written_in_place_take_few_buffers_too() {
        let mut queue = Frames::default();
        for _ in 0..BURST {
            let written = queue.push_written(|out: &mut BytesMut| -> Result<usize, ()> {
                out.extend_from_slice(&[7; 100]);
                Ok(100)
            });
            assert_eq!(written, Ok(100));
        }
        assert_few_buffers(&mut queue);
    }

    #[test]
    fn a_batch_stops_at_the_iovec_limit() {
        let mut queue = Frames::default();
        for i in 0..2 * MAX_IOVECS {
            queue.push(&frame(
                if i % 2 == 0 {
                    COALESCE_MAX_FRAME + 1
                } else {
                    1
                },
                i,
            ));
        }
        let (batch, _) = queue.take_batch();
        assert_eq!(batch.len(), MAX_IOVECS);
        assert!(!queue.is_empty());
    }

    #[test]
    fn the_writer_is_woken_once_per_batch_and_a_reader_once_the_queue_has_room() {
        let mut queue = OutboundQueue::new(100);
        assert!(
            queue.push(&frame(60, 0)),
            "the first frame wakes the writer"
        );
        assert!(!queue.push(&frame(60, 1)), "the writer drains it all");
        assert!(queue.is_full());
        let batch = queue.take_batch().expect("a batch");
        assert_eq!((batch.bytes, batch.drained), (120, true));
        assert_eq!(queue.queued_bytes(), 0);
        assert!(queue.take_batch().is_none());
        assert!(queue.push(&frame(10, 2)));
        assert!(
            !queue.take_batch().expect("a batch").drained,
            "it was not full"
        );
        queue.close();
        assert!(
            !queue.push(&frame(10, 3)),
            "nothing is queued while closing"
        );
        assert_eq!(queue.admit(1, |_, _| true), Err(DropReason::Closing));
        assert_eq!(queue.dropped(), 0, "a closing queue counts no drops");
    }

    #[test]
    fn a_frame_written_into_the_queue_follows_the_frames_before_it() {
        let mut queue = OutboundQueue::new(1 << 20);
        let write = |bytes: &'static [u8]| {
            move |out: &mut BytesMut| -> Result<usize, ()> {
                out.extend_from_slice(bytes);
                Ok(bytes.len())
            }
        };
        assert_eq!(queue.push_written(write(b"one")), Ok((true, 3)));
        assert!(!queue.push(&Bytes::from_static(b"two")));
        let large = frame(2 * COALESCE_MAX_FRAME, 0);
        assert!(!queue.push(&large));
        assert_eq!(queue.push_written(write(b"three")), Ok((false, 5)));
        let refused = queue.push_written(|out: &mut BytesMut| {
            out.extend_from_slice(b"half");
            out.truncate(out.len() - 4);
            Err::<usize, ()>(())
        });
        assert_eq!(refused, Err(()));
        let batch = queue.take_batch().expect("a batch");
        let written: Vec<u8> = batch.frames.iter().flat_map(|f| f.to_vec()).collect();
        let mut expected = b"onetwo".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"three");
        assert_eq!(written, expected);
        assert_eq!(batch.bytes, expected.len());
        queue.close();
        assert_eq!(
            queue.push_written(|_: &mut BytesMut| -> Result<usize, ()> {
                unreachable!("nothing is written while closing")
            }),
            Ok((false, 0))
        );
    }

    fn budget(limit: usize) -> Rc<QueueBudget> {
        Rc::new(QueueBudget::new(limit, Arc::new(CoreFigures::new())))
    }

    /// A queue written through its core's list joins the list when it
    /// gets frames after being empty, and when it closes; its writer takes
    /// batches until it is told the queue is done.
    #[test]
    fn a_queue_written_through_the_core_list_is_listed_when_it_has_work() {
        let mut slab = crate::slab::Slab::default();
        let key = slab.insert_with(|_| ()).expect("a key");
        let ready = Rc::new(ReadyQueues::default());
        let outbound = Outbound::new(1 << 20, budget(1 << 20));
        outbound.push(frame(10, 0));
        outbound.write_through(ready.clone(), key);
        let mut keys = Vec::new();
        ready.take(&mut keys);
        assert_eq!(keys, vec![key], "frames queued before are listed at once");
        outbound.push(frame(10, 1));
        ready.take(&mut keys);
        assert!(keys.is_empty(), "listed once until the writer takes them");
        assert!(
            matches!(outbound.next(), Next::Write(f) if f.iter().map(Bytes::len).sum::<usize>() == 20)
        );
        assert!(matches!(outbound.next(), Next::Wait));
        outbound.push(frame(10, 2));
        outbound.close();
        ready.take(&mut keys);
        assert_eq!(keys, vec![key, key], "new frames, then the close");
        assert!(matches!(outbound.next(), Next::Write(_)));
        assert!(matches!(outbound.next(), Next::Done));
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
