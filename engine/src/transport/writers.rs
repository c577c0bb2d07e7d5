//! The writer of every plain (not TLS) connection of an io_uring core, in
//! one place: routing lists the queues that got frames
//! ([`ReadyQueues`]), and one pass takes each listed queue's batch, puts
//! its write on the core's [`WriteRing`], enters the kernel once, and
//! reads the completions back. What [`write_loop`](super::write_loop)
//! does with a task per connection, woken for each write and again for
//! its completion, this does with a list and a ring: at 1,000 subscribers
//! that was the largest user-space cost left on the publish path
//! (docs/BENCHMARKS.md).
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
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
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

/// One core's writers: its connections, the list of those with frames,
/// and the ring their writes go through.
struct Writers {
    core: Rc<Core>,
    ring: WriteRing<Key>,
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
    /// Writes what is listed, then waits for the list or the ring.
    async fn run(self: Rc<Self>) {
        let mut keys = Vec::new();
        let mut done = Vec::new();
        loop {
            self.flush(&mut keys, &mut done);
            poll_fn(|cx| {
                let listed = self.ready.poll_listed(cx).is_ready();
                let completed = self.ring.poll_completions(cx).is_ready();
                if listed || completed {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// One pass: starts the listed queues' writes, submits them, and
    /// handles what completed, until neither brings more to do.
    fn flush(&self, keys: &mut Vec<Key>, done: &mut Vec<Written<Key>>) {
        loop {
            self.ready.take(keys);
            for &key in keys.iter() {
                self.next_write(key);
            }
            if let Err(e) = self.ring.submit() {
                tracing::error!(core = self.core.id, error = %e, "the write ring refused its submissions");
                return;
            }
            self.ring.completions(done);
            if done.is_empty() && self.ready.is_empty() {
                return;
            }
            for written in done.drain(..) {
                self.written(written);
            }
        }
    }

    /// Starts the connection's next write when none is in flight, or ends
    /// its writer when its queue is closed and drained.
    fn next_write(&self, key: Key) {
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
                let bytes = frames.iter().map(Bytes::len).sum();
                match self.ring.write(writer.fd, frames, key) {
                    Ok(()) => writer.writing = Some(bytes),
                    Err((e, _)) => {
                        drop(writers);
                        self.failed(key, &e);
                    }
                }
            }
            Next::Done => {
                drop(writers);
                self.finish(key);
            }
        }
    }

    /// A write came back: it goes on where it stopped, or the batch is
    /// counted and the next one starts.
    fn written(&self, written: Written<Key>) {
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
            if let Err((e, _)) = self.ring.write(writer.fd, frames, key) {
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
        self.next_write(key);
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
