//! The reference server's event loop: one thread, edge-triggered epoll
//! (mio). Each tick reads every ready connection to the end, lets the
//! router handle what came, then writes each connection that has frames
//! queued with one `write`: a publication's events leave in the same tick,
//! and a subscriber with many queued events gets them in one system call.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};

use bytes::Buf;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::link::Closing;
use super::router::Router;
use crate::target::Transport;

/// The listener's token; connections use their slot number.
const LISTENER: Token = Token(usize::MAX);
/// Bytes one `read` asks for: a tick's PUBLISHes or CALLs in few calls.
const READ_BYTES: usize = 256 * 1024;
/// Readiness events taken per `epoll_wait`.
const EVENTS: usize = 1024;

/// Where to listen and what to speak there.
#[derive(Debug, Clone)]
pub(crate) struct Listen {
    /// `host:port`.
    pub(crate) authority: String,
    /// WebSocket or RawSocket.
    pub(crate) transport: Transport,
    /// The WebSocket path.
    pub(crate) path: String,
}

/// The listening server, bound and not yet serving.
pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    listen: Listen,
    streams: Vec<Option<TcpStream>>,
    free: Vec<usize>,
    router: Router,
    read_buf: Vec<u8>,
}

impl Server {
    /// Binds `listen.authority` (with `SO_REUSEADDR` and a backlog of
    /// 1,024, mio's default, so a thousand subscribers may connect at once).
    pub(crate) fn bind(listen: Listen) -> io::Result<Self> {
        let address: SocketAddr = listen
            .authority
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other(format!("{}: no address", listen.authority)))?;
        let mut listener = TcpListener::bind(address)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Self {
            poll,
            listener,
            listen,
            streams: Vec::new(),
            free: Vec::new(),
            router: Router::default(),
            read_buf: vec![0; READ_BYTES],
        })
    }

    /// The address it listens on (the port the kernel chose for port 0).
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process is stopped.
    pub(crate) fn serve(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS);
        let mut pending = Vec::new();
        loop {
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept()?,
                    Token(peer) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(peer);
                        }
                        if event.is_writable() {
                            self.router.queue(peer);
                        }
                    }
                }
            }
            self.router.take_pending(&mut pending);
            for &peer in &pending {
                self.write(peer);
            }
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // Out of descriptors, or a connection reset before it was
                // taken: the listener itself is fine.
                Err(e) => {
                    eprintln!("reference-server: accept: {e}");
                    return Ok(());
                }
            };
            stream.set_nodelay(true)?;
            let peer = self.free.pop().unwrap_or(self.streams.len());
            // Readable and writable, edge-triggered, for the connection's
            // life: no re-registration per write.
            self.poll.registry().register(
                &mut stream,
                Token(peer),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            if self.streams.len() <= peer {
                self.streams.resize_with(peer + 1, || None);
            }
            if let Some(slot) = self.streams.get_mut(peer) {
                *slot = Some(stream);
            }
            self.router
                .open(peer, self.listen.transport, &self.listen.path);
        }
    }

    /// Reads until the socket has nothing more (edge-triggered), handing
    /// each read to the router.
    fn read(&mut self, peer: usize) {
        loop {
            let Some(stream) = self.streams.get_mut(peer).and_then(Option::as_mut) else {
                return;
            };
            let n = match stream.read(&mut self.read_buf) {
                Ok(0) => return self.close(peer),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Reset by a load generator that is done: nothing to report.
                Err(_) => return self.close(peer),
            };
            let Some(buf) = self.router.read_buf(peer) else {
                return;
            };
            buf.extend_from_slice(self.read_buf.get(..n).unwrap_or_default());
            if let Err(closing) = self.router.process(peer) {
                if let Closing::Error(reason) = closing {
                    eprintln!("reference-server: closing a connection: {reason}");
                }
                return;
            }
        }
    }

    /// Writes what `peer` has queued; closes it when its link has ended.
    fn write(&mut self, peer: usize) {
        let Some(stream) = self.streams.get_mut(peer).and_then(Option::as_mut) else {
            return;
        };
        let Some(out) = self.router.out(peer) else {
            return;
        };
        while !out.is_empty() {
            match stream.write(out) {
                Ok(n) => out.advance(n),
                // Its WRITABLE edge queues it again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(peer),
            }
        }
        if self.router.is_closed(peer) {
            self.close(peer);
        }
    }

    fn close(&mut self, peer: usize) {
        self.router.close(peer);
        if let Some(mut stream) = self.streams.get_mut(peer).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut stream);
            self.free.push(peer);
        }
    }
}
