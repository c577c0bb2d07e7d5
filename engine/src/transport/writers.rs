//! The writer of every plain (not TLS) connection of an io_uring core, in
//! one place: routing lists the queues that got frames
//! ([`ReadyQueues`]), and one pass takes each listed queue's batch and
//! starts its write. What [`write_loop`](super::write_loop) does with a
//! task per connection, woken for each write and again for its
//! completion, this does with a list: at 1,000 subscribers that task cost
//! 7–9 % of the core, next to delivery the largest user-space cost left on
//! the publish path (docs/BENCHMARKS.md).
//!
//! A pass of many writes (a publication's fan-out) puts them on the core's
//! [`WriteRing`] and enters the kernel once for all of them, reading the
//! completions straight back. A pass of a few (RPC's calls and results)
//! hands them to the core's `tokio-uring` ring, which the core's next
//! park enters anyway, and polls them from this one task: there a system
//! call of their own per pass cost more than it saved ([`RING_PASS`]).
//!
//! Per connection it keeps `write_loop`'s rules: one write in flight at a
//! time, in queue order; a partial write goes on from where it stopped;
//! bytes out and the idle clock count whole batches; a failed write closes
//! the queue and shuts the socket; an abort shuts the socket at once (a
//! write waiting on the peer ends with it); a closed and drained queue
//! shuts the socket unless a WebSocket closing handshake waits for the
//! peer's Close.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use ringbar_router::core::Core;
use ringbar_router::local::outbound::Next;
use ringbar_router::local::ready::ReadyQueues;
use ringbar_router::slab::{Key, Slab};

use super::Connection;
use crate::runtime::io::advance;
use crate::runtime::write_ring::{WriteRing, Written};

thread_local! {
    /// This core thread's writers, from [`start`] to [`stop`].
    static WRITERS: RefCell<Option<Rc<Writers>>> = const { RefCell::new(None) };
}

/// Makes the current core's writers and starts their task; connections
/// accepted after this are written through them. Must run inside the
/// core's io_uring runtime. Without a ring of its own (the kernel refused
/// one) the core keeps a writer task per connection, and says so.
pub(crate) fn start(core: Rc<Core>) {
    let ring = match WriteRing::new() {
        Ok(ring) => ring,
        Err(e) => {
            tracing::warn!(core = core.id, error = %e, "no write ring; each connection gets a writer task");
            return;
        }
    };
    let writers = Rc::new(Writers {
        core,
        ring,
        parked: RefCell::default(),
        ready: Rc::default(),
        writers: RefCell::default(),
    });
    WRITERS.with(|cell| *cell.borrow_mut() = Some(writers.clone()));
    tokio::task::spawn_local(writers.run());
}

/// Lets go of the current core's writers, while its runtime still runs:
/// their ring leaves the reactor when the runtime drops their task, not
/// at thread exit after the runtime is gone.
pub(crate) fn stop() {
    WRITERS.with(|cell| cell.borrow_mut().take());
}

/// Writes `conn` through its core's writers; hands it back when it is not
/// theirs to write (TLS, epoll, or a core without writers).
pub(crate) fn attach(conn: Rc<Connection>) -> Result<(), Rc<Connection>> {
    let Some(fd) = conn.stream.ring_fd() else {
        return Err(conn);
    };
    let Some(writers) = WRITERS.with(|cell| cell.borrow().clone()) else {
        return Err(conn);
    };
    let outbound = conn.clone();
    let inserted = writers.writers.borrow_mut().insert_with(|_| Writer {
        conn,
        fd,
        writing: None,
    });
    let Some(key) = inserted else {
        return Err(outbound);
    };
    outbound.outbound.write_through(writers.ready.clone(), key);
    Ok(())
}

/// A pass with more writes than this puts them on the write ring, which
/// takes a system call of its own; a pass of fewer hands them to the
/// core's `tokio-uring` ring, which its next park enters anyway. A speed
/// choice (docs/BENCHMARKS.md): at 1,000 subscribers one call for the
/// pass costs less than an operation per write; under RPC load (a few
/// connections, thousands of passes a second) a call of its own per pass
/// sent earlier and in smaller pieces, 40 % more sends per call, and
/// answered 0.91x the calls.
const RING_PASS: usize = 16;

/// A write on the core's `tokio-uring` ring, as the writers poll it.
type ParkedWrite = Pin<Box<dyn Future<Output = Written<Key>>>>;

/// One core's writers: its connections, the list of those with frames,
/// and the rings their writes go through.
struct Writers {
    core: Rc<Core>,
    ring: WriteRing<Key>,
    /// The writes of small passes, submitted when the core next parks.
    parked: RefCell<FuturesUnordered<ParkedWrite>>,
    ready: Rc<ReadyQueues>,
    writers: RefCell<Slab<Writer>>,
}

/// One connection's writer.
struct Writer {
    conn: Rc<Connection>,
    fd: RawFd,
    /// The bytes of the batch in flight, while one is.
    writing: Option<usize>,
}

impl Writers {
    /// Writes what is listed, then waits for the list or a completion.
    async fn run(self: Rc<Self>) {
        let mut keys = Vec::new();
        let mut parked = Vec::new();
        let mut on_ring = Vec::new();
        loop {
            self.flush(&mut keys, &mut parked, &mut on_ring);
            poll_fn(|cx| {
                let listed = self.ready.poll_listed(cx).is_ready();
                let completed = self.ring.poll_completions(cx).is_ready();
                let unparked = self.poll_parked(cx, &mut parked);
                if listed || completed || unparked {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// Moves the parked writes that completed into `done`; whether any did.
    fn poll_parked(&self, cx: &mut Context<'_>, done: &mut Vec<Written<Key>>) -> bool {
        let before = done.len();
        let mut parked = self.parked.borrow_mut();
        while let Poll::Ready(Some(written)) = parked.poll_next_unpin(cx) {
            done.push(written);
        }
        done.len() > before
    }

    /// One pass: handles the parked writes that completed, starts the
    /// listed queues' writes, submits those on the write ring, and handles
    /// what completed there, until nothing more is listed or completed.
    fn flush(
        &self,
        keys: &mut Vec<Key>,
        parked: &mut Vec<Written<Key>>,
        on_ring: &mut Vec<Written<Key>>,
    ) {
        for written in parked.drain(..) {
            self.written(written, false);
        }
        loop {
            self.ready.take(keys);
            let big = keys.len() > RING_PASS;
            for &key in keys.iter() {
                self.next_write(key, big);
            }
            if let Err(e) = self.ring.submit() {
                tracing::error!(core = self.core.id, error = %e, "the write ring refused its submissions");
                return;
            }
            self.ring.completions(on_ring);
            if on_ring.is_empty() && self.ready.is_empty() {
                return;
            }
            for written in on_ring.drain(..) {
                self.written(written, true);
            }
        }
    }

    /// Starts the connection's next write when none is in flight (on the
    /// write ring, or parked), or ends its writer when its queue is closed
    /// and drained.
    fn next_write(&self, key: Key, on_ring: bool) {
        let mut writers = self.writers.borrow_mut();
        let Some(writer) = writers.get_mut(key) else {
            return;
        };
        let conn = &writer.conn;
        if writer.writing.is_some() {
            // The write in flight may wait on a peer that reads nothing:
            // an abort ends it now.
            if conn.is_aborted() {
                conn.stream.shutdown();
            }
            return;
        }
        // Routing cut the link: what is queued is dropped.
        let next = if conn.is_aborted() {
            Next::Done
        } else {
            conn.outbound.next()
        };
        match next {
            Next::Wait => {}
            Next::Write(frames) => {
                writer.writing = Some(frames.iter().map(Bytes::len).sum());
                if let Err(e) = self.start(writer, key, frames, on_ring) {
                    drop(writers);
                    self.failed(key, &e);
                }
            }
            Next::Done => {
                drop(writers);
                self.finish(key);
            }
        }
    }

    /// A write came back (from the write ring when `on_ring`): it goes on
    /// where it stopped, or the batch is counted and the next one starts,
    /// the same way.
    fn written(&self, written: Written<Key>, on_ring: bool) {
        let Written {
            token: key,
            result,
            mut frames,
        } = written;
        let mut writers = self.writers.borrow_mut();
        let Some(writer) = writers.get_mut(key) else {
            return;
        };
        let error = match result {
            Ok(0) => Some(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                advance(&mut frames, n);
                None
            }
            Err(e) => Some(e),
        };
        let aborted = writer.conn.is_aborted();
        if let Some(e) = error.filter(|_| !aborted) {
            drop(writers);
            return self.failed(key, &e);
        }
        if !frames.is_empty() && !aborted {
            if let Err(e) = self.start(writer, key, frames, on_ring) {
                drop(writers);
                self.failed(key, &e);
            }
            return;
        }
        if let Some(bytes) = writer.writing.take().filter(|_| !aborted) {
            writer.conn.figures.bytes_out.add(bytes as u64);
            writer.conn.last_io.set(self.core.now());
        }
        drop(writers);
        self.next_write(key, on_ring);
    }

    /// Starts writing `frames` to the writer's connection.
    fn start(
        &self,
        writer: &Writer,
        key: Key,
        frames: Vec<Bytes>,
        on_ring: bool,
    ) -> io::Result<()> {
        if on_ring {
            return self.ring.write(writer.fd, frames, key);
        }
        let conn = writer.conn.clone();
        self.parked.borrow_mut().push(Box::pin(async move {
            let (result, frames) = conn.stream.write_once(frames).await;
            Written {
                token: key,
                result,
                frames,
            }
        }));
        Ok(())
    }

    /// A write failed: the connection ends.
    fn failed(&self, key: Key, error: &io::Error) {
        let Some(writer) = self.writers.borrow_mut().remove(key) else {
            return;
        };
        tracing::debug!(peer = %writer.conn.peer, %error, "write failed");
        writer.conn.outbound.close();
        writer.conn.stream.shutdown();
    }

    /// The queue is closed and drained, or the link cut: the writer ends.
    fn finish(&self, key: Key) {
        let Some(writer) = self.writers.borrow_mut().remove(key) else {
            return;
        };
        let conn = &writer.conn;
        if conn.is_aborted() || !conn.awaiting_close.get() {
            conn.stream.shutdown();
        }
    }
}
