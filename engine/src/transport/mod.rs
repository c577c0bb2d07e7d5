//! Transports: what runs on an accepted connection, by the kind of
//! transport it arrived on.

mod http;
mod rawsocket;
mod read_size;
mod testee;
mod universal;
mod web;
mod websocket;
pub(crate) mod writers;

use std::cell::Cell;
use std::future::poll_fn;
use std::ops::Deref;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::watch;

use crate::config::{TransportConfig, TransportKind};
use ringbar_router::core::Core;
use ringbar_router::wire::deflate::ConnectionCompressor;

use crate::runtime::io::Stream;
use crate::runtime::limit::Admission;
use crate::runtime::tls::TlsStream;
use ringbar_router::core::ConnectionGuard;
use ringbar_router::local::link::Link;
use ringbar_router::local::peer::Peer;

/// A connection: its stream, and the routing side of it (its [`Link`]:
/// the outbound queue, who is on the other end, what routing may ask of
/// it). Shared by the connection's reader (the session) and writer task;
/// routing holds only the link.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) link: Rc<Link>,
    /// A WebSocket closing handshake started by this side is under way: the
    /// reader, which waits for the peer's Close, ends the stream, not the
    /// writer.
    pub(crate) awaiting_close: Cell<bool>,
}

impl Deref for Connection {
    type Target = Link;

    fn deref(&self) -> &Link {
        &self.link
    }
}

impl Connection {
    /// A connection on `core`, with an empty queue under the core's flow
    /// control.
    pub(crate) fn new(stream: Stream, peer: Peer, core: &Core) -> Rc<Self> {
        Self::with_compressor(stream, peer, core, None)
    }

    /// Like [`Connection::new`], compressing every data frame queued with
    /// `compressor`.
    pub(crate) fn with_compressor(
        stream: Stream,
        peer: Peer,
        core: &Core,
        compressor: Option<ConnectionCompressor>,
    ) -> Rc<Self> {
        let channel = stream.auth_channel();
        Rc::new(Self {
            stream,
            link: Rc::new(core.link(peer, channel, compressor)),
            awaiting_close: Cell::new(false),
        })
    }

    /// Cuts the connection now, dropping whatever is queued: the driver's
    /// own abort, which does not wait for the writer to notice.
    pub(crate) fn abort(&self) {
        self.link.abort();
        self.stream.shutdown();
    }
}

/// Starts the writer of `conn`: its core's writers when they take it
/// (plain sockets on io_uring), else a task of its own.
pub(crate) fn spawn_writer(core: Rc<Core>, conn: Rc<Connection>) {
    if let Err(conn) = writers::attach(conn) {
        tokio::task::spawn_local(write_loop(core, conn));
    }
}

/// Writes what the connection's queue holds until it is closed and drained,
/// or routing cuts the link, then shuts the stream down (which also ends
/// the reader).
async fn write_loop(core: Rc<Core>, conn: Rc<Connection>) {
    while let Some(batch) = poll_fn(|cx| conn.outbound.poll_next_batch(cx)).await {
        // Routing cut the link: what is queued is dropped.
        if conn.link.is_aborted() {
            break;
        }
        let bytes: usize = batch.iter().map(bytes::Bytes::len).sum();
        // Routing may cut the link while a write waits on a slow peer.
        let write = pin!(conn.stream.write_all(batch));
        let Some(written) = conn.link.unless_aborted(write).await else {
            break;
        };
        if let Err(e) = written {
            tracing::debug!(peer = %conn.peer, error = %e, "write failed");
            conn.outbound.close();
            conn.stream.shutdown();
            return;
        }
        conn.figures.bytes_out.add(bytes as u64);
        conn.last_io.set(core.now());
    }
    if conn.link.is_aborted() || !conn.awaiting_close.get() {
        conn.stream.shutdown();
    }
}

/// What keeps an accepted connection counted (under the connection caps
/// and among the core's open connections) for as long as any task of it
/// runs: it moves to the task that serves the connection last (a
/// WebSocket session's own task, once the HTTP upgrade is done).
pub(crate) struct Ticket {
    _admission: (Admission, Admission),
    _open: ConnectionGuard,
}

/// Serves one accepted connection on `transport`, over TLS when `tls` is
/// set, holding its place under the caps (`admission`) until it ends;
/// `shutdown` turns true when the router stops (an idle HTTP connection
/// then closes at once).
pub(crate) async fn serve(
    core: Rc<Core>,
    transport: Rc<TransportConfig>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stream: Stream,
    peer: Peer,
    shutdown: watch::Receiver<bool>,
    admission: (Admission, Admission),
) {
    let ticket = Ticket {
        _admission: admission,
        _open: core.open_connection(),
    };
    let stream = match tls {
        None => stream,
        Some(config) => {
            let timeout = Duration::from_millis(core.shared.limits.handshake_timeout_ms);
            match tokio::time::timeout(timeout, TlsStream::accept(stream, config)).await {
                Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                Ok(Err(e)) => {
                    tracing::info!(%peer, transport = %transport.id, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, transport = %transport.id, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    match &transport.kind {
        TransportKind::WebSocket(ws) => {
            websocket::serve(core.clone(), stream, peer, ws, None, ticket).await
        }
        TransportKind::RawSocket(rs) => {
            rawsocket::serve(core.clone(), stream, peer, rs, BytesMut::new()).await
        }
        TransportKind::WebSocketTestee(options) => {
            testee::serve(core.clone(), stream, peer, options).await
        }
        TransportKind::Web(web) => {
            web::serve(
                core.clone(),
                stream,
                peer,
                web,
                BytesMut::new(),
                shutdown,
                ticket,
            )
            .await
        }
        TransportKind::Universal(universal) => {
            universal::serve(core.clone(), stream, peer, universal, shutdown, ticket).await
        }
    }
}
