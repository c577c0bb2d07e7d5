//! A connection as routing sees it: its outbound queue, who is on the
//! other end, what the peer accepts, and the two things routing may ask of
//! it — queue a frame, or close (after what is queued, or at once). The
//! socket stays with the driver (`transport::Connection`), which writes
//! the queue and acts on a close; routing never touches it.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

use crate::auth::Channel;
use crate::local::figures::{CoreFigures, DropReason};
use crate::local::outbound::Outbound;
use crate::local::peer::Peer;
use crate::local::prefetch::prefetch;
use crate::timers::TimerId;
use crate::wire::Wire;
use crate::wire::deflate::{Compression, ConnectionCompressor};
use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::EncodeError;
use ringbar_protocol::message::Message;
use ringbar_protocol::websocket::{CloseCode, OpCode, encode_close_payload, encode_frame};

/// The routing side of one connection.
pub struct Link {
    /// The frames queued for the peer.
    pub outbound: Outbound,
    /// Who is on the other end.
    pub peer: Peer,
    /// What authentication may know of the connection's channel (TLS, its
    /// client certificate, channel binding).
    pub channel: Channel,
    /// The longest frame the peer accepts (a RawSocket peer announces its
    /// maximum message length in the handshake); unlimited until set.
    pub max_frame_bytes: Cell<usize>,
    /// The figures of the connection's core, which count what it reads,
    /// writes and is sent.
    pub figures: Arc<CoreFigures>,
    /// A session on it got WELCOME (until then a deadline runs).
    pub joined: Cell<bool>,
    /// When bytes last went either way (`limits.idle_timeout_ms`), on the
    /// core's timer clock (nanoseconds; the driver tells the time).
    pub last_io: Cell<u64>,
    /// The core's timers that watch this connection (`Timeout::Join`,
    /// `Timeout::Idle`), cancelled when it ends.
    pub deadlines: Cell<Deadlines>,
    /// Set when the connection compresses its own frames (WebSocket
    /// permessage-deflate with context takeover).
    pub compressor: Option<ConnectionCompressor>,
    /// Routing cut the connection: the driver shuts the socket down, even
    /// while a write waits on the peer.
    aborted: Cell<bool>,
    /// The writer, while a write waits on the peer: woken by an abort. One
    /// waker in a cell, not a `Notify`: this is on every write's path.
    writer: Cell<Option<Waker>>,
}

/// Why a message was not queued.
#[derive(Debug)]
pub enum Unsent {
    /// It cannot be encoded with the session's serializer.
    Encode(EncodeError),
    /// Its frame, this many bytes, is longer than the peer accepts.
    TooLong(usize),
}

/// The timers of the core that watch one connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadlines {
    /// Until its session joins.
    pub join: Option<TimerId>,
    /// While it is open, when an idle timeout is configured.
    pub idle: Option<TimerId>,
}

impl Link {
    /// The link of a connection from `peer`, opened at `now` (the core's
    /// timer clock), with the empty queue `outbound`, counted in its core's
    /// `figures`.
    pub fn new(
        peer: Peer,
        channel: Channel,
        outbound: Outbound,
        figures: Arc<CoreFigures>,
        compressor: Option<ConnectionCompressor>,
        now: u64,
    ) -> Self {
        Self {
            outbound,
            peer,
            channel,
            max_frame_bytes: Cell::new(usize::MAX),
            figures,
            joined: Cell::new(false),
            last_io: Cell::new(now),
            deadlines: Cell::new(Deadlines::default()),
            compressor,
            aborted: Cell::new(false),
            writer: Cell::new(None),
        }
    }

    /// Queues a frame the session must get (see [`Outbound::push`]),
    /// compressed when the connection compresses its own.
    pub fn push(&self, frame: Bytes) {
        match &self.compressor {
            Some(compressor) => self.outbound.push(compressor.compress(frame)),
            None => self.outbound.push(frame),
        }
    }

    /// Queues `message` framed for `wire` (see [`Outbound::push`]): encoded
    /// straight into the queue, unless its frame is compressed.
    pub fn push_message(&self, wire: Wire, message: &Message) -> Result<(), Unsent> {
        if self.compressor.is_some() || wire.compression != Compression::Off {
            let frame = wire.frame(message).map_err(Unsent::Encode)?;
            if !self.accepts(&frame) {
                return Err(Unsent::TooLong(frame.len()));
            }
            self.push(frame);
            return Ok(());
        }
        self.outbound.push_written(|out| {
            let start = out.len();
            wire.frame_into(message, out).map_err(Unsent::Encode)?;
            let len = out.len() - start;
            if !self.accepts(&out[start..]) {
                out.truncate(start);
                return Err(Unsent::TooLong(len));
            }
            Ok(len)
        })
    }

    /// Queues an event (see [`Outbound::push_event`]); a frame this
    /// connection compresses is compressed only once the queue takes it,
    /// judged by its uncompressed length.
    pub fn push_event(&self, frame: &Bytes) -> Result<(), DropReason> {
        match &self.compressor {
            Some(compressor) => self
                .outbound
                .push_event_with(frame.len(), || compressor.compress(frame.clone())),
            None => self.outbound.push_event(frame),
        }
    }

    /// Counts `n` bytes read from the peer at `now` (the core's timer
    /// clock).
    pub fn note_read(&self, n: usize, now: u64) {
        self.figures.bytes_in.add(n as u64);
        self.last_io.set(now);
    }

    /// Prefetches what queueing an event reads of the link (see
    /// [`crate::local::prefetch`]); nothing is read.
    pub fn prefetch(&self) {
        prefetch(&self.max_frame_bytes);
        self.outbound.prefetch();
    }

    /// Whether the peer accepts a frame this long.
    pub fn accepts(&self, frame: &[u8]) -> bool {
        frame.len() <= self.max_frame_bytes.get()
    }

    /// Queues a WebSocket control frame (never compressed).
    pub fn push_control(&self, opcode: OpCode, payload: &[u8]) {
        let mut out = BytesMut::with_capacity(payload.len() + 2);
        encode_frame(true, opcode, None, payload, &mut out);
        self.outbound.push(out.freeze());
    }

    /// Queues a WebSocket Close frame and closes the queue: the writer
    /// sends what is queued, then the Close, then ends.
    pub fn close_websocket(&self, code: CloseCode, reason: &str) {
        let mut payload = BytesMut::new();
        encode_close_payload(code, reason, &mut payload);
        self.push_control(OpCode::Close, &payload);
        self.outbound.close();
    }

    /// Cuts the connection now, dropping whatever is queued.
    pub fn abort(&self) {
        self.outbound.close();
        self.aborted.set(true);
        if let Some(writer) = self.writer.take() {
            writer.wake();
        }
    }

    /// Whether routing cut the connection.
    pub fn is_aborted(&self) -> bool {
        self.aborted.get()
    }

    /// Runs the writer's `write` to its end, unless routing cuts the
    /// connection first (`None`): a write may wait on a slow peer for as
    /// long as it keeps its socket buffer full. It takes the write pinned
    /// where the writer made it, so the (large) write future is not moved
    /// for every write.
    pub fn unless_aborted<'a, F: Future>(
        &'a self,
        mut write: Pin<&'a mut F>,
    ) -> impl Future<Output = Option<F::Output>> + 'a {
        poll_fn(move |cx| {
            if let Poll::Ready(done) = write.as_mut().poll(cx) {
                return Poll::Ready(Some(done));
            }
            if self.aborted.get() {
                return Poll::Ready(None);
            }
            let writer = match self.writer.take() {
                Some(writer) if writer.will_wake(cx.waker()) => writer,
                _ => cx.waker().clone(),
            };
            self.writer.set(Some(writer));
            Poll::Pending
        })
    }
}
