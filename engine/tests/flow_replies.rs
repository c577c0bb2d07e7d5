//! Replies are bounded too: a peer that floods requests whose answers it
//! never reads (WebSocket Pings, meta-API calls) stops being read once its
//! queue is full, so it holds a bounded amount of the router's memory, and
//! other sessions on the core are served meanwhile.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use bytes::BytesMut;
use ringbar_engine::config::{FlowControl, IoBackend};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::{Call, Message, Payload};
use ringbar_protocol::value::Dict;
use ringbar_protocol::websocket::{OpCode, encode_frame};
use support::{Client, TestRouter, Transport, join, req};

/// The queue limit of every session in these tests.
const MAX_QUEUED: usize = 256 << 10;
/// What the flooder tries to send: far more than the router may hold.
const FLOOD: usize = 64 << 20;
/// What the flooder may get the router (and the kernel's buffers on both
/// ends) to take before the router stops reading it.
const TAKEN_BOUND: usize = 24 << 20;

fn router(io: IoBackend) -> TestRouter {
    TestRouter::start_with(
        1,
        io,
        FlowControl {
            max_queued_bytes: MAX_QUEUED,
            ..FlowControl::default()
        },
    )
}

/// Repeats `frame` to about [`FLOOD`] bytes.
fn flood_of(frame: &[u8]) -> Vec<u8> {
    frame.repeat(FLOOD / frame.len())
}

/// Sends `flood` from `flooder`, which never reads, and checks that the
/// router stopped taking it, that the core's queues stay within the limit
/// (plus the answers to one message), and that another session is served.
fn assert_bounded(router: &TestRouter, mut flooder: Client, flood: &[u8]) {
    let taken = flooder.write_until_stalled(flood, Duration::from_secs(2));
    assert!(
        taken < TAKEN_BOUND,
        "the router read {taken} bytes from a peer that reads no answers"
    );
    let queued = router.stats().cores()[0].queued_bytes;
    println!("the router took {taken} bytes and queued {queued}");
    assert!(
        queued <= (MAX_QUEUED + (64 << 10)) as u64,
        "{queued} bytes queued for one session over its {MAX_QUEUED}-byte limit"
    );

    let mut other = Client::connect(router, Transport::WebSocket(Serializer::Json));
    join(&mut other, "realm1");
    other.send(&session_count(&other));
    match other.recv() {
        Some(Message::Result(_)) => {}
        got => panic!("another session got {got:?} instead of its RESULT"),
    }
    drop(flooder);
}

fn session_count(client: &Client) -> Message {
    Message::Call(Call {
        request: req(1),
        options: Dict::new(),
        procedure: "wamp.session.list".into(),
        payload: Payload::from_values(client.serializer(), &[], None).unwrap(),
    })
}

fn pings(io: IoBackend) {
    let router = router(io);
    let flooder = Client::connect(&router, Transport::WebSocket(Serializer::Json));
    let mut ping = BytesMut::new();
    encode_frame(true, OpCode::Ping, Some([1, 2, 3, 4]), &[7; 125], &mut ping);
    assert_bounded(&router, flooder, &flood_of(&ping));
}

fn calls(io: IoBackend) {
    let router = router(io);
    let mut flooder = Client::connect(&router, Transport::RawSocket(Serializer::MsgPack));
    join(&mut flooder, "realm1");
    let call = flooder.framed(&session_count(&flooder));
    assert_bounded(&router, flooder, &flood_of(&call));
}

#[test]
fn a_ping_flood_is_not_read_past_the_queue_limit_epoll() {
    pings(IoBackend::Epoll);
}

#[test]
fn a_ping_flood_is_not_read_past_the_queue_limit_uring() {
    pings(IoBackend::Uring);
}

#[test]
fn a_call_flood_is_not_read_past_the_queue_limit_epoll() {
    calls(IoBackend::Epoll);
}

#[test]
fn a_call_flood_is_not_read_past_the_queue_limit_uring() {
    calls(IoBackend::Uring);
}
