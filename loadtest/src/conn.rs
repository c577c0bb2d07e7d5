//! One WAMP connection from the load generator: TCP, the WebSocket or
//! RawSocket opening, framing, and joining a realm, built on
//! `ringbar-protocol`.
//!
//! The receive path is what bounds a fan-out measurement, so it does as
//! little as it can per message: one big read into a buffer shared by every
//! connection of the thread (each connection keeps only the tail of a frame
//! cut by the read), frame boundaries found in place, and the message bytes
//! handed to the caller as a slice, never decoded here.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Hello, Message};
use ringbar_protocol::rawsocket::{
    self, FRAME_HEADER_LEN, FrameEncoder, FrameType, HANDSHAKE_LEN, HandshakeRequest,
    MaxMessageLength,
};
use ringbar_protocol::value::{Dict, Value};
use ringbar_protocol::websocket::deflate::{Decompressor, DeflateParams};
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{self, OpCode, WebSocketConfig, encode_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::stamp;
use crate::stream::Stream;
use crate::target::{Target, Transport};

/// Bytes one read asks the kernel for: many frames per system call.
const READ_BUF_BYTES: usize = 256 * 1024;
/// The largest message accepted from the router (RawSocket's ceiling).
const MAX_MESSAGE_BYTES: usize = rawsocket::MAX_FRAME_PAYLOAD_BYTES;
/// The masking key of our WebSocket frames. RFC 6455 masks client frames
/// against cache poisoning by browser scripts; a load generator on loopback
/// has none, and a fixed key keeps the publish path cheap.
const MASK: [u8; 4] = [0x4c, 0x54, 0x21, 0x07];

/// Bytes read from the router by every connection: what the router put on
/// the wire (frame headers included), for bytes per event.
pub(crate) static WIRE_BYTES_IN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The read buffer every connection of this thread reads into in turn.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF_BYTES]);
}

/// A connection to the router, open and (after [`Conn::join`]) in a session.
pub(crate) struct Conn {
    stream: Stream,
    framer: Framer,
    serializer: Serializer,
    scratch: BytesMut,
    out: BytesMut,
    /// Received bytes not yet handed out: the start of a cut frame, or
    /// whole frames left by [`Conn::next_message`].
    carry: Vec<u8>,
}

impl Conn {
    /// Connects and completes the transport's opening handshake.
    pub(crate) async fn connect(target: &Target, nonce: [u8; 16]) -> io::Result<Self> {
        let mut stream =
            Stream::connect(&target.authority(), &target.host, target.tls.as_ref()).await?;
        let mut carry = Vec::new();
        let framer = match target.transport {
            Transport::WebSocket => {
                let deflate = websocket_open(&mut stream, target, nonce, &mut carry).await?;
                Framer::WebSocket(deflate.map(|params| Inflate {
                    decompressor: params.client_decompressor(),
                    out: Vec::new(),
                }))
            }
            Transport::RawSocket => {
                let request = HandshakeRequest {
                    serializer: target.serializer,
                    max_message_length: MaxMessageLength::MAX,
                };
                stream.write_all(&request.to_bytes()).await?;
                let mut reply = [0u8; HANDSHAKE_LEN];
                stream.read_exact(&mut reply).await?;
                let negotiated = request.complete(reply).map_err(|e| {
                    io::Error::other(format!(
                        "RawSocket handshake with {}: {e}",
                        target.authority()
                    ))
                })?;
                Framer::RawSocket(negotiated.frame_encoder())
            }
        };
        Ok(Self {
            stream,
            framer,
            serializer: target.serializer,
            scratch: BytesMut::new(),
            out: BytesMut::new(),
            carry,
        })
    }

    /// Connects and joins `target`'s realm, announcing all four client roles.
    pub(crate) async fn join(target: &Target, nonce: [u8; 16]) -> io::Result<Self> {
        let mut conn = Self::connect(target, nonce).await?;
        let roles: Dict = ["publisher", "subscriber", "caller", "callee"]
            .into_iter()
            .map(|role| (role, Value::Dict(Dict::new())))
            .collect();
        conn.queue(&Message::Hello(Hello {
            realm: target.realm.as_str().into(),
            details: [("roles", Value::Dict(roles))].into_iter().collect(),
        }))?;
        conn.flush().await?;
        match conn.next_message().await? {
            Message::Welcome(_) => Ok(conn),
            Message::Abort(abort) => Err(io::Error::other(format!(
                "the router refused to join realm '{}': {}",
                target.realm,
                abort.reason.as_str()
            ))),
            other => Err(unexpected("WELCOME", &other)),
        }
    }

    /// The connection's serializer.
    pub(crate) fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// Queues `message` (sent by [`Conn::flush`]).
    pub(crate) fn queue(&mut self, message: &Message) -> io::Result<()> {
        self.scratch.clear();
        codec::encode(self.serializer, message, &mut self.scratch).map_err(io::Error::other)?;
        self.framer
            .message(self.serializer, &self.scratch, &mut self.out)
    }

    /// Queues a message already encoded in this connection's serializer.
    pub(crate) fn queue_encoded(&mut self, message: &[u8]) -> io::Result<()> {
        self.framer.message(self.serializer, message, &mut self.out)
    }

    /// Bytes queued and not yet sent.
    pub(crate) fn queued(&self) -> usize {
        self.out.len()
    }

    /// Sends everything queued in one write.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            // TLS may hold the last record back until flushed.
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next message, decoded: for the request-reply steps of setting up.
    /// Messages behind it stay for [`Conn::read_batch`].
    pub(crate) async fn next_message(&mut self) -> io::Result<Message> {
        loop {
            self.flush().await?;
            while let Some((frame, used)) = self.framer.next_frame(&self.carry)? {
                let payload = self.carry.get(frame.payload.clone()).unwrap_or_default();
                let message = match frame.kind {
                    FrameKind::Message => {
                        let payload = self.framer.inflated(frame.compressed, payload)?;
                        Some(
                            codec::decode(self.serializer, bytes::Bytes::copy_from_slice(payload))
                                .map_err(|e| {
                                    io::Error::other(format!("undecodable message: {e}"))
                                })?,
                        )
                    }
                    FrameKind::Ping => {
                        let pong = payload.to_vec();
                        self.framer.pong(&pong, &mut self.out)?;
                        None
                    }
                    FrameKind::Ignore => None,
                    FrameKind::Close => return Err(closed()),
                };
                self.carry.drain(..used);
                if let Some(message) = message {
                    return Ok(message);
                }
            }
            if self.carry.len() > MAX_MESSAGE_BYTES + 16 {
                return Err(io::Error::other("a message from the router exceeds 16 MiB"));
            }
            let n = self.stream.read_buf(&mut self.carry).await?;
            if n == 0 {
                return Err(closed());
            }
            WIRE_BYTES_IN.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Waits for data, reads it in one system call and hands every whole
    /// message in it to `on_message` with the time it was read
    /// ([`stamp::now_ns`]). Answers pings (queued: call [`Conn::flush`]
    /// when [`Conn::queued`] is not 0). Returns `false` once the router has
    /// closed the connection.
    pub(crate) async fn read_batch(
        &mut self,
        mut on_message: impl FnMut(&[u8], u64),
    ) -> io::Result<bool> {
        if self.framer.next_frame(&self.carry)?.is_some() {
            let carry = std::mem::take(&mut self.carry);
            let (used, open) =
                self.framer
                    .scan(&carry, stamp::now_ns(), &mut on_message, &mut self.out)?;
            self.carry = carry;
            self.carry.drain(..used);
            return Ok(open);
        }
        std::future::poll_fn(|cx| {
            match READ_BUF.with_borrow_mut(|buf| self.read_and_scan(cx, buf, &mut on_message)) {
                Ok(None) => Poll::Pending,
                Ok(Some(open)) => Poll::Ready(Ok(open)),
                Err(e) => Poll::Ready(Err(e)),
            }
        })
        .await
    }

    /// Like [`Conn::read_batch`], but only what has already arrived: never
    /// waits. For a sender that must notice errors and pings between sends.
    pub(crate) fn read_now(&mut self, mut on_message: impl FnMut(&[u8], u64)) -> io::Result<bool> {
        let mut cx = Context::from_waker(Waker::noop());
        READ_BUF
            .with_borrow_mut(|buf| self.read_and_scan(&mut cx, buf, &mut on_message))
            .map(|outcome| outcome.unwrap_or(true))
    }

    /// One read into the thread's buffer after the carried bytes, then the
    /// scan; `None` when nothing had arrived (`cx` is woken when it does).
    fn read_and_scan(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
        on_message: &mut impl FnMut(&[u8], u64),
    ) -> io::Result<Option<bool>> {
        let carried = self.carry.len();
        if buf.len() < carried + READ_BUF_BYTES / 2 {
            buf.resize(carried + READ_BUF_BYTES, 0);
        }
        let (head, tail) = buf.split_at_mut(carried);
        head.copy_from_slice(&self.carry);
        let mut read = ReadBuf::new(tail);
        // A poll (not `try_read`) lets tokio clear the readiness after a
        // short read, which saves the EAGAIN read that would follow.
        match Pin::new(&mut self.stream).poll_read(cx, &mut read) {
            Poll::Pending => Ok(None),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    return Ok(Some(false));
                }
                WIRE_BYTES_IN.fetch_add(n as u64, Ordering::Relaxed);
                let data = buf.get(..carried + n).unwrap_or_default();
                let (used, open) =
                    self.framer
                        .scan(data, stamp::now_ns(), on_message, &mut self.out)?;
                self.carry.clear();
                self.carry
                    .extend_from_slice(data.get(used..).unwrap_or_default());
                if self.carry.len() > MAX_MESSAGE_BYTES + 16 {
                    return Err(io::Error::other("a message from the router exceeds 16 MiB"));
                }
                Ok(Some(open))
            }
        }
    }

    /// Reads and drops everything, answering pings, until the connection
    /// fails or the router closes it: for sessions that only hold (the task
    /// is dropped to end it).
    pub(crate) async fn hold(&mut self) -> io::Error {
        loop {
            match self.read_batch(|_, _| {}).await {
                Ok(true) => {}
                Ok(false) => return closed(),
                Err(e) => return e,
            }
            if let Err(e) = self.flush().await {
                return e;
            }
        }
    }
}

/// Opens the WebSocket: the HTTP upgrade, keeping what follows the response;
/// returns the permessage-deflate parameters when it was agreed.
async fn websocket_open(
    stream: &mut Stream,
    target: &Target,
    nonce: [u8; 16],
    carry: &mut Vec<u8>,
) -> io::Result<Option<DeflateParams>> {
    let mut handshake = ClientHandshake::new(
        &target.authority(),
        &target.path,
        &[target.serializer.subprotocol()],
        nonce,
    )
    .map_err(io::Error::other)?;
    if target.deflate {
        handshake = handshake.with_deflate_offer();
    }
    let mut request = BytesMut::new();
    handshake.write_request(&mut request);
    stream.write_all(&request).await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other(format!(
                "{} closed the connection during the WebSocket upgrade (is {} its WebSocket path?)",
                target.authority(),
                target.path
            )));
        }
        let parsed = handshake
            .parse_response(&buf, &WebSocketConfig::default())
            .map_err(|e| {
                io::Error::other(format!(
                    "WebSocket upgrade at {}{}: {e}",
                    target.authority(),
                    target.path
                ))
            })?;
        if let Some((response, used)) = parsed {
            carry.extend_from_slice(buf.get(used..).unwrap_or_default());
            if target.deflate && response.deflate().is_none() {
                return Err(io::Error::other(format!(
                    "--deflate: {}{} did not agree to permessage-deflate (is compression.deflate in its options?)",
                    target.authority(),
                    target.path
                )));
            }
            return Ok(response.deflate());
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::other(
                "the WebSocket upgrade response exceeds 64 KiB",
            ));
        }
    }
}

/// The framing of one transport: where frames start and end, and how ours
/// are built.
enum Framer {
    /// With the inflater when permessage-deflate was agreed.
    WebSocket(Option<Inflate>),
    RawSocket(FrameEncoder),
}

/// The receiving side of permessage-deflate: the router's compressed
/// messages are inflated into `out`, one at a time. The load sends its own
/// messages uncompressed (the RFC lets each message choose), so the
/// publishers' cost stays what it is without compression.
struct Inflate {
    decompressor: Decompressor,
    out: Vec<u8>,
}

/// What a received frame carries.
enum FrameKind {
    Message,
    Ping,
    Close,
    Ignore,
}

/// One whole frame found in a buffer.
struct Frame {
    kind: FrameKind,
    payload: std::ops::Range<usize>,
    /// RSV1: a message compressed with permessage-deflate.
    compressed: bool,
}

impl Framer {
    /// The first whole frame of `data` and the bytes it takes, or `None`
    /// when `data` holds only part of one.
    fn next_frame(&self, data: &[u8]) -> io::Result<Option<(Frame, usize)>> {
        let (kind, header_len, payload_len, compressed) = match self {
            Framer::WebSocket(inflate) => {
                let Some((header, compressed, header_len)) =
                    websocket::FrameHeader::parse_rsv1(data, inflate.is_some())
                        .map_err(io::Error::other)?
                else {
                    return Ok(None);
                };
                if header.mask.is_some() {
                    return Err(io::Error::other("the router sent a masked WebSocket frame"));
                }
                let kind = match header.opcode {
                    OpCode::Text | OpCode::Binary if header.fin => FrameKind::Message,
                    OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                        return Err(io::Error::other(
                            "the router fragmented a WebSocket message; the load generator \
                             reads whole frames only (raise the router's max_frame_size)",
                        ));
                    }
                    OpCode::Ping => FrameKind::Ping,
                    OpCode::Pong => FrameKind::Ignore,
                    OpCode::Close => FrameKind::Close,
                };
                (kind, header_len, header.payload_len, compressed)
            }
            Framer::RawSocket(_) => {
                let Some(prefix) = data.first_chunk::<FRAME_HEADER_LEN>() else {
                    return Ok(None);
                };
                let header = rawsocket::FrameHeader::parse(*prefix).map_err(io::Error::other)?;
                let kind = match header.frame_type {
                    FrameType::Message => FrameKind::Message,
                    FrameType::Ping => FrameKind::Ping,
                    FrameType::Pong => FrameKind::Ignore,
                };
                (kind, FRAME_HEADER_LEN, header.payload_len as u64, false)
            }
        };
        if payload_len > MAX_MESSAGE_BYTES as u64 {
            return Err(io::Error::other(format!(
                "the router sent a {payload_len}-byte message, above the 16 MiB the load generator takes"
            )));
        }
        let end = header_len + payload_len as usize;
        if data.len() < end {
            return Ok(None);
        }
        Ok(Some((
            Frame {
                kind,
                payload: header_len..end,
                compressed,
            },
            end,
        )))
    }

    /// Hands every whole message of `data` to `on_message`; returns the
    /// bytes used and whether the connection is still open.
    fn scan(
        &mut self,
        data: &[u8],
        now_ns: u64,
        on_message: &mut impl FnMut(&[u8], u64),
        out: &mut BytesMut,
    ) -> io::Result<(usize, bool)> {
        let mut at = 0;
        while let Some((frame, used)) = self.next_frame(data.get(at..).unwrap_or_default())? {
            let payload = data
                .get(at + frame.payload.start..at + frame.payload.end)
                .unwrap_or_default();
            match frame.kind {
                FrameKind::Message => on_message(self.inflated(frame.compressed, payload)?, now_ns),
                FrameKind::Ping => self.pong(payload, out)?,
                FrameKind::Ignore => {}
                FrameKind::Close => return Ok((at + used, false)),
            }
            at += used;
        }
        Ok((at, true))
    }

    /// A message's bytes: `payload` itself, or inflated when `compressed`.
    fn inflated<'a>(&'a mut self, compressed: bool, payload: &'a [u8]) -> io::Result<&'a [u8]> {
        let Framer::WebSocket(Some(inflate)) = self else {
            return Ok(payload);
        };
        if !compressed {
            return Ok(payload);
        }
        inflate.out.clear();
        inflate
            .decompressor
            .inflate(payload, true, &mut inflate.out, MAX_MESSAGE_BYTES)
            .map_err(|e| io::Error::other(format!("compressed message from the router: {e}")))?;
        Ok(&inflate.out)
    }

    /// Frames an encoded WAMP message into `out`.
    fn message(
        &self,
        serializer: Serializer,
        message: &[u8],
        out: &mut BytesMut,
    ) -> io::Result<()> {
        match self {
            Framer::WebSocket(_) => {
                let opcode = if serializer.is_text() {
                    OpCode::Text
                } else {
                    OpCode::Binary
                };
                encode_frame(true, opcode, Some(MASK), message, out);
                Ok(())
            }
            Framer::RawSocket(encoder) => encoder
                .encode(FrameType::Message, message, out)
                .map_err(io::Error::other),
        }
    }

    /// Frames the answer to a ping into `out`.
    fn pong(&self, payload: &[u8], out: &mut BytesMut) -> io::Result<()> {
        match self {
            Framer::WebSocket(_) => {
                encode_frame(true, OpCode::Pong, Some(MASK), payload, out);
                Ok(())
            }
            Framer::RawSocket(encoder) => encoder
                .encode(FrameType::Pong, payload, out)
                .map_err(io::Error::other),
        }
    }
}

/// The error for a message other than the one the protocol step expects.
pub(crate) fn unexpected(expected: &str, got: &Message) -> io::Error {
    match got {
        Message::Error(e) => io::Error::other(format!(
            "expected {expected}, the router answered ERROR {}",
            e.error.as_str()
        )),
        Message::Abort(a) => io::Error::other(format!(
            "expected {expected}, the router aborted the session: {}",
            a.reason.as_str()
        )),
        other => io::Error::other(format!(
            "expected {expected}, got {:?}",
            other.message_type()
        )),
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the router closed the connection",
    )
}
