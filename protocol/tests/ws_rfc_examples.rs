//! RFC 6455 §5.7 example frames, byte for byte, in both directions.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use ringbar_protocol::websocket::{
    DataOpCode, FrameHeader, FrameParser, Incoming, OpCode, ProtocolError, Role, WebSocketConfig,
    encode_frame,
};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Parses `wire` as `role`: no proper prefix may yield an event; returns
/// the events of the whole input, which must be consumed entirely.
fn parse_all(role: Role, wire: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    for cut in 0..wire.len() {
        let mut parser = FrameParser::new(role, WebSocketConfig::default());
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut events = Vec::new();
        while let Some(event) = parser.parse(&mut buf)? {
            events.push(event);
        }
        // Every example completes its one event with its last byte.
        assert!(events.is_empty(), "cut {cut}");
    }
    let mut parser = FrameParser::new(role, WebSocketConfig::default());
    let mut buf = BytesMut::from(wire);
    let mut events = Vec::new();
    while let Some(event) = parser.parse(&mut buf)? {
        events.push(event);
    }
    assert!(buf.is_empty());
    Ok(events)
}

fn text(s: &str) -> Incoming {
    Incoming::Message {
        opcode: DataOpCode::Text,
        payload: Bytes::copy_from_slice(s.as_bytes()),
    }
}

fn encoded(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(fin, opcode, mask, payload, &mut out);
    out.to_vec()
}

#[test]
fn single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(parse_all(Role::Client, &wire).unwrap(), [text("Hello")]);
    assert_eq!(encoded(true, OpCode::Text, None, b"Hello"), wire);
}

#[test]
fn single_frame_masked_text() {
    let wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(parse_all(Role::Server, &wire).unwrap(), [text("Hello")]);
    assert_eq!(encoded(true, OpCode::Text, Some(MASK), b"Hello"), wire);
}

#[test]
fn fragmented_unmasked_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let last = [0x80, 0x02, 0x6c, 0x6f];
    let wire = [&first[..], &last[..]].concat();
    assert_eq!(parse_all(Role::Client, &wire).unwrap(), [text("Hello")]);
    assert_eq!(encoded(false, OpCode::Text, None, b"Hel"), first);
    assert_eq!(encoded(true, OpCode::Continuation, None, b"lo"), last);
}

#[test]
fn unmasked_ping() {
    let wire = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(
        parse_all(Role::Client, &wire).unwrap(),
        [Incoming::Ping(Bytes::from_static(b"Hello"))]
    );
    assert_eq!(encoded(true, OpCode::Ping, None, b"Hello"), wire);
}

#[test]
fn masked_pong() {
    let wire = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        parse_all(Role::Server, &wire).unwrap(),
        [Incoming::Pong(Bytes::from_static(b"Hello"))]
    );
    assert_eq!(encoded(true, OpCode::Pong, Some(MASK), b"Hello"), wire);
}

#[test]
fn binary_256_bytes() {
    let payload: Vec<u8> = (0..=255).collect();
    let header = [0x82, 0x7E, 0x01, 0x00];
    let wire = [&header[..], &payload].concat();
    assert_eq!(
        parse_all(Role::Client, &wire).unwrap(),
        [Incoming::Message {
            opcode: DataOpCode::Binary,
            payload: Bytes::from(payload.clone()),
        }]
    );
    assert_eq!(encoded(true, OpCode::Binary, None, &payload), wire);
}

#[test]
fn binary_64_kib() {
    let header = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    let encoded_header = FrameHeader {
        fin: true,
        opcode: OpCode::Binary,
        mask: None,
        payload_len: 65_536,
    }
    .encode();
    assert_eq!(&*encoded_header, header);

    let payload = vec![0x5a; 65_536];
    let mut buf = BytesMut::from(&[&header[..], &payload].concat()[..]);
    let mut parser = FrameParser::new(Role::Client, WebSocketConfig::default());
    assert_eq!(
        parser.parse(&mut buf).unwrap(),
        Some(Incoming::Message {
            opcode: DataOpCode::Binary,
            payload: Bytes::from(payload),
        })
    );
    assert_eq!(parser.parse(&mut buf).unwrap(), None);
}
