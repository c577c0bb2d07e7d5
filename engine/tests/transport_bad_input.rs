//! Bad input from one peer: each gets the right close code, HTTP status,
//! ABORT or ERROR, and other sessions keep working.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use ringbar_engine::config::IoBackend;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Message;
use ringbar_protocol::value::Dict;
use ringbar_protocol::websocket::{OpCode, encode_frame};
use support::{Client, TestRouter, Transport, join, publish, subscribe};

/// After the bad peer is gone, a fresh pair of sessions still routes.
fn still_routes(router: &TestRouter) {
    let mut sub = Client::connect(router, Transport::WebSocket(Serializer::Json));
    join(&mut sub, "realm1");
    subscribe(&mut sub, "com.after", Dict::new());
    let mut publisher = Client::connect(router, Transport::RawSocket(Serializer::MsgPack));
    join(&mut publisher, "realm1");
    publish(&mut publisher, "com.after", Dict::new(), &[]);
    assert!(matches!(sub.recv(), Some(Message::Event(_))));
}

fn joined_ws(router: &TestRouter) -> Client {
    let mut c = Client::connect(router, Transport::WebSocket(Serializer::Json));
    join(&mut c, "realm1");
    c
}

fn expect_close(c: &mut Client, code: u16) {
    while c.recv().is_some() {}
    assert_eq!(c.closed, Some(code));
}

#[test]
fn unmasked_client_frame_closes_with_1002() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut c = joined_ws(&router);
    let mut frame = BytesMut::new();
    encode_frame(true, OpCode::Text, None, b"[1]", &mut frame);
    c.send_bytes(&frame);
    expect_close(&mut c, 1002);
    still_routes(&router);
}

#[test]
fn invalid_utf8_text_closes_with_1007() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut c = joined_ws(&router);
    let mut frame = BytesMut::new();
    encode_frame(
        true,
        OpCode::Text,
        Some([1, 2, 3, 4]),
        b"[16,1,{},\"\xff\xfe\"]",
        &mut frame,
    );
    c.send_bytes(&frame);
    expect_close(&mut c, 1007);
    still_routes(&router);
}

#[test]
fn oversized_message_closes_with_1009() {
    let router = TestRouter::start(1, IoBackend::Uring);
    let mut c = joined_ws(&router);
    // The router allows 1 MiB; announce 2 MiB and send only the start.
    let mut frame = BytesMut::new();
    encode_frame(
        true,
        OpCode::Text,
        Some([1, 2, 3, 4]),
        &vec![b' '; 2 << 20],
        &mut frame,
    );
    c.send_bytes(&frame[..64 * 1024]);
    expect_close(&mut c, 1009);
    still_routes(&router);
}

#[test]
fn unsupported_subprotocol_gets_http_400() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut s = TcpStream::connect(("127.0.0.1", router.ws_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: wamp.2.flatbuffers\r\n\r\n",
    )
    .unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("wamp.2.json"),
        "the answer names what is spoken: {response}"
    );
    still_routes(&router);
}

#[test]
fn unknown_message_type_is_a_protocol_violation() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut c = joined_ws(&router);
    c.send_raw(b"[999, 1, {}]");
    match c.recv() {
        Some(Message::Abort(a)) => assert_eq!(a.reason.as_str(), "wamp.error.protocol_violation"),
        other => panic!("expected ABORT, got {other:?}"),
    }
    let mut c = joined_ws(&router);
    c.send_raw(b"[16, 1, {\"acknowledge\": \"yes\"}, \"com.t\"]");
    match c.recv() {
        Some(Message::Abort(a)) => assert_eq!(a.reason.as_str(), "wamp.error.protocol_violation"),
        other => panic!("expected ABORT, got {other:?}"),
    }
    still_routes(&router);
}

#[test]
fn bad_rawsocket_handshake_is_refused() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let mut s = TcpStream::connect(("127.0.0.1", router.rs_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Serializer 5 (FlatBuffers) is not spoken: error 1, serializer unsupported.
    s.write_all(&[0x7f, 0xf5, 0, 0]).unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [0x7f, 0x10, 0, 0]);
    still_routes(&router);
}

#[test]
fn a_thousand_abrupt_disconnects_leave_nothing_behind() {
    let router = TestRouter::start(2, IoBackend::Epoll);
    // Warm up allocator pools before the baseline.
    for _ in 0..100 {
        let _ = joined_ws(&router);
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = support::rss_bytes();
    for i in 0..1000 {
        let transport = if i % 2 == 0 {
            Transport::WebSocket(Serializer::Json)
        } else {
            Transport::RawSocket(Serializer::Cbor)
        };
        let mut c = Client::connect(&router, transport);
        join(&mut c, "realm1");
        subscribe(&mut c, &format!("com.churn.t{}", i % 50), Dict::new());
        drop(c);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while router.sessions() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(router.sessions(), 0, "sessions left behind");
    let after = support::rss_bytes();
    println!("RSS before {} KiB, after {} KiB", before >> 10, after >> 10);
    assert!(
        after < before + (16 << 20),
        "RSS grew from {before} to {after} bytes"
    );
    still_routes(&router);
}

#[test]
fn a_second_router_on_the_same_port_fails_to_start() {
    let router = TestRouter::start(2, IoBackend::Epoll);
    let second = ringbar_engine::Router::start(router.config.clone());
    assert!(
        matches!(second, Err(ringbar_engine::StartError::Bind { .. })),
        "SO_REUSEPORT must not let a second router share the port"
    );
    still_routes(&router);
}
