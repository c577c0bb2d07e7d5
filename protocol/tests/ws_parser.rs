//! The frame parser: fragmentation, control frames, errors, UTF-8, limits.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use ringbar_protocol::websocket::{
    CloseCode, CloseFrame, DataOpCode, FrameHeader, FrameParser, Incoming, OpCode, ProtocolError,
    Role, WebSocketConfig, encode_frame,
};

const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// Appends a frame as a client sends it (masked).
fn frame(out: &mut BytesMut, fin: bool, opcode: OpCode, payload: &[u8]) {
    encode_frame(fin, opcode, Some(MASK), payload, out);
}

fn server() -> FrameParser {
    FrameParser::new(Role::Server, WebSocketConfig::default())
}

/// Every event in `buf`, then the error that stopped parsing, if any.
fn drain(parser: &mut FrameParser, buf: &mut BytesMut) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut events = Vec::new();
    loop {
        match parser.parse(buf) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => return (events, Some(error)),
        }
    }
}

/// The error that `wire` ends in, if it is refused.
fn error_of(role: Role, config: WebSocketConfig, wire: &[u8]) -> Option<ProtocolError> {
    let mut parser = FrameParser::new(role, config);
    drain(&mut parser, &mut BytesMut::from(wire)).1
}

fn text(s: &str) -> Incoming {
    Incoming::Message {
        opcode: DataOpCode::Text,
        payload: Bytes::copy_from_slice(s.as_bytes()),
    }
}

#[test]
fn control_frames_between_fragments() {
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Binary, b"ab");
    frame(&mut buf, true, OpCode::Ping, b"p1");
    frame(&mut buf, false, OpCode::Continuation, b"");
    frame(&mut buf, true, OpCode::Pong, b"p2");
    frame(&mut buf, true, OpCode::Continuation, b"cd");
    frame(&mut buf, true, OpCode::Text, b"next");
    let (events, error) = drain(&mut server(), &mut buf);
    assert_eq!(error, None);
    assert_eq!(
        events,
        [
            Incoming::Ping(Bytes::from_static(b"p1")),
            Incoming::Pong(Bytes::from_static(b"p2")),
            Incoming::Message {
                opcode: DataOpCode::Binary,
                payload: Bytes::from_static(b"abcd"),
            },
            text("next"),
        ]
    );
    assert!(buf.is_empty());
}

#[test]
fn close_frames() {
    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Close, b"\x03\xe8done");
    let (events, _) = drain(&mut server(), &mut buf);
    assert_eq!(
        events,
        [Incoming::Close(Some(CloseFrame {
            code: CloseCode::NORMAL_CLOSURE,
            reason: "done".into(),
        }))]
    );

    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Close, b"");
    let (events, _) = drain(&mut server(), &mut buf);
    assert_eq!(events, [Incoming::Close(None)]);
}

#[test]
fn protocol_errors_close_with_1002() {
    let default = WebSocketConfig::default;
    let mut cases: Vec<(Role, Vec<u8>, ProtocolError)> = Vec::new();
    let mut masked = |build: &dyn Fn(&mut BytesMut), error| {
        let mut buf = BytesMut::new();
        build(&mut buf);
        cases.push((Role::Server, buf.to_vec(), error));
    };
    masked(
        &|b| frame(b, true, OpCode::Continuation, b"x"),
        ProtocolError::UnexpectedContinuation,
    );
    masked(
        &|b| {
            frame(b, false, OpCode::Text, b"a");
            frame(b, true, OpCode::Binary, b"b");
        },
        ProtocolError::ExpectedContinuation,
    );
    masked(
        &|b| frame(b, true, OpCode::Close, b"\x03"),
        ProtocolError::InvalidCloseLength,
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        masked(
            &|b| frame(b, true, OpCode::Close, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode(code),
        );
    }
    cases.push((
        Role::Server,
        vec![0x81, 0x02, b'h', b'i'],
        ProtocolError::UnmaskedFrame,
    ));
    cases.push((
        Role::Client,
        vec![0x81, 0x82, 1, 2, 3, 4, b'h', b'i'],
        ProtocolError::MaskedFrame,
    ));
    cases.push((
        Role::Client,
        vec![0xA1, 0x00],
        ProtocolError::ReservedBitsSet,
    ));
    cases.push((
        Role::Client,
        vec![0x87, 0x00],
        ProtocolError::UnknownOpCode(7),
    ));
    cases.push((
        Role::Client,
        vec![0x09, 0x00],
        ProtocolError::FragmentedControlFrame,
    ));
    cases.push((
        Role::Client,
        vec![0x8A, 0x7E, 0x00, 0x7E],
        ProtocolError::ControlFrameTooLong(126),
    ));
    for (role, wire, expected) in cases {
        let error = error_of(role, default(), &wire).unwrap();
        assert_eq!(error, expected, "{wire:02x?}");
        assert_eq!(error.close_code().as_u16(), 1002, "{error}");
    }
}

#[test]
fn invalid_utf8_closes_with_1007() {
    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Text, b"caf\xc3");
    let error = error_of(Role::Server, WebSocketConfig::default(), &buf).unwrap();
    assert_eq!(error, ProtocolError::InvalidUtf8);
    assert_eq!(error.close_code().as_u16(), 1007);

    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Close, b"\x03\xe8\xff");
    let error = error_of(Role::Server, WebSocketConfig::default(), &buf).unwrap();
    assert_eq!(error, ProtocolError::InvalidCloseReason);
    assert_eq!(error.close_code().as_u16(), 1007);

    // Binary messages are not text.
    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Binary, b"\xff");
    assert_eq!(drain(&mut server(), &mut buf).1, None);
}

#[test]
fn invalid_utf8_fails_before_the_last_fragment() {
    let mut parser = server();
    let mut buf = BytesMut::new();
    // A valid start, then an overlong encoding of '/'.
    frame(&mut buf, false, OpCode::Text, b"ok \xc0\xaf");
    assert_eq!(parser.parse(&mut buf), Err(ProtocolError::InvalidUtf8));

    // A lead byte whose continuation, in the next fragment, is wrong.
    let mut parser = server();
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Text, b"\xf0\x9d");
    assert_eq!(parser.parse(&mut buf), Ok(None));
    frame(&mut buf, false, OpCode::Continuation, b"A");
    assert_eq!(parser.parse(&mut buf), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn four_byte_code_point_split_across_fragments() {
    let clef = "𝄞".as_bytes();
    assert_eq!(clef.len(), 4);
    for split in 1..4 {
        let mut buf = BytesMut::new();
        frame(&mut buf, false, OpCode::Text, &clef[..split]);
        frame(&mut buf, true, OpCode::Continuation, &clef[split..]);
        let (events, error) = drain(&mut server(), &mut buf);
        assert_eq!(error, None, "split {split}");
        assert_eq!(events, [text("𝄞")]);
    }
    // One byte per fragment, with a Ping in the middle.
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Text, &clef[..1]);
    frame(&mut buf, false, OpCode::Continuation, &clef[1..2]);
    frame(&mut buf, true, OpCode::Ping, b"");
    frame(&mut buf, false, OpCode::Continuation, &clef[2..3]);
    frame(&mut buf, true, OpCode::Continuation, &clef[3..]);
    let (events, error) = drain(&mut server(), &mut buf);
    assert_eq!(error, None);
    assert_eq!(events, [Incoming::Ping(Bytes::new()), text("𝄞")]);

    // A message that ends inside a code point is invalid.
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Text, &clef[..2]);
    frame(&mut buf, true, OpCode::Continuation, &clef[2..3]);
    assert_eq!(
        drain(&mut server(), &mut buf).1,
        Some(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn huge_frame_fails_at_the_header_without_allocating() {
    let config = WebSocketConfig {
        max_frame_bytes: 1 << 20,
        max_message_bytes: 1 << 20,
        ..WebSocketConfig::default()
    };
    let header = FrameHeader {
        fin: true,
        opcode: OpCode::Binary,
        mask: Some(MASK),
        payload_len: 1 << 40,
    }
    .encode();
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&header);
    let capacity = buf.capacity();
    let mut parser = FrameParser::new(Role::Server, config);
    let error = parser.parse(&mut buf).unwrap_err();
    assert_eq!(
        error,
        ProtocolError::FrameTooLarge {
            len: 1 << 40,
            max: 1 << 20
        }
    );
    assert_eq!(error.close_code().as_u16(), 1009);
    assert_eq!(buf.capacity(), capacity, "no memory reserved");
    assert_eq!(buf.len(), header.len(), "nothing consumed");
}

#[test]
fn message_limit_counts_every_fragment() {
    let config = WebSocketConfig {
        max_frame_bytes: 1000,
        max_message_bytes: 1500,
        ..WebSocketConfig::default()
    };
    let mut parser = FrameParser::new(Role::Server, config.clone());
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Binary, &[0; 1000]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    // Only the header of the second fragment has arrived.
    let header = FrameHeader {
        fin: true,
        opcode: OpCode::Continuation,
        mask: Some(MASK),
        payload_len: 501,
    }
    .encode();
    buf.extend_from_slice(&header);
    let error = parser.parse(&mut buf).unwrap_err();
    assert_eq!(
        error,
        ProtocolError::MessageTooLarge {
            len: 1501,
            max: 1500
        }
    );
    assert_eq!(error.close_code().as_u16(), 1009);

    // Exactly at the limit is fine.
    let mut parser = FrameParser::new(Role::Server, config.clone());
    let mut buf = BytesMut::new();
    frame(&mut buf, false, OpCode::Binary, &[0; 1000]);
    frame(&mut buf, true, OpCode::Continuation, &[0; 500]);
    let (events, error) = drain(&mut parser, &mut buf);
    assert_eq!((events.len(), error), (1, None));

    // A single frame over the frame limit, judged by its 8-byte header.
    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Binary, &[0; 1001]);
    assert_eq!(
        error_of(Role::Server, config, &buf[..8]),
        Some(ProtocolError::FrameTooLarge {
            len: 1001,
            max: 1000
        })
    );
}

#[test]
fn input_after_close_is_discarded() {
    let mut parser = server();
    let mut buf = BytesMut::new();
    frame(&mut buf, true, OpCode::Close, b"\x03\xe9");
    frame(&mut buf, true, OpCode::Text, b"late");
    assert!(matches!(
        parser.parse(&mut buf),
        Ok(Some(Incoming::Close(_)))
    ));
    assert!(parser.is_closed());
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert!(buf.is_empty());
    buf.extend_from_slice(b"\xff\xff garbage");
    assert_eq!(parser.parse(&mut buf), Ok(None));
}
