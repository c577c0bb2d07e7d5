//! The dealer's call path on one core, without I/O: a caller's CALL, the
//! callee's INVOCATION, its YIELD and the caller's RESULT, each message
//! handed to its session and each frame taken from its connection's
//! outbound queue (see `support`). What the figure leaves out is the
//! socket: reads, writes and wake-ups.

// criterion_group! generates an undocumented public function; a bench
// whose fixed setup fails (a refused join, a call answered with an ERROR)
// is a broken bench and must stop, not measure something else.
#![allow(missing_docs, clippy::panic)]

mod support;

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::MAX_ID;
use ringbar_protocol::message::{Call, Message, Payload, Register, Yield};
use ringbar_protocol::value::{Dict, Value};
use ringbar_router::auth::config::AuthConfig;
use std::sync::Arc;
use support::{Client, cores, request_id};

/// The allocator the node runs with (`node/src/main.rs`): the call path
/// allocates, and the system allocator would measure something else.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        let Some(core) = cores(1).pop() else {
            panic!("no core");
        };
        let auth = Arc::new(AuthConfig::anonymous("anonymous"));
        let mut callee = Client::join(&core, serializer, &auth, &["callee"]);
        let caller = Client::join(&core, serializer, &auth, &["caller"]);
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
