//! Pub/sub through a running router, with clients on every transport and
//! serializer, on both I/O backends and across cores: what needs a socket.
//! The broker's logic (match policies, exclusion, lists, retained events,
//! refusals) is tested on the simulation (`engine/src/sim/tests`).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::rawsocket::MaxMessageLength;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, event_args, join, publish, req, subscribe};

const TRANSPORTS: [Transport; 12] = [
    Transport::WebSocket(Serializer::Json),
    Transport::WebSocket(Serializer::MsgPack),
    Transport::WebSocket(Serializer::Cbor),
    Transport::WebSocket(Serializer::Ubjson),
    Transport::WebSocketBatched(Serializer::Json),
    Transport::WebSocketBatched(Serializer::MsgPack),
    Transport::WebSocketBatched(Serializer::Cbor),
    Transport::WebSocketBatched(Serializer::Ubjson),
    Transport::RawSocket(Serializer::Json),
    Transport::RawSocket(Serializer::MsgPack),
    Transport::RawSocket(Serializer::Cbor),
    Transport::RawSocket(Serializer::Ubjson),
];

fn fan_out_to_every_transport(cores: usize, io: IoBackend) {
    let router = TestRouter::start(cores, io);
    // More subscribers than cores, so connections land on every core.
    let mut subscribers: Vec<Client> = (0..12)
        .map(|i| Client::connect(&router, TRANSPORTS[i % TRANSPORTS.len()]))
        .collect();
    let mut ids = Vec::new();
    for s in &mut subscribers {
        join(s, "realm1");
        ids.push(subscribe(s, "com.example.topic", Dict::new()));
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one subscription id for one topic: {ids:?}"
    );
    for publisher_transport in TRANSPORTS {
        let mut publisher = Client::connect(&router, publisher_transport);
        join(&mut publisher, "realm1");
        let args = [
            Value::UInt(1 << 53),
            Value::Int(-7),
            Value::Float(1.5),
            Value::from("héllo"),
            Value::List(vec![Value::Null]),
        ];
        for n in 0..20u64 {
            let mut a = args.to_vec();
            a.push(Value::UInt(n));
            publish(&mut publisher, "com.example.topic", Dict::new(), &a);
        }
        for s in &mut subscribers {
            for n in 0..20u64 {
                match s.recv() {
                    Some(Message::Event(e)) => {
                        let mut want = args.to_vec();
                        want.push(Value::UInt(n));
                        assert_eq!(
                            event_args(&e),
                            Value::List(want),
                            "{publisher_transport:?} -> {:?}",
                            s.serializer()
                        );
                    }
                    other => panic!("expected EVENT, got {other:?}"),
                }
            }
        }
    }
}

#[test]
fn fan_out_one_core_epoll() {
    fan_out_to_every_transport(1, IoBackend::Epoll);
}

#[test]
fn fan_out_two_cores_epoll() {
    fan_out_to_every_transport(2, IoBackend::Epoll);
}

#[test]
fn fan_out_two_cores_uring() {
    fan_out_to_every_transport(2, IoBackend::Uring);
}

#[test]
fn an_event_longer_than_a_rawsocket_subscriber_accepts_is_not_sent_to_it() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    // Exponent 1: the subscriber accepts messages of at most 1024 bytes
    // (room for the WELCOME, which announces broker and dealer features).
    let mut small = Client::connect_with(
        &router,
        Transport::RawSocket(Serializer::Json),
        MaxMessageLength::from_exponent(1).unwrap(),
    );
    join(&mut small, "realm1");
    subscribe(&mut small, "com.sized", Dict::new());
    let mut big = Client::connect(&router, Transport::RawSocket(Serializer::Json));
    join(&mut big, "realm1");
    subscribe(&mut big, "com.sized", Dict::new());
    let mut publisher = Client::connect(&router, Transport::WebSocket(Serializer::Json));
    join(&mut publisher, "realm1");
    let long = Value::from("x".repeat(2000).as_str());
    publish(
        &mut publisher,
        "com.sized",
        Dict::new(),
        std::slice::from_ref(&long),
    );
    publish(&mut publisher, "com.sized", Dict::new(), &[Value::UInt(2)]);
    for (who, expected) in [
        (
            &mut big,
            vec![Value::List(vec![long]), Value::List(vec![Value::UInt(2)])],
        ),
        (&mut small, vec![Value::List(vec![Value::UInt(2)])]),
    ] {
        for want in expected {
            match who.recv() {
                Some(Message::Event(e)) => assert_eq!(event_args(&e), want),
                other => panic!("expected EVENT, got {other:?}"),
            }
        }
    }
}

#[test]
fn shutdown_says_goodbye() {
    let mut router = TestRouter::start(2, IoBackend::Epoll);
    let mut c = Client::connect(&router, Transport::WebSocket(Serializer::Json));
    join(&mut c, "realm1");
    router.stop();
    match c.recv() {
        Some(Message::Goodbye(g)) => assert_eq!(g.reason.as_str(), "wamp.close.system_shutdown"),
        other => panic!("expected GOODBYE, got {other:?}"),
    }
}

/// Frames that arrive in several reads (a RawSocket prefix in one segment,
/// its message in the next) are reassembled, on both I/O backends.
#[test]
fn frames_split_across_reads_are_reassembled() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let router = TestRouter::start(1, io);
        for transport in TRANSPORTS {
            let mut sub = Client::connect(&router, transport);
            join(&mut sub, "realm1");
            subscribe(&mut sub, "com.split", Dict::new());
            let mut publisher = Client::connect(&router, transport);
            join(&mut publisher, "realm1");
            let payload = Payload::from_values(
                publisher.serializer(),
                &[Value::from("x".repeat(300))],
                None,
            )
            .unwrap();
            publisher.send_split(&Message::Publish(Publish {
                request: req(9),
                options: Dict::new(),
                topic: "com.split".into(),
                payload,
            }));
            match sub.recv() {
                Some(Message::Event(e)) => assert_eq!(
                    event_args(&e),
                    Value::List(vec![Value::from("x".repeat(300))])
                ),
                other => panic!("{io:?} {transport:?}: expected EVENT, got {other:?}"),
            }
        }
    }
}
