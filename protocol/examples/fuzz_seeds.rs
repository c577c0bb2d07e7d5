//! Writes the fuzz targets' seed corpora into `fuzz/seeds/<target>/`.
//!
//! Run from the workspace root after changing a wire format:
//! `cargo run -p ringbar-protocol --example fuzz_seeds`. The seeds are
//! valid inputs the targets' mutations start from; the test suite replays
//! them (`protocol/tests/fuzz_corpus.rs`).

// Builds constant seed data: a failed expect is a bug in this tool.
#![allow(clippy::expect_used)]

use std::path::Path;

use bytes::BytesMut;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::*;
use ringbar_protocol::rawsocket::{
    FrameEncoder, FrameType, HandshakeReply, HandshakeRequest, MaxMessageLength,
};
use ringbar_protocol::value::{Dict, Value};
use ringbar_protocol::websocket::deflate::Compressor;
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{CloseCode, OpCode, encode_close_payload, encode_frame};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    for (name, serializer) in [
        ("codec_json", Serializer::Json),
        ("codec_msgpack", Serializer::MsgPack),
        ("codec_cbor", Serializer::Cbor),
        ("codec_ubjson", Serializer::Ubjson),
    ] {
        let messages = messages(serializer);
        let mut seeds: Vec<Vec<u8>> = messages.iter().map(|m| encoded(serializer, m)).collect();
        // The codec targets also read their input as a batched WebSocket
        // message: start some mutations from real batches.
        seeds.extend(messages.chunks(8).map(|batch| batched(serializer, batch)));
        write(&root, name, seeds)?;
    }
    write(&root, "websocket_frames", websocket_frames())?;
    write(&root, "websocket_handshake", websocket_handshakes())?;
    write(&root, "websocket_extensions", websocket_extensions())?;
    write(&root, "rawsocket_frames", rawsocket_frames())?;
    write(&root, "rawsocket_handshake", rawsocket_handshakes())?;
    Ok(())
}

fn write(root: &Path, target: &str, seeds: Vec<Vec<u8>>) -> std::io::Result<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), seed)?;
    }
    println!("{target}: {} seeds", seeds.len());
    Ok(())
}

fn encoded(serializer: Serializer, message: &Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    codec::encode(serializer, message, &mut out).expect("seed messages encode");
    out.to_vec()
}

fn batched(serializer: Serializer, messages: &[Message]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for m in messages {
        codec::batch::encode_batched(serializer, m, &mut out).expect("seed messages encode");
    }
    out.to_vec()
}

/// One message of every type, with the options and payload shapes peers send.
fn messages(s: Serializer) -> Vec<Message> {
    let req = |v| RequestId::new(v).expect("small id");
    let roles: Dict = [(
        "roles",
        Value::Dict(
            [
                ("publisher", Value::Dict(Dict::new())),
                ("subscriber", Value::Dict(Dict::new())),
            ]
            .into_iter()
            .collect(),
        ),
    )]
    .into_iter()
    .collect();
    let args = |s| {
        let kwargs: Dict = [("count", Value::UInt(5)), ("ok", Value::Bool(true))]
            .into_iter()
            .collect();
        let list = [
            Value::from("Hello, world!"),
            Value::Int(-42),
            Value::Float(1.5),
            Value::Bytes(vec![0, 1, 2, 255]),
            Value::List(vec![Value::Null, Value::UInt(u64::MAX)]),
        ];
        Payload::from_values(s, &list, Some(&kwargs)).expect("seed payload encodes")
    };
    let options: Dict = [
        ("acknowledge", Value::Bool(true)),
        ("exclude", Value::List(vec![Value::UInt(123)])),
    ]
    .into_iter()
    .collect();
    vec![
        Message::Hello(Hello {
            realm: "realm1".into(),
            details: roles.clone(),
        }),
        Message::Welcome(Welcome {
            session: SessionId::new(9_129_137_332).expect("id"),
            details: roles,
        }),
        Message::Abort(Abort {
            details: Dict::new(),
            reason: "wamp.error.no_such_realm".into(),
        }),
        Message::Challenge(Challenge {
            authmethod: "wampcra".into(),
            extra: Dict::new(),
        }),
        Message::Authenticate(Authenticate {
            signature: "c2lnbmF0dXJl".into(),
            extra: Dict::new(),
        }),
        Message::Goodbye(Goodbye {
            details: Dict::new(),
            reason: "wamp.close.normal".into(),
        }),
        Message::Error(Error {
            request_type: 48,
            request: req(7),
            details: Dict::new(),
            error: "com.myapp.error".into(),
            payload: args(s),
        }),
        Message::Publish(Publish {
            request: req(1),
            options,
            topic: "com.myapp.topic1".into(),
            payload: args(s),
        }),
        Message::Publish(Publish {
            request: req(2),
            options: [("ppt_scheme", "x_custom")].into_iter().collect(),
            topic: "com.myapp.opaque".into(),
            payload: Payload::Transparent(vec![0x82, 0xa5, 0x63].into()),
        }),
        Message::Published(Published {
            request: req(1),
            publication: PublicationId::new(4_429_313_566).expect("id"),
        }),
        Message::Subscribe(Subscribe {
            request: req(3),
            options: [("match", "prefix")].into_iter().collect(),
            topic: "com.myapp".into(),
        }),
        Message::Subscribed(Subscribed {
            request: req(3),
            subscription: SubscriptionId::new(5_512_315_355).expect("id"),
        }),
        Message::Unsubscribe(Unsubscribe {
            request: req(4),
            subscription: SubscriptionId::new(5_512_315_355).expect("id"),
        }),
        Message::Unsubscribed(Unsubscribed {
            request: req(4),
            details: None,
        }),
        Message::Event(Event {
            subscription: SubscriptionId::new(5_512_315_355).expect("id"),
            publication: PublicationId::new(4_429_313_566).expect("id"),
            details: [("topic", "com.myapp.topic1")].into_iter().collect(),
            payload: args(s),
        }),
        Message::EventReceived(EventReceived {
            publication: PublicationId::new(77).expect("id"),
            details: None,
            payload: Payload::Empty,
        }),
        Message::Call(Call {
            request: req(5),
            options: [
                ("timeout", Value::UInt(1000)),
                ("receive_progress", Value::Bool(true)),
            ]
            .into_iter()
            .collect(),
            procedure: "com.myapp.add2".into(),
            payload: args(s),
        }),
        Message::Cancel(Cancel {
            request: req(5),
            options: [("mode", "kill")].into_iter().collect(),
        }),
        Message::Result(Result {
            request: req(5),
            details: [("progress", true)].into_iter().collect(),
            payload: args(s),
        }),
        Message::Register(Register {
            request: req(6),
            options: [("invoke", "roundrobin")].into_iter().collect(),
            procedure: "com.myapp.add2".into(),
        }),
        Message::Registered(Registered {
            request: req(6),
            registration: RegistrationId::new(2_103_333_224).expect("id"),
        }),
        Message::Unregister(Unregister {
            request: req(8),
            registration: RegistrationId::new(2_103_333_224).expect("id"),
        }),
        Message::Unregistered(Unregistered {
            request: req(8),
            details: None,
        }),
        Message::Invocation(Invocation {
            request: req(9),
            registration: RegistrationId::new(2_103_333_224).expect("id"),
            details: Dict::new(),
            payload: args(s),
        }),
        Message::Interrupt(Interrupt {
            request: req(9),
            options: [("mode", "killnowait")].into_iter().collect(),
        }),
        Message::Yield(Yield {
            request: req(9),
            options: Dict::new(),
            payload: args(s),
        }),
    ]
}

/// Control byte, then frames: masked for the server role (even control
/// byte), unmasked for the client role (odd).
fn websocket_frames() -> Vec<Vec<u8>> {
    let json = encoded(Serializer::Json, &messages(Serializer::Json)[7]);
    let mut seeds = Vec::new();
    for (ctl, mask) in [
        (0u8, Some([0x37, 0xfa, 0x21, 0x3d])),
        (1, None),
        (0x40, Some([1, 2, 3, 4])),
    ] {
        let mut out = BytesMut::new();
        out.extend_from_slice(&[ctl]);
        encode_frame(true, OpCode::Text, mask, &json, &mut out);
        encode_frame(false, OpCode::Text, mask, "Hé".as_bytes(), &mut out);
        encode_frame(true, OpCode::Ping, mask, b"ping", &mut out);
        encode_frame(
            true,
            OpCode::Continuation,
            mask,
            "llo €".as_bytes(),
            &mut out,
        );
        encode_frame(true, OpCode::Binary, mask, &[0u8; 300], &mut out);
        let mut close = BytesMut::new();
        encode_close_payload(CloseCode::NORMAL_CLOSURE, "bye", &mut close);
        encode_frame(true, OpCode::Close, mask, &close, &mut out);
        seeds.push(out.to_vec());
    }
    // permessage-deflate (top bit of the control byte): compressed
    // messages, one fragmented, around an uncompressed one.
    for (ctl, mask) in [(0x80u8, Some([9, 8, 7, 6])), (0xc1, None)] {
        let mut compressor = Compressor::new(15, ctl & 0x40 != 0);
        let mut out = BytesMut::new();
        out.extend_from_slice(&[ctl]);
        for payload in [&json[..], &json[..], "Hé".as_bytes()] {
            let frame = compressor
                .frame(OpCode::Text, payload, mask)
                .expect("seed compresses");
            out.extend_from_slice(&frame);
        }
        encode_frame(true, OpCode::Text, mask, &json, &mut out);
        seeds.push(out.to_vec());
    }
    seeds
}

/// `Sec-WebSocket-Extensions` values, one header per line: offers as
/// browsers and Autobahn send them, and a server's answer.
fn websocket_extensions() -> Vec<Vec<u8>> {
    [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=9; client_max_window_bits=10, permessage-deflate\nx-foo",
        "permessage-deflate; server_max_window_bits=\"12\", x-webkit-deflate-frame",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn websocket_handshakes() -> Vec<Vec<u8>> {
    let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: wamp.2.msgpack, wamp.2.json\r\n\
        Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n";
    let client = ClientHandshake::new("localhost", "/ws", &["wamp.2.json"], [7; 16])
        .expect("valid client handshake");
    let accept = ringbar_protocol::websocket::handshake::accept_key(client.key());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
    );
    vec![request.as_bytes().to_vec(), response.into_bytes()]
}

fn rawsocket_frames() -> Vec<Vec<u8>> {
    let json = encoded(Serializer::Json, &messages(Serializer::Json)[7]);
    let encoder = FrameEncoder::new(MaxMessageLength::MAX);
    let mut seeds = Vec::new();
    for ctl in [0x0fu8, 0x31, 0x00] {
        let mut out = BytesMut::new();
        out.extend_from_slice(&[ctl]);
        for (ty, payload) in [
            (FrameType::Message, &json[..]),
            (FrameType::Ping, b"ping"),
            (FrameType::Pong, b"ping"),
            (FrameType::Message, &[0x91, 0x01]),
        ] {
            encoder.encode(ty, payload, &mut out).expect("frame fits");
        }
        seeds.push(out.to_vec());
    }
    seeds
}

fn rawsocket_handshakes() -> Vec<Vec<u8>> {
    Serializer::ALL
        .into_iter()
        .map(|serializer| {
            let max_message_length = MaxMessageLength::from_exponent(15).expect("exponent");
            let request = HandshakeRequest {
                serializer,
                max_message_length,
            };
            let reply = HandshakeReply::Accepted {
                serializer,
                max_message_length,
            };
            [request.to_bytes(), reply.to_bytes()].concat()
        })
        .collect()
}
