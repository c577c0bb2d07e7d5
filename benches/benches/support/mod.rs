//! What the benches of a core's routing share: a one-core router with one
//! realm, and a client's end of a connection to it, without I/O. A session
//! is handed its messages and its connection's outbound queue drained as
//! a WebSocket session task does (`engine`'s
//! `transport::websocket::run_frames`).

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::RequestId;
use ringbar_protocol::message::{Hello, Message};
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use ringbar_protocol::value::Dict;
use ringbar_protocol::websocket::{FrameHeader, OpCode};
use ringbar_router::auth::config::AuthConfig;
use ringbar_router::auth::{Channel, Decided, SlowWork};
use ringbar_router::authorize::{Allow, Disclose, Permission, RoleConfig};
use ringbar_router::core::config::RealmConfig;
use ringbar_router::core::realms::Realms;
use ringbar_router::core::seed::Seeds;
use ringbar_router::core::session::{Flow, SessionDriver};
use ringbar_router::core::{Core, Drivers, Shared};
use ringbar_router::limits::{FlowControl, Limits};
use ringbar_router::local::link::Link;
use ringbar_router::local::peer::Peer;
use ringbar_router::timers::Clock;
use ringbar_router::wire::deflate::Compression;
use ringbar_router::wire::{Framing, Wire};

/// The realm every session joins.
pub(crate) const REALM: &str = "realm1";

/// A client's end of one connection to the core: the router's session on
/// it, and the link whose outbound queue holds what the router sent.
pub(crate) struct Client {
    pub(crate) session: SessionDriver,
    pub(crate) link: Rc<Link>,
    pub(crate) serializer: Serializer,
}

impl Client {
    /// A WebSocket connection on `core` whose client joined [`REALM`] in
    /// `roles` (`"caller"`, `"subscriber"`, ...).
    pub(crate) fn join(
        core: &Rc<Core>,
        serializer: Serializer,
        auth: &Arc<AuthConfig>,
        roles: &[&str],
    ) -> Self {
        // As the engine's simulation opens one: a link with nothing behind
        // it, whose queue the client drains itself.
        let link = Rc::new(core.link(Peer::Unix, Channel::default(), None));
        let wire = Wire {
            serializer,
            framing: Framing::WebSocket,
            batched: false,
            compression: Compression::Off,
        };
        let session = SessionDriver::new(core.clone(), link.clone(), wire, auth.clone());
        let mut client = Self {
            session,
            link,
            serializer,
        };
        let mut announced = Dict::new();
        for role in roles {
            announced.insert(*role, Dict::new());
        }
        let mut details = Dict::new();
        details.insert("roles", announced);
        client.send_message(&Message::Hello(Hello {
            realm: REALM.into(),
            details,
        }));
        match client.read() {
            Message::Welcome(_) => client,
            other => panic!("HELLO answered with {other:?}"),
        }
    }

    /// Hands `message` to the session.
    pub(crate) fn send_message(&mut self, message: &Message) {
        let mut buf = BytesMut::new();
        codec::encode(self.serializer, message, &mut buf)
            .unwrap_or_else(|e| panic!("{message:?} not encoded: {e}"));
        self.send(buf.freeze());
    }

    /// Hands one WAMP message to the session as the WebSocket reader does:
    /// once the outbound queue has room, and settled before the next.
    pub(crate) fn send(&mut self, message: Bytes) {
        self.send_more(message, false);
    }

    /// Like [`Client::send`] for a message that `more` others follow at
    /// once, read together with it.
    pub(crate) fn send_more(&mut self, message: Bytes, more: bool) {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            self.link.outbound.poll_writable(&mut cx).is_ready(),
            "the outbound queue is full: the bench does not drain it"
        );
        let flow = self.session.on_message_more(message, more);
        assert_eq!(flow, Flow::Continue, "the session ends the connection");
        // Nothing here waits for slow work or a dynamic authorizer, so the
        // message settles at once.
        assert_eq!(
            self.session.poll_settled(&mut cx),
            Poll::Ready(Flow::Continue),
            "the message did not settle at once"
        );
    }

    /// The one message the router queued, decoded.
    pub(crate) fn read(&mut self) -> Message {
        codec::decode(self.serializer, self.take_frame())
            .unwrap_or_else(|e| panic!("the router queued an undecodable message: {e}"))
    }

    /// The WAMP message of the one WebSocket frame the router queued.
    pub(crate) fn take_frame(&mut self) -> Bytes {
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Some(mut batch)) = self.link.outbound.poll_next_batch(&mut cx) else {
            panic!("the router queued nothing");
        };
        // Small frames are copied end to end into one buffer as they are
        // queued: one buffer holding exactly one frame is one message.
        let (Some(mut frame), true) = (batch.pop(), batch.is_empty()) else {
            panic!("the router queued more than one buffer");
        };
        let header = match FrameHeader::parse(&frame) {
            Ok(Some((header, len))) => {
                let _header = frame.split_to(len);
                header
            }
            other => panic!("the router queued no WebSocket frame header: {other:?}"),
        };
        let opcode = if self.serializer.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        assert!(
            header.fin && header.opcode == opcode && header.mask.is_none(),
            "unexpected frame {header:?}"
        );
        assert_eq!(
            header.payload_len,
            frame.len() as u64,
            "the router queued more or less than one frame"
        );
        frame
    }
}

/// The cores of an `n`-core router with [`REALM`], where anonymous
/// sessions may do everything (the meta API on, as by default); the bench
/// hands one core's mail to another itself.
pub(crate) fn cores(n: usize) -> Vec<Rc<Core>> {
    let realm = RealmConfig {
        name: REALM.into(),
        roles: vec![RoleConfig {
            name: "anonymous".into(),
            permissions: vec![Permission {
                uri: String::new(),
                match_policy: MatchPolicy::Prefix,
                allow: Allow {
                    publish: true,
                    subscribe: true,
                    call: true,
                    register: true,
                    list: None,
                },
                disclose: Disclose::default(),
                cache: true,
            }],
            authorizer: None,
            create: false,
        }],
        uri_check: UriCheck::Loose,
        event_history: Vec::new(),
        enable_meta_api: true,
    };
    let shared = Shared::new(
        Realms::new(&[realm], Seeds::replay(1), SystemTime::now()),
        n,
        FlowControl::default(),
        Limits::default(),
        "bench",
        Drivers {
            clock: Arc::new(SystemClock),
            slow_work: Arc::new(InlineSlowWork),
        },
    );
    let shared = Arc::new(shared);
    (0..n)
        .map(|id| Rc::new(Core::new(id, shared.clone())))
        .collect()
}

/// The router's clock: the system's, as a node's.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Slow work (password hashes) done on the spot: anonymous joins need
/// none, and the bench times none.
struct InlineSlowWork;

impl SlowWork for InlineSlowWork {
    fn start(
        &self,
        work: Box<dyn FnOnce() -> Decided + Send>,
        done: Box<dyn FnOnce(Option<Decided>)>,
    ) {
        done(Some(work()));
    }
}

/// `id` as a request id; the benches' ids are constants under 2^53.
pub(crate) fn request_id(id: u64) -> RequestId {
    RequestId::new(id).unwrap_or_else(|| panic!("request id {id} above 2^53"))
}
