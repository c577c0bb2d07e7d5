//! The reference server's event loop: one thread, edge-triggered epoll
//! (mio). Each tick reads at most [`READ_BYTES`] from every ready
//! connection, lets the router handle what came, then writes each
//! connection that has frames queued with one `write`: a publication's
//! events leave in the same tick, and a subscriber with many queued events
//! gets them in one system call. The read bound keeps a publisher that
//! sends faster than the server routes from holding the loop in its reads
//! forever, with nothing written; a connection whose socket refused a
//! write is not tried again until its writable edge.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Buf;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::link::Closing;
use super::router::Router;
use crate::target::Transport;

/// The listener's token; connections use their slot number.
const LISTENER: Token = Token(usize::MAX);
/// Bytes read from one connection per tick (one `read`): many PUBLISHes
/// or CALLs per system call, few enough that the tick's writes follow soon.
const READ_BYTES: usize = 64 * 1024;
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

/// A connection's socket, and whether it refused the last write.
struct Connection {
    stream: TcpStream,
    blocked: bool,
}

/// The listening server, bound and not yet serving.
pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    listen: Listen,
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// Connections that may have more to read than the last tick took.
    unread: Vec<usize>,
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
            connections: Vec::new(),
            free: Vec::new(),
            unread: Vec::new(),
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
        let mut readable = Vec::new();
        loop {
            // Data left unread last tick gives no new edge: do not wait then.
            let timeout = (!self.unread.is_empty()).then_some(Duration::ZERO);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            readable.clear();
            readable.append(&mut self.unread);
            for event in &events {
                match event.token() {
                    LISTENER => self.accept()?,
                    Token(peer) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            readable.push(peer);
                        }
                        if event.is_writable() {
                            if let Some(connection) = self.connection(peer) {
                                connection.blocked = false;
                            }
                            self.router.queue(peer);
                        }
                    }
                }
            }
            readable.sort_unstable();
            readable.dedup();
            for &peer in &readable {
                self.read(peer);
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
            let peer = self.free.pop().unwrap_or(self.connections.len());
            // Readable and writable, edge-triggered, for the connection's
            // life: no re-registration per write.
            self.poll.registry().register(
                &mut stream,
                Token(peer),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            if self.connections.len() <= peer {
                self.connections.resize_with(peer + 1, || None);
            }
            if let Some(slot) = self.connections.get_mut(peer) {
                *slot = Some(Connection {
                    stream,
                    blocked: false,
                });
            }
            self.router
                .open(peer, self.listen.transport, &self.listen.path);
        }
    }

    /// One read from `peer`, handed to the router; `peer` is read again
    /// next tick when the read filled the buffer (more may be waiting).
    fn read(&mut self, peer: usize) {
        let Some(connection) = self.connections.get_mut(peer).and_then(Option::as_mut) else {
            return;
        };
        let n = loop {
            match connection.stream.read(&mut self.read_buf) {
                Ok(0) => return self.close(peer),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Reset by a load generator that is done: nothing to report.
                Err(_) => return self.close(peer),
            }
        };
        let Some(buf) = self.router.read_buf(peer) else {
            return;
        };
        buf.extend_from_slice(self.read_buf.get(..n).unwrap_or_default());
        match self.router.process(peer) {
            Ok(()) if n == self.read_buf.len() => self.unread.push(peer),
            Ok(()) => {}
            Err(Closing::ByPeer) => {}
            Err(Closing::Error(reason)) => {
                eprintln!("reference-server: closing a connection: {reason}");
            }
        }
    }

    /// Writes what `peer` has queued, unless its socket refused the last
    /// write and has not become writable since; closes it when its link
    /// has ended.
    fn write(&mut self, peer: usize) {
        let Some(connection) = self.connections.get_mut(peer).and_then(Option::as_mut) else {
            return;
        };
        let Some(out) = self.router.out(peer) else {
            return;
        };
        while !out.is_empty() && !connection.blocked {
            match connection.stream.write(out) {
                Ok(n) => out.advance(n),
                // Its writable edge queues it again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => connection.blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(peer),
            }
        }
        if self.router.is_closed(peer) {
            self.close(peer);
        }
    }

    fn connection(&mut self, peer: usize) -> Option<&mut Connection> {
        self.connections.get_mut(peer).and_then(Option::as_mut)
    }

    fn close(&mut self, peer: usize) {
        self.router.close(peer);
        if let Some(mut connection) = self.connections.get_mut(peer).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut connection.stream);
            self.free.push(peer);
        }
    }
}
