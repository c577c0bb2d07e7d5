//! One simulated connection. The router's side runs its session as a
//! transport's reader does: a message is handled once the outbound queue
//! has room, and the next waits for what it started (a dynamic
//! authenticator's answer, a password hash). The client's side sends WAMP
//! messages and reads the frames the router queued for it.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::Message;
use tokio::sync::mpsc;

use super::fail;
use crate::config::AuthConfig;
use ringbar_router::auth::Channel;
use ringbar_router::core::Core;
use ringbar_router::core::session::{Flow, SessionDriver};
use ringbar_router::local::peer::Peer;
use ringbar_router::wire::deflate::Compression;
use ringbar_router::wire::{Framing, RAWSOCKET_PREFIX_BYTES, Wire};

/// Messages a client may send before its session handles them (a client
/// that sends more without anyone driving the simulation is a test bug).
const MAX_UNREAD_MESSAGES: usize = 1 << 16;

/// A client connection and the session on it.
pub(super) struct Link {
    /// The router's end.
    pub(super) conn: Rc<ringbar_router::local::link::Link>,
    /// What the client speaks.
    pub(super) serializer: Serializer,
    /// Messages to the session; `None` once the client hung up.
    to_router: Option<mpsc::Sender<Bytes>>,
    /// What the client read and did not take yet.
    pub(super) inbox: VecDeque<Message>,
    /// Whether the client reads what is queued for it (one that does not
    /// lets its queue fill, as a peer that stops reading its socket).
    pub(super) reading: bool,
    /// The session's reader ended.
    ended: Rc<Cell<bool>>,
}

impl Link {
    /// A connection on `core` whose client speaks `serializer`; its session
    /// runs as a task of the current `LocalSet`.
    pub(super) fn open(core: &Rc<Core>, serializer: Serializer, auth: Arc<AuthConfig>) -> Self {
        // No socket: frames are taken from the link's outbound queue, and
        // the session reads what the client sends through a channel.
        let conn = Rc::new(core.link(Peer::Unix, Channel::default(), None));
        let wire = Wire {
            serializer,
            framing: Framing::RawSocket,
            batched: false,
            compression: Compression::Off,
        };
        let (to_router, from_client) = mpsc::channel(MAX_UNREAD_MESSAGES);
        let ended = Rc::new(Cell::new(false));
        let session = SessionDriver::new(core.clone(), conn.clone(), wire, auth);
        tokio::task::spawn_local(serve(session, conn.clone(), from_client, ended.clone()));
        Self {
            conn,
            serializer,
            to_router: Some(to_router),
            inbox: VecDeque::new(),
            reading: true,
            ended,
        }
    }

    /// Sends `message` to the session (dropped once the client hung up,
    /// as by a closed socket).
    pub(super) fn send(&self, message: &Message) {
        let Some(to_router) = &self.to_router else {
            return;
        };
        let mut frame = BytesMut::new();
        if let Err(e) = codec::encode(self.serializer, message, &mut frame) {
            fail(&format!(
                "a client made a message it cannot encode ({e}): {message:?}"
            ));
        }
        if to_router.try_send(frame.freeze()).is_err() {
            fail("a client sent more than its session reads: drive the simulation");
        }
    }

    /// The client hangs up: its session's reader stops, and nothing more
    /// is written to it.
    pub(super) fn hang_up(&mut self) {
        self.to_router = None;
        self.conn.outbound.close();
    }

    /// The reader notices that the router closed the connection (a kill,
    /// a deadline, a slow consumer cut off), as a transport's read fails
    /// once its stream is shut down; returns whether it just did.
    pub(super) fn notice_close(&mut self) -> bool {
        let closed = self.to_router.is_some() && self.conn.outbound.is_closing();
        if closed {
            self.to_router = None;
        }
        closed
    }

    /// Whether the client can still send (it did not hang up, and the
    /// router did not close the connection).
    pub(super) fn is_open(&self) -> bool {
        self.to_router.is_some() && !self.conn.outbound.is_closing()
    }

    /// Whether the session's reader ended and nothing else holds the
    /// connection (no leak of a session that left).
    pub(super) fn is_released(&self) -> bool {
        self.ended.get() && Rc::strong_count(&self.conn) == 1
    }

    /// Takes every frame queued for the client into its inbox; returns how
    /// many messages it read.
    pub(super) async fn read(&mut self) -> usize {
        let mut read = 0;
        while self.conn.outbound.queued_bytes() > 0 {
            let Some(batch) = poll_fn(|cx| self.conn.outbound.poll_next_batch(cx)).await else {
                break;
            };
            for bytes in batch {
                read += self.decode(bytes);
            }
        }
        read
    }

    /// Decodes RawSocket frames into the inbox.
    fn decode(&mut self, mut bytes: Bytes) -> usize {
        let mut read = 0;
        while !bytes.is_empty() {
            if bytes.len() < RAWSOCKET_PREFIX_BYTES || bytes[0] != 0 {
                fail("the router queued a partial or non-message RawSocket frame");
            }
            let prefix = bytes.split_to(RAWSOCKET_PREFIX_BYTES);
            let len =
                usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
            if len > bytes.len() {
                fail("the router queued a frame cut short");
            }
            match codec::decode(self.serializer, bytes.split_to(len)) {
                Ok(message) => self.inbox.push_back(message),
                Err(e) => fail(&format!("the router queued a frame it cannot decode: {e}")),
            }
            read += 1;
        }
        read
    }
}

/// The session's reader, as a transport runs it: one message at a time,
/// once the queue has room, until either side ends the connection; frames
/// the client sent before one is handled follow it at once (a
/// publication's delivery may be held back for theirs).
async fn serve(
    mut session: SessionDriver,
    conn: Rc<ringbar_router::local::link::Link>,
    mut from_client: mpsc::Receiver<Bytes>,
    ended: Rc<Cell<bool>>,
) {
    loop {
        if conn.outbound.is_full() {
            session.deliver_held();
        }
        poll_fn(|cx| conn.outbound.poll_writable(cx)).await;
        if conn.outbound.is_closing() {
            break;
        }
        if from_client.is_empty() {
            session.deliver_held();
        }
        let Some(frame) = from_client.recv().await else {
            break;
        };
        // Frames already sent follow at once, as a read's do.
        let more = !from_client.is_empty();
        let mut flow = session.on_message_more(frame, more);
        if flow == Flow::Continue {
            flow = poll_fn(|cx| session.poll_settled(cx)).await;
        }
        if flow != Flow::Continue {
            break;
        }
    }
    session.deliver_held();
    session.on_close();
    conn.outbound.close();
    drop(session);
    drop(conn);
    ended.set(true);
}
