//! A core's ring for socket writes: every connection's write (one send of
//! all its buffers) goes in as one submission entry, a whole tick's writes enter the kernel
//! with one system call, and the completions are read straight off the
//! ring. No task is woken and no future polled per write: at a thousand
//! subscribers a write per connection per tick is most of the routing
//! work's system calls, and a task per connection woken for the write and
//! again for its completion cost about as much user time as the delivery
//! itself (more at 1 M events/s, less at 4 M; docs/BENCHMARKS.md).
//!
//! It is a second io_uring instance beside `tokio-uring`'s (which keeps
//! the reads): `tokio-uring` submits only when its core parks and reports a
//! completion only by waking the task that awaits it. The ring's file
//! descriptor sits in the core's epoll reactor, so a write that had to wait
//! for room (a slow peer) reports back like any readiness.
//!
//! The ring owns what a write reads from (the buffers and their iovecs)
//! from its submission until its completion: that is what makes the
//! kernel's access to them sound.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use bytes::Bytes;
use io_uring::{IoUring, opcode, types};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Submission queue entries: a tick's writes for this many connections
/// enter the kernel with one call (more take another call each). A speed
/// choice, not a bound on peers.
const ENTRIES: u32 = 1024;

/// Completion queue entries: a pass's completions read back without
/// entering the kernel again. Not a bound either: the kernel keeps what
/// the queue has no room for (`IORING_FEAT_NODROP`), and
/// [`WriteRing::completions`] fetches it.
const COMPLETIONS: u32 = 8192;

/// One finished write.
pub(crate) struct Written<T> {
    /// The token the write was started with.
    pub(crate) token: T,
    /// Bytes written, or why nothing was.
    pub(crate) result: io::Result<usize>,
    /// The buffers, back from the kernel.
    pub(crate) frames: Vec<Bytes>,
}

/// A write between its submission and its completion, and what it reads.
struct InFlight<T> {
    token: T,
    frames: Vec<Bytes>,
    /// The message header of a write of several buffers; read by the
    /// kernel only.
    _message: Option<Box<Message>>,
}

/// A `sendmsg` header and the iovecs it points to, at a fixed address.
struct Message {
    header: libc::msghdr,
    iovecs: Vec<libc::iovec>,
}

/// The ring and the writes it holds; `T` names a write's connection to
/// its caller.
pub(crate) struct WriteRing<T> {
    /// The ring, its descriptor in the core's reactor: readable while
    /// completions wait.
    ring: RefCell<AsyncFd<IoUring>>,
    /// Writes in flight by slot; the slot is the entry's `user_data`.
    writes: RefCell<Vec<Option<InFlight<T>>>>,
    free: RefCell<Vec<usize>>,
    in_flight: Cell<usize>,
    unsubmitted: Cell<usize>,
}

impl<T> WriteRing<T> {
    /// A ring on the current core; must be called inside its runtime.
    pub(crate) fn new() -> io::Result<Self> {
        Self::with_sizes(ENTRIES, COMPLETIONS)
    }

    /// A ring of `entries` submissions and `completions` completions.
    fn with_sizes(entries: u32, completions: u32) -> io::Result<Self> {
        let ring = IoUring::builder()
            .setup_cqsize(completions)
            .build(entries)?;
        // SAFETY: the descriptor is the ring's own, which the `AsyncFd`
        // owns: it stays open, and the same, for as long as the `AsyncFd`.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self {
            ring: RefCell::new(ring),
            writes: RefCell::default(),
            free: RefCell::default(),
            in_flight: Cell::new(0),
            unsubmitted: Cell::new(0),
        })
    }

    /// Queues a send of `frames` (at most `IOV_MAX`, none empty), in
    /// order, to the socket `fd`; it enters the kernel with the next [`WriteRing::submit`]
    /// (or now, when the submission queue is full). `fd` must stay open
    /// until the write completes. An error (the kernel took none of a full
    /// queue) means the write did not start.
    pub(crate) fn write(&self, fd: RawFd, frames: Vec<Bytes>, token: T) -> io::Result<()> {
        if self.ring.borrow_mut().get_mut().submission().is_full() {
            self.enter()?;
            if self.ring.borrow_mut().get_mut().submission().is_full() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let slot = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut writes = self.writes.borrow_mut();
            writes.push(None);
            writes.len() - 1
        });
        let (entry, message) = send_entry(types::Fd(fd), &frames);
        let entry = entry.user_data(slot as u64);
        // Moving the buffers' handles and the boxed header into the slot
        // keeps what they point to where it is: the pointers in `entry`
        // stay valid.
        if let Some(place) = self.writes.borrow_mut().get_mut(slot) {
            *place = Some(InFlight {
                token,
                frames,
                _message: message,
            });
        }
        // SAFETY: the entry reads the buffers, and the header and iovecs of
        // a `sendmsg`; all are owned by the slot `user_data` names, which is
        // emptied only when the ring hands back this entry's completion
        // (`completions`), or never (`Drop`). There is room: checked above.
        if unsafe { self.ring.borrow_mut().get_mut().submission().push(&entry) }.is_err() {
            if let Some(place) = self.writes.borrow_mut().get_mut(slot) {
                *place = None;
            }
            self.free.borrow_mut().push(slot);
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.unsubmitted.set(self.unsubmitted.get() + 1);
        Ok(())
    }

    /// Whether writes wait to be submitted.
    pub(crate) fn has_unsubmitted(&self) -> bool {
        self.unsubmitted.get() > 0
    }

    /// Hands the queued writes to the kernel. Those with room in their
    /// socket are done when this returns (their completions wait in the
    /// ring); the others complete when their peer reads.
    pub(crate) fn submit(&self) -> io::Result<()> {
        if !self.has_unsubmitted() {
            return Ok(());
        }
        self.enter()
    }

    fn enter(&self) -> io::Result<()> {
        loop {
            let submitted = self.ring.borrow().get_ref().submit();
            match submitted {
                Ok(taken) => {
                    let left = self.ring.borrow_mut().get_mut().submission().len();
                    self.unsubmitted.set(left);
                    // The kernel stops at an entry it cannot take; the next
                    // call goes on from there.
                    if left == 0 || taken == 0 {
                        return Ok(());
                    }
                }
                // Completions the kernel could not post yet (`EBUSY`): the
                // caller's next `completions` makes room, and the entries
                // left go in with the next call.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves every completion waiting in the ring into `into`, with those
    /// the kernel kept aside while the completion queue was full.
    pub(crate) fn completions(&self, into: &mut Vec<Written<T>>) {
        loop {
            self.take_completions(into);
            let mut ring = self.ring.borrow_mut();
            let ring = ring.get_mut();
            if !ring.submission().cq_overflow() {
                return;
            }
            // Entering moves what the kernel kept into the queue (and
            // submits what waits, if anything does).
            let entered = ring.submit();
            let left = ring.submission().len();
            self.unsubmitted.set(left);
            if let Err(e) = entered
                && e.kind() != io::ErrorKind::Interrupted
            {
                tracing::warn!(error = %e, "the write ring kept completions it could not hand back");
                return;
            }
        }
    }

    /// Moves the completions in the ring's completion queue into `into`.
    fn take_completions(&self, into: &mut Vec<Written<T>>) {
        let mut ring = self.ring.borrow_mut();
        let ring = ring.get_mut();
        let mut writes = self.writes.borrow_mut();
        let mut free = self.free.borrow_mut();
        for entry in ring.completion() {
            let Ok(slot) = usize::try_from(entry.user_data()) else {
                continue;
            };
            let Some(write) = writes.get_mut(slot).and_then(Option::take) else {
                continue;
            };
            free.push(slot);
            self.in_flight.set(self.in_flight.get() - 1);
            let result = entry.result();
            into.push(Written {
                token: write.token,
                result: usize::try_from(result)
                    .map_err(|_| io::Error::from_raw_os_error(result.saturating_neg())),
                frames: write.frames,
            });
        }
    }

    /// `Ready` when completions may wait in the ring (read them with
    /// [`WriteRing::completions`]), else `Pending` with `cx` woken by the
    /// next completion. With no write in flight it is `Pending` at once and
    /// wakes nothing: the pass that starts a write reads its completion
    /// (`completions`) and polls this again after.
    pub(crate) fn poll_completions(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.in_flight.get() == 0 {
            return Poll::Pending;
        }
        match self.ring.borrow().poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                guard.clear_ready();
                Poll::Ready(())
            }
            // The reactor lost the descriptor (its runtime is stopping):
            // look at the ring anyway.
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The entry that sends `frames` to `fd`, and the header it points to
/// when there are several. Not a `writev`: that takes the file write path
/// (its `fsnotify` hook alone was 4 % of a core at 4 M events/s), where a
/// send goes straight to the socket. `MSG_NOSIGNAL`: a peer gone is an
/// error of this write, not a signal.
fn send_entry(fd: types::Fd, frames: &[Bytes]) -> (io_uring::squeue::Entry, Option<Box<Message>>) {
    let flags = libc::MSG_NOSIGNAL;
    if let [frame] = frames {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(fd, frame.as_ptr(), len).flags(flags);
        return (entry.build(), None);
    }
    let iovecs: Vec<libc::iovec> = frames
        .iter()
        .map(|frame| libc::iovec {
            iov_base: frame.as_ptr().cast_mut().cast(),
            iov_len: frame.len(),
        })
        .collect();
    // SAFETY: `msghdr` is plain data (pointers and integers); all zeros is
    // the empty header, no address and no control data.
    let header: libc::msghdr = unsafe { std::mem::zeroed() };
    let mut message = Box::new(Message { header, iovecs });
    message.header.msg_iov = message.iovecs.as_mut_ptr();
    message.header.msg_iovlen = message.iovecs.len();
    let entry = opcode::SendMsg::new(fd, &raw const message.header).flags(flags as u32);
    (entry.build(), Some(message))
}

impl<T> Drop for WriteRing<T> {
    /// The kernel may still read the buffers of writes in flight (their
    /// peers read nothing) after the ring's descriptor closes: those
    /// buffers are leaked, not freed under it. It happens only when a core
    /// stops with writes waiting on a peer.
    fn drop(&mut self) {
        for write in self.writes.get_mut().drain(..).flatten() {
            std::mem::forget(write);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn completed(ring: &WriteRing<u32>) -> Vec<(u32, usize)> {
        let mut done = Vec::new();
        ring.completions(&mut done);
        done.into_iter()
            .map(|w| (w.token, w.result.expect("the send succeeds")))
            .collect()
    }

    /// More sends than the completion queue holds: every completion still
    /// comes back from one `completions` call, none left with the kernel.
    #[test]
    fn completions_beyond_the_queue_come_back_too() {
        tokio_uring::start(async {
            let (ours, theirs) = UnixStream::pair().expect("a socket pair");
            let ring = WriteRing::with_sizes(8, 16).expect("a ring");
            for token in 0..64 {
                ring.write(ours.as_raw_fd(), vec![Bytes::from_static(b"x")], token)
                    .expect("queued");
            }
            ring.submit().expect("submitted");
            let mut tokens: Vec<u32> = completed(&ring).into_iter().map(|(t, _)| t).collect();
            tokens.sort_unstable();
            assert_eq!(tokens, (0..64).collect::<Vec<_>>());
            drop(ours);
            let mut got = Vec::new();
            let mut theirs = theirs;
            theirs.read_to_end(&mut got).expect("read");
            assert_eq!(got.len(), 64);
        });
    }

    /// One buffer (a send), several (a sendmsg), and one that must wait
    /// for the peer to read: each completes once, with its token, and the
    /// peer reads every byte in order.
    #[test]
    fn sends_complete_in_order_at_once_or_when_the_peer_reads() {
        tokio_uring::start(async {
            let (ours, theirs) = UnixStream::pair().expect("a socket pair");
            let fd = ours.as_raw_fd();
            let ring = WriteRing::new().expect("a ring");
            let large: Bytes = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
            ring.write(fd, vec![Bytes::from_static(b"x")], 1)
                .expect("queued");
            ring.write(
                fd,
                vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")],
                2,
            )
            .expect("queued");
            assert!(ring.has_unsubmitted());
            ring.submit().expect("submitted");
            assert_eq!(completed(&ring), vec![(1, 1), (2, 4)], "done at once");

            // More than the socket holds: the first send takes what fits.
            ring.write(fd, vec![large.clone()], 3).expect("queued");
            ring.submit().expect("submitted");
            let [(3, first)] = completed(&ring)[..] else {
                panic!("the first send is done at once");
            };
            assert!(first < large.len(), "a short send");
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut theirs = theirs;
                theirs.read_to_end(&mut got).expect("read");
                got
            });
            // The rest waits for room, which the reader makes.
            ring.write(fd, vec![large.slice(first..)], 4)
                .expect("queued");
            ring.submit().expect("submitted");
            let mut sent = first;
            while sent < large.len() {
                poll_fn(|cx| ring.poll_completions(cx)).await;
                for (token, n) in completed(&ring) {
                    sent += n;
                    if sent < large.len() {
                        ring.write(fd, vec![large.slice(sent..)], token + 1)
                            .expect("queued");
                        ring.submit().expect("submitted");
                    }
                }
            }
            drop(ours);
            let got = reader.join().expect("the reader ends");
            assert_eq!(&got[..5], b"xabcd");
            assert!(got[5..] == large[..], "every byte, in order");
        });
    }
}
