//! The dealer's call path on one core, without I/O: a caller's CALL, the
//! callee's INVOCATION, its YIELD and the caller's RESULT, each message
//! handed to its session and each frame taken from its connection's
//! outbound queue as a WebSocket session task does (`engine`'s
//! `transport::websocket::run_frames`). What the figure leaves out is the
//! socket: reads, writes and wake-ups.

// criterion_group! generates an undocumented public function; a bench
// whose fixed setup fails (a refused join, a call answered with an ERROR)
// is a broken bench and must stop, not measure something else.
#![allow(missing_docs, clippy::panic)]

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{MAX_ID, RequestId};
use ringbar_protocol::message::{Call, Hello, Message, Payload, Register, Yield};
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use ringbar_protocol::value::{Dict, Value};
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

/// The allocator the node runs with (`node/src/main.rs`): the call path
/// allocates, and the system allocator would measure something else.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The realm both sessions join.
const REALM: &str = "realm1";

/// The procedure the callee registers and the caller calls.
const PROCEDURE: &str = "com.example.echo";

/// Bytes of the one string argument echoed: a small RPC.
const ARG_BYTES: usize = 64;

/// The request id the message templates are encoded with, then cut out:
/// the largest id, whose encoding no other part of the messages contains.
const ID_PLACEHOLDER: u64 = MAX_ID;

fn call_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("dealer");
    for (name, serializer) in [("json", Serializer::Json), ("msgpack", Serializer::MsgPack)] {
        let mut pair = Pair::new(serializer);
        pair.check_round_trip();
        group.bench_function(format!("call_round_trip/{name}"), |b| {
            b.iter(|| black_box(pair.round_trip()));
        });
        // And still, after millions of calls (no limit reached on the way).
        pair.check_round_trip();
    }
    group.finish();
}

criterion_group!(benches, call_round_trip);
criterion_main!(benches);

/// One core with a callee that registered [`PROCEDURE`] and a caller, both
/// joined, and what the client side sends pre-encoded.
struct Pair {
    caller: Client,
    callee: Client,
    /// CALL of [`PROCEDURE`] with the argument, but for its request id.
    call: Template,
    /// YIELD of the argument, but for its request id.
    yield_: Template,
    /// The caller's next request id.
    next_request: u64,
    /// Where CALL and YIELD are built (reused: the router drops each
    /// message's buffer before the next).
    buf: BytesMut,
    /// The argument list: what a RESULT must carry back.
    args: Value,
}

impl Pair {
    /// The core, and both sessions joined and the procedure registered.
    fn new(serializer: Serializer) -> Self {
        let core = core();
        let auth = Arc::new(AuthConfig::anonymous("anonymous"));
        let mut callee = Client::join(&core, serializer, &auth);
        let caller = Client::join(&core, serializer, &auth);
        callee.send_message(&Message::Register(Register {
            request: request_id(1),
            options: Dict::new(),
            procedure: PROCEDURE.into(),
        }));
        match callee.read() {
            Message::Registered(_) => {}
            other => panic!("REGISTER answered with {other:?}"),
        }
        let arg = vec![Value::Str("x".repeat(ARG_BYTES))];
        let payload = Payload::from_values(serializer, &arg, None)
            .unwrap_or_else(|e| panic!("argument not encoded: {e}"));
        let call = Template::new(
            serializer,
            &Message::Call(Call {
                request: request_id(ID_PLACEHOLDER),
                options: Dict::new(),
                procedure: PROCEDURE.into(),
                payload: payload.clone(),
            }),
        );
        let yield_ = Template::new(
            serializer,
            &Message::Yield(Yield {
                request: request_id(ID_PLACEHOLDER),
                options: Dict::new(),
                payload,
            }),
        );
        Self {
            caller,
            callee,
            call,
            yield_,
            next_request: 1,
            buf: BytesMut::with_capacity(1024),
            args: Value::List(arg),
        }
    }

    /// One call: CALL in, INVOCATION out, YIELD in, RESULT out; returns
    /// the RESULT's WAMP message.
    fn round_trip(&mut self) -> Bytes {
        let request = self.next_request;
        self.next_request = if request >= MAX_ID { 1 } else { request + 1 };
        let call = self.call.build(request, &mut self.buf);
        self.caller.send(call);
        let invocation = match codec::decode(self.callee.serializer, self.callee.take_frame()) {
            Ok(Message::Invocation(invocation)) => invocation,
            other => panic!("CALL gave the callee {other:?}"),
        };
        let yield_ = self.yield_.build(invocation.request.get(), &mut self.buf);
        self.callee.send(yield_);
        self.caller.take_frame()
    }

    /// Once, untimed: a round trip ends in the RESULT of the call, echoing
    /// the argument (not, say, a "no such procedure" ERROR).
    fn check_round_trip(&mut self) {
        let request = self.next_request;
        let result = self.round_trip();
        let result = match codec::decode(self.caller.serializer, result) {
            Ok(Message::Result(result)) => result,
            other => panic!("CALL answered with {other:?}"),
        };
        assert_eq!(result.request.get(), request, "RESULT of another call");
        let Payload::Arguments(payload) = result.payload else {
            panic!("RESULT without arguments: {:?}", result.payload);
        };
        assert_eq!(payload.kwargs, None, "RESULT with keyword arguments");
        let echoed = codec::decode_value(payload.serializer, &payload.args)
            .unwrap_or_else(|e| panic!("RESULT's arguments undecodable: {e}"));
        assert_eq!(echoed, self.args, "RESULT's arguments are not the CALL's");
    }
}

/// A client's end of one connection to the core: the router's session on
/// it, and the link whose outbound queue holds what the router sent.
struct Client {
    session: SessionDriver,
    link: Rc<Link>,
    serializer: Serializer,
}

impl Client {
    /// A WebSocket connection on `core` whose client joined [`REALM`] as
    /// caller and callee.
    fn join(core: &Rc<Core>, serializer: Serializer, auth: &Arc<AuthConfig>) -> Self {
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
        let mut roles = Dict::new();
        roles.insert("caller", Dict::new());
        roles.insert("callee", Dict::new());
        let mut details = Dict::new();
        details.insert("roles", roles);
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
    fn send_message(&mut self, message: &Message) {
        let mut buf = BytesMut::new();
        codec::encode(self.serializer, message, &mut buf)
            .unwrap_or_else(|e| panic!("{message:?} not encoded: {e}"));
        self.send(buf.freeze());
    }

    /// Hands one WAMP message to the session as the WebSocket reader does:
    /// once the outbound queue has room, and settled before the next.
    fn send(&mut self, message: Bytes) {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            self.link.outbound.poll_writable(&mut cx).is_ready(),
            "the outbound queue is full: the bench does not drain it"
        );
        let flow = self.session.on_message(message);
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
    fn read(&mut self) -> Message {
        codec::decode(self.serializer, self.take_frame())
            .unwrap_or_else(|e| panic!("the router queued an undecodable message: {e}"))
    }

    /// The WAMP message of the one WebSocket frame the router queued.
    fn take_frame(&mut self) -> Bytes {
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

/// A message encoded once, with its request id cut out; [`Template::build`]
/// puts one in, so a timed iteration copies bytes instead of encoding.
struct Template {
    serializer: Serializer,
    before: Bytes,
    after: Bytes,
}

impl Template {
    /// `message`, whose request id is [`ID_PLACEHOLDER`].
    fn new(serializer: Serializer, message: &Message) -> Self {
        let mut encoded = BytesMut::new();
        codec::encode(serializer, message, &mut encoded)
            .unwrap_or_else(|e| panic!("{message:?} not encoded: {e}"));
        let placeholder = encoded_id(serializer, ID_PLACEHOLDER);
        let mut found = encoded
            .windows(placeholder.len())
            .enumerate()
            .filter(|(_, w)| *w == &placeholder[..])
            .map(|(at, _)| at);
        let (Some(at), None) = (found.next(), found.next()) else {
            panic!("the request id is not once in {message:?}");
        };
        let encoded = encoded.freeze();
        Self {
            serializer,
            before: encoded.slice(..at),
            after: encoded.slice(at + placeholder.len()..),
        }
    }

    /// The message with request id `id`, built in `buf`.
    fn build(&self, id: u64, buf: &mut BytesMut) -> Bytes {
        buf.extend_from_slice(&self.before);
        codec::encode_value(self.serializer, &Value::UInt(id), buf)
            .unwrap_or_else(|e| panic!("id {id} not encoded: {e}"));
        buf.extend_from_slice(&self.after);
        buf.split().freeze()
    }
}

/// How `serializer` encodes request id `id`.
fn encoded_id(serializer: Serializer, id: u64) -> BytesMut {
    let mut out = BytesMut::new();
    codec::encode_value(serializer, &Value::UInt(id), &mut out)
        .unwrap_or_else(|e| panic!("id {id} not encoded: {e}"));
    out
}

fn request_id(id: u64) -> RequestId {
    RequestId::new(id).unwrap_or_else(|| panic!("request id {id} above 2^53"))
}

/// Core 0 of a one-core router with [`REALM`], where anonymous sessions
/// may do everything (the meta API on, as by default).
fn core() -> Rc<Core> {
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
        1,
        FlowControl::default(),
        Limits::default(),
        "bench",
        Drivers {
            clock: Arc::new(SystemClock),
            slow_work: Arc::new(InlineSlowWork),
        },
    );
    Rc::new(Core::new(0, Arc::new(shared)))
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
