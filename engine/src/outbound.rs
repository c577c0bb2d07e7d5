//! A session's outbound queue: frames waiting for the connection's writer
//! task, bounded in bytes.
//!
//! Handlers only push and wake; the writer drains everything queued with one
//! vectored write per batch, so a burst of events costs one system call.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::runtime::io::MAX_IOVECS;

/// The most bytes one write takes, so one connection cannot hold the core.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Frames queued for one connection.
pub(crate) struct Outbound {
    frames: RefCell<VecDeque<Bytes>>,
    queued_bytes: Cell<usize>,
    max_queued_bytes: usize,
    closing: Cell<bool>,
    dropped: Cell<u64>,
    wake: Notify,
}

/// The queue is over its byte limit.
#[derive(Debug)]
pub(crate) struct QueueFull;

impl Outbound {
    /// An empty queue holding at most `max_queued_bytes`.
    pub(crate) fn new(max_queued_bytes: usize) -> Self {
        Self {
            frames: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            max_queued_bytes,
            closing: Cell::new(false),
            dropped: Cell::new(0),
            wake: Notify::new(),
        }
    }

    /// Queues a frame the session must get (replies, errors, GOODBYE): only
    /// the connection's own requests produce these, so they are bounded by
    /// what it sends.
    pub(crate) fn push(&self, frame: Bytes) {
        if self.closing.get() {
            return;
        }
        self.queued_bytes.set(self.queued_bytes.get() + frame.len());
        self.frames.borrow_mut().push_back(frame);
        self.wake.notify_one();
    }

    /// Queues an event unless the queue is over its limit.
    pub(crate) fn push_event(&self, frame: Bytes) -> Result<(), QueueFull> {
        if self.queued_bytes.get() + frame.len() > self.max_queued_bytes {
            self.dropped.set(self.dropped.get() + 1);
            return Err(QueueFull);
        }
        self.push(frame);
        Ok(())
    }

    /// Events dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Bytes waiting.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes.get()
    }

    /// Lets the writer finish what is queued and stop; later pushes are
    /// ignored.
    pub(crate) fn close(&self) {
        self.closing.set(true);
        self.wake.notify_one();
    }

    /// Whether [`Outbound::close`] was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// The next batch to write, waiting for one; `None` when closed and
    /// drained.
    pub(crate) async fn next_batch(&self) -> Option<Vec<Bytes>> {
        loop {
            {
                let mut frames = self.frames.borrow_mut();
                if !frames.is_empty() {
                    let mut batch = Vec::with_capacity(frames.len().min(MAX_IOVECS));
                    let mut bytes = 0;
                    while let Some(frame) = frames.front() {
                        if batch.len() == MAX_IOVECS
                            || (bytes > 0 && bytes + frame.len() > MAX_BATCH_BYTES)
                        {
                            break;
                        }
                        bytes += frame.len();
                        batch.extend(frames.pop_front());
                    }
                    self.queued_bytes.set(self.queued_bytes.get() - bytes);
                    return Some(batch);
                }
                if self.closing.get() {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }
}
