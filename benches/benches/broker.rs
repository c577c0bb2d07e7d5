//! The broker's fan-out on one core, without I/O: one tick of a busy
//! router, where a few publications arrive and each goes to every one of a
//! thousand subscribers, whose connections' writers then take what was
//! queued (see `support`). What the figure leaves out is the socket:
//! reads, writes and wake-ups. At a thousand subscribers the sessions,
//! links and queues no longer fit in the core's cache, as in a router under
//! that load.

// criterion_group! generates an undocumented public function; a bench
// whose fixed setup fails (a refused join, a refused subscription) is a
// broken bench and must stop, not measure something else.
#![allow(missing_docs, clippy::panic)]

mod support;

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Message, Payload, Publish, Subscribe};
use ringbar_protocol::value::{Dict, Value};
use ringbar_router::auth::config::AuthConfig;
use ringbar_router::core::{Core, inputs};
use support::{Client, cores, request_id};

/// The allocator the node runs with (`node/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The topic every subscriber subscribes to.
const TOPIC: &str = "com.example.ticks";

/// Subscribers of the topic: the loadtest's fan-out scenario.
const SUBSCRIBERS: usize = 1000;

/// Publications per tick: about what a tick of a saturated core holds at
/// 1 M events/s (docs/BENCHMARKS.md).
const PUBLICATIONS_PER_TICK: usize = 8;

/// Bytes of the one string argument: the loadtest's 64 B payload.
const ARG_BYTES: usize = 64;

/// What a router's writes run through between two ticks, as the bench
/// sweeps it: a thousand sockets' buffers and state, several MiB, more than
/// the core's L2 cache (so routing finds its sessions, links and queues
/// there no more than a router does).
const SOCKET_TRAFFIC: usize = 8 << 20;

fn fanout_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("broker");
    group.throughput(Throughput::Elements(
        (SUBSCRIBERS * PUBLICATIONS_PER_TICK) as u64,
    ));
    let mut sockets = vec![0u8; SOCKET_TRAFFIC];
    let cases = [
        ("json", Serializer::Json, Route::SameCore),
        ("msgpack", Serializer::MsgPack, Route::SameCore),
        ("json_by_mail", Serializer::Json, Route::Mail),
    ];
    for (name, serializer, route) in cases {
        let mut fanout = Fanout::new(serializer, route);
        fanout.check_delivery();
        group.bench_function(
            format!("fanout_tick/{name}/{SUBSCRIBERS}x{PUBLICATIONS_PER_TICK}"),
            |b| {
                b.iter_batched(
                    || sweep(&mut sockets),
                    |()| black_box(fanout.tick()),
                    BatchSize::PerIteration,
                )
            },
        );
        // And still, after millions of events (no queue filled on the way).
        fanout.check_delivery();
    }
    group.finish();
}

criterion_group!(benches, fanout_tick);
criterion_main!(benches);

/// Where the subscribers are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// On the publisher's core.
    SameCore,
    /// On another core, which gets the publications by mail and drains
    /// them in one batch per tick.
    Mail,
}

/// A publisher and [`SUBSCRIBERS`] sessions subscribed to [`TOPIC`] (on
/// the publisher's core or another), and the publication the publisher
/// sends, pre-encoded.
struct Fanout {
    publisher: Client,
    subscribers: Vec<Client>,
    /// The subscribers' core, when it is not the publisher's: its mail is
    /// drained each tick.
    mailed: Option<Rc<Core>>,
    /// PUBLISH of the argument to [`TOPIC`], unacknowledged.
    publish: Bytes,
    /// The argument list: what an EVENT must carry.
    args: Value,
}

impl Fanout {
    fn new(serializer: Serializer, route: Route) -> Self {
        let cores = cores(if route == Route::Mail { 2 } else { 1 });
        let (Some(publishers), Some(subscribers_core)) = (cores.first(), cores.last()) else {
            panic!("no core");
        };
        let auth = Arc::new(AuthConfig::anonymous("anonymous"));
        let publisher = Client::join(publishers, serializer, &auth, &["publisher"]);
        let subscribers = (0..SUBSCRIBERS)
            .map(|i| {
                let mut subscriber =
                    Client::join(subscribers_core, serializer, &auth, &["subscriber"]);
                subscriber.send_message(&Message::Subscribe(Subscribe {
                    request: request_id(i as u64 + 1),
                    options: Dict::new(),
                    topic: TOPIC.into(),
                }));
                match subscriber.read() {
                    Message::Subscribed(_) => subscriber,
                    other => panic!("SUBSCRIBE answered with {other:?}"),
                }
            })
            .collect();
        let arg = vec![Value::Str("x".repeat(ARG_BYTES))];
        let payload = Payload::from_values(serializer, &arg, None)
            .unwrap_or_else(|e| panic!("argument not encoded: {e}"));
        let mut publish = BytesMut::new();
        let message = Message::Publish(Publish {
            request: request_id(1),
            options: Dict::new(),
            topic: TOPIC.into(),
            payload,
        });
        codec::encode(serializer, &message, &mut publish)
            .unwrap_or_else(|e| panic!("{message:?} not encoded: {e}"));
        Self {
            publisher,
            subscribers,
            mailed: (route == Route::Mail).then(|| subscribers_core.clone()),
            publish: publish.freeze(),
            args: Value::List(arg),
        }
    }

    /// Hands the subscribers' core the mail the publisher's core sent it,
    /// as its mail task does.
    fn drain_mail(&self) {
        if let Some(core) = &self.mailed {
            inputs::handle_all_mail(core);
        }
    }

    /// One tick: [`PUBLICATIONS_PER_TICK`] publications read together and
    /// routed, then every subscriber's queue taken as its writer would, in
    /// one batch; returns the bytes taken.
    fn tick(&mut self) -> usize {
        // Read together, as a busy publisher's messages are.
        for n in 1..=PUBLICATIONS_PER_TICK {
            self.publisher
                .send_more(self.publish.clone(), n < PUBLICATIONS_PER_TICK);
        }
        self.drain_mail();
        let mut cx = Context::from_waker(Waker::noop());
        let mut taken = 0;
        for subscriber in &self.subscribers {
            if let Poll::Ready(Some(batch)) = subscriber.link.outbound.poll_next_batch(&mut cx) {
                taken += batch.iter().map(Bytes::len).sum::<usize>();
            }
        }
        taken
    }

    /// Once, untimed: one publication gives every subscriber one EVENT
    /// carrying the argument, and the publisher none.
    fn check_delivery(&mut self) {
        self.publisher.send(self.publish.clone());
        self.drain_mail();
        for subscriber in &mut self.subscribers {
            let event = match subscriber.read() {
                Message::Event(event) => event,
                other => panic!("PUBLISH gave a subscriber {other:?}"),
            };
            let Payload::Arguments(payload) = event.payload else {
                panic!("EVENT without arguments: {:?}", event.payload);
            };
            let args = codec::decode_value(payload.serializer, &payload.args)
                .unwrap_or_else(|e| panic!("EVENT's arguments undecodable: {e}"));
            assert_eq!(args, self.args, "EVENT's arguments are not the PUBLISH's");
        }
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            self.publisher
                .link
                .outbound
                .poll_next_batch(&mut cx)
                .is_pending(),
            "the publisher got its own event"
        );
    }
}

/// Writes to every cache line of `memory`, as the kernel's writes to the
/// sockets do between two ticks.
fn sweep(memory: &mut [u8]) {
    for line in memory.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    black_box(memory);
}
