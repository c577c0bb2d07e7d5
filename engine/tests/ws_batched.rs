//! The batched WebSocket subprotocols (`wamp.2.<serializer>.batched`): a
//! batch is handed to the session one message at a time, in order; a
//! malformed batch closes its connection with 1002 and harms no other.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, event_args, join, publish, req, subscribe};

/// HELLO, SUBSCRIBE and an acknowledged PUBLISH (to itself) in one batch.
fn hello_subscribe_publish() -> [Message; 3] {
    let roles: Dict = [
        ("subscriber", Value::Dict(Dict::new())),
        ("publisher", Value::Dict(Dict::new())),
    ]
    .into_iter()
    .collect();
    [
        Message::Hello(Hello {
            realm: "realm1".into(),
            details: [("roles", Value::Dict(roles))].into_iter().collect(),
        }),
        Message::Subscribe(Subscribe {
            request: req(1),
            options: Dict::new(),
            topic: "com.batch".into(),
        }),
        Message::Publish(Publish {
            request: req(2),
            options: [("acknowledge", true), ("exclude_me", false)]
                .into_iter()
                .collect(),
            topic: "com.batch".into(),
            payload: Payload::Empty,
        }),
    ]
}

#[test]
fn one_batch_carries_a_whole_session_start_in_order() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start(1, io);
        for serializer in Serializer::ALL {
            let mut c = Client::connect(&router, Transport::WebSocketBatched(serializer));
            let [hello, subscribe, publish] = hello_subscribe_publish();
            c.send_batch(&[&hello, &subscribe, &publish]);
            assert!(
                matches!(c.recv(), Some(Message::Welcome(_))),
                "{serializer:?}"
            );
            assert!(
                matches!(c.recv(), Some(Message::Subscribed(_))),
                "{serializer:?}"
            );
            // EVENT and PUBLISHED may come in either order.
            let mut codes = [c.recv(), c.recv()].map(|m| m.map(|m| m.message_type().code()));
            codes.sort();
            assert_eq!(
                codes,
                [Some(17), Some(36)],
                "PUBLISHED, EVENT: {serializer:?}"
            );
        }
    }
}

#[test]
fn batched_and_plain_sessions_exchange_events() {
    let router = TestRouter::start(2, IoBackend::Epoll);
    let mut plain = subscriber(&router, Transport::WebSocket(Serializer::Json), "com.mixed");
    let batched = Transport::WebSocketBatched(Serializer::Ubjson);
    let mut batched = subscriber(&router, batched, "com.mixed");
    let mut publisher = joined(&router, Transport::WebSocketBatched(Serializer::Cbor));
    let args = [
        Value::from("héllo"),
        Value::Int(-3),
        Value::Bytes(vec![0, 1]),
    ];
    publish(&mut publisher, "com.mixed", Dict::new(), &args);
    for c in [&mut plain, &mut batched] {
        match c.recv() {
            Some(Message::Event(e)) => assert_eq!(event_args(&e), Value::List(args.to_vec())),
            other => panic!("expected EVENT, got {other:?}"),
        }
    }
}

#[test]
fn malformed_batches_close_with_1002() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let bystander = Transport::WebSocket(Serializer::MsgPack);
    let mut bystander = subscriber(&router, bystander, "com.after");
    let cases: [(Serializer, &[u8]); 5] = [
        // The last JSON message has no separator.
        (Serializer::Json, b"[1,\"realm1\",{}]"),
        (Serializer::Json, b""),
        // A length prefix announces more than follows.
        (Serializer::MsgPack, &[0, 0, 0, 9, 0x91, 0x01]),
        // A length prefix cut off.
        (Serializer::Cbor, &[0, 0]),
        (Serializer::Ubjson, &[]),
    ];
    for (serializer, batch) in cases {
        let mut c = joined(&router, Transport::WebSocketBatched(serializer));
        c.send_raw(batch);
        while c.recv().is_some() {}
        assert_eq!(c.closed, Some(1002), "{serializer:?} {batch:?}");
    }
    let mut publisher = joined(&router, Transport::WebSocketBatched(Serializer::Json));
    publish(&mut publisher, "com.after", Dict::new(), &[]);
    assert!(matches!(bystander.recv(), Some(Message::Event(_))));
}

/// A client joined to `realm1`.
fn joined(router: &TestRouter, transport: Transport) -> Client {
    let mut c = Client::connect(router, transport);
    join(&mut c, "realm1");
    c
}

/// A client joined to `realm1` and subscribed to `topic`.
fn subscriber(router: &TestRouter, transport: Transport, topic: &str) -> Client {
    let mut c = joined(router, transport);
    subscribe(&mut c, topic, Dict::new());
    c
}
