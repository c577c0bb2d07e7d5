//! WAMP over WebSocket: the opening handshake (origin, subprotocol), then
//! frames in, WAMP messages to the session, frames out through the
//! connection's queue; pings, the close handshake, and dead-peer detection.

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::batch::{self, Batch, Subprotocol};
use ringbar_protocol::websocket::deflate::{self, DeflateParams};
use ringbar_protocol::websocket::handshake::{self, Request};
use ringbar_protocol::websocket::{
    CloseCode, DataOpCode, FrameParser, Incoming, OpCode, Role, WebSocketConfig,
};
use tokio::time::Instant;

use super::read_size::ReadSize;
use super::{Connection, Ticket, http, spawn_writer};
use crate::config::{WebSocketOptions, WebSocketTransport};
use crate::runtime::io::Stream;
use ringbar_router::core::Core;
use ringbar_router::core::session::{Flow, SessionDriver};
use ringbar_router::local::peer::Peer;
use ringbar_router::wire::deflate::{Compression, ConnectionCompressor};
use ringbar_router::wire::{Framing, Wire};

/// Read size while waiting for the peer's Close: a Close frame is small,
/// and what comes before it is discarded. Not a bound on peers (the close
/// handshake's timeout is).
const CLOSING_READ_BYTES: usize = 4 * 1024;

/// The protocol crate's limits for a transport's options.
pub(super) fn limits(options: &WebSocketOptions) -> WebSocketConfig {
    WebSocketConfig {
        max_frame_bytes: options.max_frame_bytes,
        max_message_bytes: options.max_message_bytes,
        ..WebSocketConfig::default()
    }
}

/// Serves a WAMP-over-WebSocket connection; `request` is given when a web
/// transport already read it.
pub(super) async fn serve(
    core: Rc<Core>,
    stream: Stream,
    peer: Peer,
    transport: &WebSocketTransport,
    request: Option<(Request, BytesMut)>,
    ticket: Ticket,
) {
    let options = &transport.options;
    let request = match request {
        Some(r) => Some(r),
        None => {
            http::read_request(
                &stream,
                &peer,
                &limits(options),
                options.open_handshake_timeout_ms,
            )
            .await
        }
    };
    let Some((request, buf)) = request else {
        stream.shutdown();
        return;
    };
    if let Err(refused) = options.origins.check(request.origin()) {
        tracing::info!(%peer, %refused, "WebSocket handshake refused");
        return http::respond_error(&stream, 403, &refused.to_string()).await;
    }
    let supported: Vec<&str> = Subprotocol::offered(&transport.serializers)
        .map(Subprotocol::name)
        .collect();
    let subprotocol = match handshake::negotiate_subprotocol(request.protocols(), &supported) {
        Some(name) => Subprotocol::from_name(name),
        None if request.protocols().is_empty() && !options.require_subprotocol => transport
            .serializers
            .first()
            .map(|&serializer| Subprotocol {
                serializer,
                batched: false,
            }),
        None => None,
    };
    let Some(subprotocol) = subprotocol else {
        tracing::info!(%peer, offered = ?request.protocols(), "no supported WebSocket subprotocol");
        let reason = format!(
            "no supported WebSocket subprotocol; this transport speaks {}",
            supported.join(", ")
        );
        return http::respond_error(&stream, 400, &reason).await;
    };
    let Some(deflate) = accept(&stream, &request, Some(subprotocol.name()), options).await else {
        return;
    };
    let compression = Compression::for_params(deflate.as_ref());
    let compressor = match compression {
        Compression::PerConnection => deflate.as_ref().map(ConnectionCompressor::new),
        Compression::Off | Compression::Shared { .. } => None,
    };
    let conn = Connection::with_compressor(stream, peer, &core, compressor);
    spawn_writer(core.clone(), conn.clone());
    let Subprotocol {
        serializer,
        batched,
    } = subprotocol;
    let wire = Wire {
        serializer,
        framing: Framing::WebSocket,
        batched,
        compression,
    };
    let session = SessionDriver::new(
        core.clone(),
        conn.link.clone(),
        wire,
        transport.auth.clone(),
    );
    let last_input = Rc::new(Cell::new(Instant::now()));
    if options.auto_ping_interval_ms > 0 {
        tokio::task::spawn_local(auto_ping(conn.clone(), last_input.clone(), options.clone()));
    }
    let parser = frame_parser(options, deflate.as_ref());
    // The session is a task of its own: the handshake's futures (and the
    // HTTP server's, when a web transport upgraded) end here instead of
    // staying inside the connection's task for the session's life.
    tokio::task::spawn_local(serve_session(SessionTask {
        core,
        conn,
        session,
        subprotocol,
        parser,
        buf,
        close_timeout: Duration::from_millis(options.close_handshake_timeout_ms),
        last_input,
        ticket,
    }));
}

/// What a WebSocket session's task holds, once the handshake is done.
struct SessionTask {
    core: Rc<Core>,
    conn: Rc<Connection>,
    session: SessionDriver,
    subprotocol: Subprotocol,
    parser: FrameParser,
    buf: BytesMut,
    close_timeout: Duration,
    last_input: Rc<Cell<Instant>>,
    ticket: Ticket,
}

/// Runs a WebSocket session until the connection ends.
async fn serve_session(task: SessionTask) {
    let SessionTask {
        core,
        conn,
        mut session,
        subprotocol,
        parser,
        buf,
        close_timeout,
        last_input,
        // Held until the session ends: the connection stays counted.
        ticket: _ticket,
    } = task;
    let expected = if subprotocol.serializer.is_text() {
        DataOpCode::Text
    } else {
        DataOpCode::Binary
    };
    let mut messages = WampMessages {
        session: &mut session,
        expected,
        subprotocol,
        batch: None,
        peer: conn.peer.clone(),
    };
    run_frames(
        &core,
        &conn,
        parser,
        buf,
        close_timeout,
        &last_input,
        &mut messages,
    )
    .await;
    session.on_close();
    conn.outbound.close();
}

/// Negotiates permessage-deflate when `options` enable it and writes the
/// 101 answer; `None` when the write failed, otherwise the deflate
/// parameters agreed, if any.
pub(super) async fn accept(
    stream: &Stream,
    request: &Request,
    protocol: Option<&str>,
    options: &WebSocketOptions,
) -> Option<Option<DeflateParams>> {
    let deflate = options
        .deflate
        .as_ref()
        .and_then(|config| deflate::negotiate(request.extensions(), config));
    let mut response = BytesMut::new();
    handshake::write_accept_with_extensions(
        request,
        protocol,
        deflate.as_ref().map(|accept| accept.response.as_str()),
        &mut response,
    );
    stream.write_all(vec![response.freeze()]).await.ok()?;
    Some(deflate.map(|accept| accept.params))
}

/// The frame parser of a connection, inflating what the client compresses
/// when `deflate` was agreed.
pub(super) fn frame_parser(
    options: &WebSocketOptions,
    deflate: Option<&DeflateParams>,
) -> FrameParser {
    let parser = FrameParser::new(Role::Server, limits(options));
    match deflate {
        Some(params) => parser.with_deflate(params.server_decompressor()),
        None => parser,
    }
}

/// What [`run_frames`] hands each message to.
pub(super) trait Messages {
    /// Handles one message; `more` says others follow at once (read with
    /// it), so the session may hold its publications' delivery back until
    /// [`Messages::deliver_held`].
    fn on_message(&mut self, opcode: DataOpCode, payload: Bytes, more: bool) -> Flow;

    /// Delivers what the messages so far held back; called before the
    /// reader waits for anything.
    fn deliver_held(&mut self) {}

    /// Waits for what the last message started and the next must not
    /// overtake (a session's dynamic authentication).
    async fn settle(&mut self) -> Flow {
        Flow::Continue
    }
}

impl<F: FnMut(DataOpCode, Bytes) -> Flow> Messages for F {
    fn on_message(&mut self, opcode: DataOpCode, payload: Bytes, _more: bool) -> Flow {
        self(opcode, payload)
    }
}

/// The messages of a WAMP session over WebSocket.
struct WampMessages<'a> {
    session: &'a mut SessionDriver,
    /// The data frame type of the serializer.
    expected: DataOpCode,
    subprotocol: Subprotocol,
    /// What is left of the batch being handed over, one message at a time:
    /// each must settle before the next, as if it came in its own frame.
    batch: Option<Batch>,
    peer: Peer,
}

impl Messages for WampMessages<'_> {
    fn on_message(&mut self, opcode: DataOpCode, payload: Bytes, more: bool) -> Flow {
        if opcode != self.expected {
            // wamp.2.json travels in text frames, the binary serializers in
            // binary frames; anything else is a protocol error (1002).
            tracing::info!(peer = %self.peer, ?opcode, subprotocol = self.subprotocol.name(), "WebSocket frame of the wrong type for the subprotocol");
            return Flow::Violation(format!("{opcode:?} frame on {}", self.subprotocol.name()));
        }
        if !self.subprotocol.batched {
            return self.session.on_message_more(payload, more);
        }
        self.batch = Some(batch::split_batch(self.subprotocol.serializer, payload));
        self.next_of_batch()
    }

    fn deliver_held(&mut self) {
        self.session.deliver_held();
    }

    async fn settle(&mut self) -> Flow {
        loop {
            let flow = poll_fn(|cx| self.session.poll_settled(cx)).await;
            if flow != Flow::Continue || self.batch.is_none() {
                return flow;
            }
            let flow = self.next_of_batch();
            if flow != Flow::Continue {
                return flow;
            }
        }
    }
}

impl WampMessages<'_> {
    /// Hands the batch's next message to the session.
    fn next_of_batch(&mut self) -> Flow {
        let next = self.batch.as_mut().and_then(Iterator::next);
        match next {
            Some(Ok(message)) => self.session.on_message(message),
            Some(Err(e)) => {
                self.batch = None;
                tracing::info!(peer = %self.peer, error = %e, subprotocol = self.subprotocol.name(), "malformed WAMP batch");
                Flow::Violation(e.to_string())
            }
            None => {
                self.batch = None;
                Flow::Continue
            }
        }
    }
}

/// Reads frames until the connection ends, handing each message to
/// `messages`, answering pings and the close handshake.
pub(super) async fn run_frames(
    core: &Core,
    conn: &Connection,
    mut parser: FrameParser,
    mut buf: BytesMut,
    close_timeout: Duration,
    last_input: &Cell<Instant>,
    messages: &mut impl Messages,
) {
    let mut read_size = ReadSize::new();
    loop {
        loop {
            if conn.outbound.is_full() {
                // The reader is about to wait for room.
                messages.deliver_held();
            }
            poll_fn(|cx| conn.outbound.poll_writable(cx)).await;
            match parser.parse(&mut buf) {
                Ok(Some(Incoming::Message { opcode, payload })) => {
                    let more = !buf.is_empty();
                    let mut flow = messages.on_message(opcode, payload, more);
                    if flow == Flow::Continue {
                        flow = messages.settle().await;
                    }
                    match flow {
                        Flow::Continue => {}
                        Flow::Close => {
                            conn.awaiting_close.set(true);
                            conn.close_websocket(CloseCode::NORMAL_CLOSURE, "");
                            // Boxed: the close handshake's future is the
                            // largest state of this loop, and every idle
                            // session would carry its room otherwise.
                            Box::pin(await_peer_close(conn, &mut parser, buf, close_timeout)).await;
                            return;
                        }
                        Flow::Violation(reason) => {
                            conn.close_websocket(CloseCode::PROTOCOL_ERROR, &reason);
                            return;
                        }
                    }
                }
                Ok(Some(Incoming::Ping(payload))) => conn.push_control(OpCode::Pong, &payload),
                Ok(Some(Incoming::Pong(_))) => {}
                Ok(Some(Incoming::Close(frame))) => {
                    messages.deliver_held();
                    let code = frame.map(|f| f.code).unwrap_or(CloseCode::NORMAL_CLOSURE);
                    conn.close_websocket(code, "");
                    return;
                }
                Ok(None) => {
                    messages.deliver_held();
                    break;
                }
                Err(e) => {
                    messages.deliver_held();
                    tracing::info!(peer = %conn.peer, error = %e, close_code = e.close_code().as_u16(), "WebSocket protocol error");
                    conn.close_websocket(e.close_code(), &e.to_string());
                    return;
                }
            }
        }
        if core.has_backlog() {
            crate::runtime::waits::flush_backlog(core).await;
        }
        read_size.trim(&mut buf);
        let (result, b) = conn.stream.read(buf, read_size.next()).await;
        buf = b;
        match result {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                read_size.observe(n);
                conn.note_read(n, core.now());
                last_input.set(Instant::now());
            }
        }
    }
}

/// The closing handshake this side started (RFC 6455 §7.1.1): waits for the
/// peer's Close, discarding anything else, then ends the stream; a peer that
/// does not answer within `timeout` is cut off.
async fn await_peer_close(
    conn: &Connection,
    parser: &mut FrameParser,
    mut buf: BytesMut,
    timeout: Duration,
) {
    let answered = async {
        loop {
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(Incoming::Close(_))) | Err(_) => return,
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                }
            }
            let (result, b) = conn.stream.read(buf, CLOSING_READ_BYTES).await;
            buf = b;
            if !matches!(result, Ok(n) if n > 0) {
                return;
            }
        }
    };
    if tokio::time::timeout(timeout, answered).await.is_err() {
        tracing::debug!(peer = %conn.peer, "WebSocket peer did not answer Close in time: closed");
    }
    conn.stream.shutdown();
}

/// Pings a quiet peer every `auto_ping_interval`; closes the connection if
/// nothing arrives within `auto_ping_timeout` (default: the interval) after
/// a ping.
async fn auto_ping(conn: Rc<Connection>, last_input: Rc<Cell<Instant>>, options: WebSocketOptions) {
    let interval = Duration::from_millis(options.auto_ping_interval_ms);
    // Without `auto_ping_timeout` a peer has as long to answer as the
    // silence that made the router ask (it had 1 ms).
    let timeout = match options.auto_ping_timeout_ms {
        0 => interval,
        ms => Duration::from_millis(ms),
    };
    let payload = vec![b'r'; options.auto_ping_size.clamp(4, 125)];
    loop {
        tokio::time::sleep(interval).await;
        if conn.outbound.is_closing() {
            return;
        }
        if last_input.get().elapsed() < interval {
            continue;
        }
        let sent = Instant::now();
        conn.push_control(OpCode::Ping, &payload);
        tokio::time::sleep(timeout).await;
        if last_input.get() < sent && !conn.outbound.is_closing() {
            tracing::info!(peer = %conn.peer, "WebSocket peer did not answer a ping: closed");
            conn.abort();
            return;
        }
    }
}
