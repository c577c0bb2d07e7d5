//! The I/O seam: listeners and streams over io_uring (`tokio-uring`) or
//! epoll (tokio), behind two small enums. Nothing outside `runtime` names
//! either backend.
//!
//! Both backends run on a single-threaded tokio runtime, so connection tasks
//! are spawned with `tokio::task::spawn_local` either way, and a stream is
//! shared by its reader and writer task through `Rc` (every operation takes
//! `&self`).

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::task::Poll;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::Interest;
use tokio_uring::buf::BoundedBuf;

use ringbar_router::local::outbound::MAX_IOVECS;
use ringbar_router::local::peer::Peer;

/// A connected stream.
pub(crate) enum Stream {
    /// TCP on io_uring.
    UringTcp(tokio_uring::net::TcpStream),
    /// Unix socket on io_uring.
    UringUnix(tokio_uring::net::UnixStream),
    /// TCP on epoll.
    Tcp(tokio::net::TcpStream),
    /// Unix socket on epoll.
    Unix(tokio::net::UnixStream),
    /// TLS over one of the others.
    Tls(Box<super::tls::TlsStream>),
}

impl Stream {
    /// What authentication may know of this stream's channel.
    pub(crate) fn auth_channel(&self) -> ringbar_router::auth::Channel {
        match self {
            Stream::Tls(tls) => ringbar_router::auth::Channel {
                client_certificate_sha1: tls.client_certificate_sha1(),
                is_tls: true,
                tls_exporter: tls.tls_exporter(),
            },
            _ => ringbar_router::auth::Channel::default(),
        }
    }

    /// Reads once, appending to `buf` (grown to at least `min_spare` bytes
    /// of spare capacity first). `Ok(0)` is end of stream.
    pub(crate) async fn read(
        &self,
        mut buf: BytesMut,
        min_spare: usize,
    ) -> (io::Result<usize>, BytesMut) {
        if buf.capacity() - buf.len() < min_spare {
            buf.reserve(min_spare);
        }
        match self {
            // tokio-uring reads into a buffer from its start: hand it the
            // spare capacity only, so bytes already buffered (a partial
            // frame) are kept.
            Stream::UringTcp(s) => {
                submit_after_writes().await;
                let from = buf.len();
                let (r, slice) = s.read(buf.slice(from..)).await;
                (r, slice.into_inner())
            }
            Stream::UringUnix(s) => {
                submit_after_writes().await;
                let from = buf.len();
                let (r, slice) = s.read(buf.slice(from..)).await;
                (r, slice.into_inner())
            }
            Stream::Tcp(s) => {
                let forget = || drop(s.try_io(Interest::READABLE, would_block));
                let r = read_ready(|b| s.try_read_buf(b), || s.readable(), forget, &mut buf).await;
                (r, buf)
            }
            Stream::Unix(s) => {
                let forget = || drop(s.try_io(Interest::READABLE, would_block));
                let r = read_ready(|b| s.try_read_buf(b), || s.readable(), forget, &mut buf).await;
                (r, buf)
            }
            Stream::Tls(s) => {
                let r = s.read(&mut buf, min_spare).await;
                (r, buf)
            }
        }
    }

    /// Writes every byte of `frames`, with as few vectored writes as the
    /// kernel allows.
    pub(crate) async fn write_all(&self, mut frames: Vec<Bytes>) -> io::Result<()> {
        if let Stream::Tls(s) = self {
            return s.write_all(frames).await;
        }
        frames.retain(|f| !f.is_empty());
        while !frames.is_empty() {
            let (result, rest) = self.write_once(frames).await;
            frames = rest;
            let written = result?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            advance(&mut frames, written);
        }
        Ok(())
    }

    /// The descriptor a core's write ring writes to: a plain socket on
    /// io_uring. TLS writes go through rustls, epoll's through tokio.
    pub(crate) fn ring_fd(&self) -> Option<RawFd> {
        match self {
            Stream::UringTcp(s) => Some(s.as_raw_fd()),
            Stream::UringUnix(s) => Some(s.as_raw_fd()),
            Stream::Tcp(_) | Stream::Unix(_) | Stream::Tls(_) => None,
        }
    }

    /// One vectored write of `frames` (not TLS): how many bytes it took.
    pub(crate) async fn write_once(&self, frames: Vec<Bytes>) -> (io::Result<usize>, Vec<Bytes>) {
        match self {
            Stream::UringTcp(s) => s.writev(frames).await,
            Stream::UringUnix(s) => s.writev(frames).await,
            Stream::Tcp(s) => {
                let r = write_ready(|io| s.try_write_vectored(io), || s.writable(), &frames).await;
                (r, frames)
            }
            Stream::Unix(s) => {
                let r = write_ready(|io| s.try_write_vectored(io), || s.writable(), &frames).await;
                (r, frames)
            }
            Stream::Tls(_) => (Err(io::ErrorKind::Unsupported.into()), frames),
        }
    }

    /// Shuts down both directions, so a pending read on the other task ends.
    pub(crate) fn shutdown(&self) {
        let how = std::net::Shutdown::Both;
        let _ = match self {
            Stream::UringTcp(s) => s.shutdown(how),
            Stream::UringUnix(s) => s.shutdown(how),
            Stream::Tcp(s) => socket2::SockRef::from(s).shutdown(how),
            Stream::Unix(s) => socket2::SockRef::from(s).shutdown(how),
            Stream::Tls(s) => {
                s.shutdown();
                Ok(())
            }
        };
    }
}

/// Drops the first `written` bytes of `frames`: the buffers written whole,
/// and the front of a partly written one.
pub(crate) fn advance(frames: &mut Vec<Bytes>, mut written: usize) {
    let mut done = 0;
    for frame in frames.iter_mut() {
        if written >= frame.len() {
            written -= frame.len();
            done += 1;
        } else {
            frame.advance(written);
            break;
        }
    }
    frames.drain(..done);
}

/// Lets the tasks already woken run first, so that a read queued now
/// goes after the writes of what this connection just routed. io_uring
/// runs a socket read as soon as it is submitted, in queue order: queued
/// before the writes it would take only what arrived before them, and
/// what arrives while they run (milliseconds, when a publication goes to
/// thousands of subscribers) would wait for a read one tick later, after
/// the next tick's writes too: two ticks of delay where epoll has one.
/// The task goes to the back of the core's run queue and comes back in
/// the same tick (tokio's `yield_now` would wait past the next park: an
/// extra round of system calls per tick).
async fn submit_after_writes() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// What tells tokio's `try_io` that a drained socket is not ready: it
/// clears the readiness it cached, without a system call, so the next read
/// waits for epoll's next edge instead of first trying a `recv` that can
/// only say `EAGAIN` (half of all reads under RPC load).
fn would_block() -> io::Result<()> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// Reads once into `buf` when the socket is ready. A read that fills less
/// than the room it had left the socket's receive queue empty (a stream
/// socket hands over all it holds, up to the room): then
/// `forget_readiness` clears the readiness tokio cached, so the next read
/// waits for epoll's next edge.
async fn read_ready<R, F>(
    mut try_read: impl FnMut(&mut BytesMut) -> io::Result<usize>,
    ready: impl Fn() -> F,
    forget_readiness: impl FnOnce(),
    buf: &mut BytesMut,
) -> io::Result<usize>
where
    F: Future<Output = io::Result<R>>,
{
    let room = buf.capacity() - buf.len();
    loop {
        match try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready().await?;
            }
            Ok(n) if n < room => {
                forget_readiness();
                return Ok(n);
            }
            other => return other,
        }
    }
}

async fn write_ready<R, F>(
    try_write: impl Fn(&[IoSlice<'_>]) -> io::Result<usize>,
    ready: impl Fn() -> F,
    frames: &[Bytes],
) -> io::Result<usize>
where
    F: Future<Output = io::Result<R>>,
{
    let slices: Vec<IoSlice<'_>> = frames
        .iter()
        .take(MAX_IOVECS)
        .map(|f| IoSlice::new(f))
        .collect();
    loop {
        match try_write(&slices) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready().await?;
            }
            other => return other,
        }
    }
}

/// A listening socket.
pub(crate) enum Listener {
    /// TCP on io_uring.
    UringTcp(tokio_uring::net::TcpListener),
    /// TCP on epoll.
    Tcp(tokio::net::TcpListener),
    /// Unix socket on epoll.
    Unix(tokio::net::UnixListener),
}

impl Listener {
    /// Wraps bound, listening std sockets for `backend`'s runtime; must be
    /// called on the core thread, inside its runtime.
    pub(crate) fn from_std(socket: BoundSocket, uring: bool) -> io::Result<Self> {
        Ok(match (socket, uring) {
            (BoundSocket::Tcp(l), true) => {
                Listener::UringTcp(tokio_uring::net::TcpListener::from_std(l))
            }
            (BoundSocket::Tcp(l), false) => {
                l.set_nonblocking(true)?;
                Listener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            (BoundSocket::Unix(l), true) => {
                // tokio-uring has no from_std for Unix listeners: accept
                // through tokio's reactor, which the uring runtime also runs.
                l.set_nonblocking(true)?;
                Listener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
            (BoundSocket::Unix(l), false) => {
                l.set_nonblocking(true)?;
                Listener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        })
    }

    /// Accepts one connection.
    pub(crate) async fn accept(&self, uring: bool) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::UringTcp(l) => {
                let (s, addr) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Stream::UringTcp(s), Peer::Tcp(addr)))
            }
            Listener::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Stream::Tcp(s), Peer::Tcp(addr)))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                if uring {
                    let std = s.into_std()?;
                    Ok((
                        Stream::UringUnix(tokio_uring::net::UnixStream::from_std(std)),
                        Peer::Unix,
                    ))
                } else {
                    Ok((Stream::Unix(s), Peer::Unix))
                }
            }
        }
    }
}

/// A socket bound and listening, before a runtime owns it.
pub(crate) enum BoundSocket {
    /// TCP.
    Tcp(std::net::TcpListener),
    /// Unix.
    Unix(std::os::unix::net::UnixListener),
}
