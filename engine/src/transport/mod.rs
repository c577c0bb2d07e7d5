//! Transports: what runs on an accepted connection, by the kind of
//! transport it arrived on.

mod http;
mod rawsocket;
mod read_size;
mod testee;
mod universal;
mod web;
mod websocket;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_router::timers::TimerId;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{TransportConfig, TransportKind};
use crate::core::Core;
use crate::deflate::ConnectionCompressor;
use crate::figures::{CoreFigures, DropReason};
use crate::outbound::Outbound;
use crate::runtime::io::{Peer, Stream};
use crate::runtime::tls::TlsStream;

/// A connection: its stream, its outbound queue, and who is on the other
/// end. Shared by the connection's reader (the session) and writer task.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) outbound: Outbound,
    pub(crate) peer: Peer,
    /// A WebSocket closing handshake started by this side is under way: the
    /// reader, which waits for the peer's Close, ends the stream, not the
    /// writer.
    pub(crate) awaiting_close: Cell<bool>,
    /// The longest frame the peer accepts (a RawSocket peer announces its
    /// maximum message length in the handshake); unlimited until set.
    pub(crate) max_frame_bytes: Cell<usize>,
    /// The figures of the connection's core, which count what it reads,
    /// writes and is sent.
    pub(crate) figures: Arc<CoreFigures>,
    /// A session on it got WELCOME (until then a deadline runs).
    pub(crate) joined: Cell<bool>,
    /// When bytes last went either way (`limits.idle_timeout_ms`), on the
    /// runtime's clock (which the simulation drives).
    pub(crate) last_io: Cell<Instant>,
    /// The core's timers that watch this connection (`Timeout::Join`,
    /// `Timeout::Idle`), cancelled when it ends.
    pub(crate) deadlines: Cell<Deadlines>,
    /// Set when the connection compresses its own frames (WebSocket
    /// permessage-deflate with context takeover).
    pub(crate) compressor: Option<ConnectionCompressor>,
}

/// The timers of the core that watch one connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deadlines {
    /// Until its session joins.
    pub(crate) join: Option<TimerId>,
    /// While it is open, when an idle timeout is configured.
    pub(crate) idle: Option<TimerId>,
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
        Rc::new(Self {
            stream,
            outbound: Outbound::new(core.shared.flow.max_queued_bytes, core.queue_budget.clone()),
            peer,
            awaiting_close: Cell::new(false),
            max_frame_bytes: Cell::new(usize::MAX),
            figures: core.figures.clone(),
            joined: Cell::new(false),
            last_io: Cell::new(Instant::now()),
            deadlines: Cell::new(Deadlines::default()),
            compressor,
        })
    }

    /// Queues a frame the session must get (see [`Outbound::push`]),
    /// compressed when the connection compresses its own.
    pub(crate) fn push(&self, frame: Bytes) {
        match &self.compressor {
            Some(compressor) => self.outbound.push(compressor.compress(frame)),
            None => self.outbound.push(frame),
        }
    }

    /// Queues an event (see [`Outbound::push_event`]); a frame this
    /// connection compresses is compressed only once the queue takes it,
    /// judged by its uncompressed length.
    pub(crate) fn push_event(&self, frame: &Bytes) -> Result<(), DropReason> {
        match &self.compressor {
            Some(compressor) => self
                .outbound
                .push_event_with(frame.len(), || compressor.compress(frame.clone())),
            None => self.outbound.push_event(frame),
        }
    }

    /// Counts `n` bytes read from the peer.
    pub(crate) fn note_read(&self, n: usize) {
        self.figures.bytes_in.add(n as u64);
        self.last_io.set(Instant::now());
    }

    /// Whether the peer accepts a frame this long.
    pub(crate) fn accepts(&self, frame: &[u8]) -> bool {
        frame.len() <= self.max_frame_bytes.get()
    }

    /// Cuts the connection now, dropping whatever is queued.
    pub(crate) fn abort(&self) {
        self.outbound.close();
        self.stream.shutdown();
    }
}

/// Writes what the connection's queue holds until it is closed and drained,
/// then shuts the stream down (which also ends the reader).
pub(crate) async fn write_loop(conn: Rc<Connection>) {
    while let Some(batch) = conn.outbound.next_batch().await {
        let bytes: usize = batch.iter().map(bytes::Bytes::len).sum();
        if let Err(e) = conn.stream.write_all(batch).await {
            tracing::debug!(peer = %conn.peer, error = %e, "write failed");
            conn.outbound.close();
            conn.stream.shutdown();
            return;
        }
        conn.figures.bytes_out.add(bytes as u64);
        conn.last_io.set(Instant::now());
    }
    if !conn.awaiting_close.get() {
        conn.stream.shutdown();
    }
}

/// Queues a WebSocket Close frame with `code` and closes the queue.
pub(crate) fn websocket_close(conn: &Connection, code: ringbar_protocol::websocket::CloseCode) {
    websocket::send_close(conn, code, "");
}

/// Serves one accepted connection on `transport`, over TLS when `tls` is
/// set; `shutdown` turns true when the router stops (an idle HTTP
/// connection then closes at once).
pub(crate) async fn serve(
    core: Rc<Core>,
    transport: Rc<TransportConfig>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stream: Stream,
    peer: Peer,
    shutdown: watch::Receiver<bool>,
) {
    let _open = core.open_connection();
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
            websocket::serve(core.clone(), stream, peer, ws, None).await
        }
        TransportKind::RawSocket(rs) => {
            rawsocket::serve(core.clone(), stream, peer, rs, BytesMut::new()).await
        }
        TransportKind::WebSocketTestee(options) => {
            testee::serve(core.clone(), stream, peer, options).await
        }
        TransportKind::Web(web) => {
            web::serve(core.clone(), stream, peer, web, BytesMut::new(), shutdown).await
        }
        TransportKind::Universal(universal) => {
            universal::serve(core.clone(), stream, peer, universal, shutdown).await
        }
    }
}
