//! permessage-deflate on the wire: RFC 7692's examples, the RSV1 rules,
//! round trips through both directions, and the bounded inflate.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use ringbar_protocol::websocket::deflate::{Compressor, Decompressor, DeflateParams};
use ringbar_protocol::websocket::{
    DataOpCode, FrameHeader, FrameParser, Incoming, OpCode, ProtocolError, Role, WebSocketConfig,
    encode_frame,
};

const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn client(no_context_takeover: bool) -> FrameParser {
    FrameParser::new(Role::Client, WebSocketConfig::default())
        .with_deflate(Decompressor::new(15, no_context_takeover))
}

fn server_with(config: WebSocketConfig) -> FrameParser {
    FrameParser::new(Role::Server, config).with_deflate(Decompressor::new(15, false))
}

/// Every event the parser yields from `bytes`, and the error that stopped
/// it, if any.
fn drain(parser: &mut FrameParser, bytes: &[u8]) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut buf = BytesMut::from(bytes);
    let mut events = Vec::new();
    loop {
        match parser.parse(&mut buf) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

fn text(s: &str) -> Incoming {
    Incoming::Message {
        opcode: DataOpCode::Text,
        payload: Bytes::copy_from_slice(s.as_bytes()),
    }
}

#[test]
fn rfc_7692_examples() {
    // §7.2.3.1: "Hello" in one frame, then in two fragments.
    let (events, error) = drain(
        &mut client(false),
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    assert_eq!((events, error), (vec![text("Hello")], None));
    let (events, error) = drain(
        &mut client(false),
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
    );
    assert_eq!((events, error), (vec![text("Hello")], None));
    // §7.2.3.2: the second "Hello" refers back into the first message.
    let (events, error) = drain(
        &mut client(false),
        &[
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
            0x00, 0x00,
        ],
    );
    assert_eq!((events, error), (vec![text("Hello"), text("Hello")], None));
    // §7.2.3.3: a stored block; §7.2.3.4: a final block (BFINAL set).
    let (events, error) = drain(
        &mut client(false),
        &[
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ],
    );
    assert_eq!((events, error), (vec![text("Hello")], None));
    let mut parser = client(false);
    let (events, error) = drain(
        &mut parser,
        &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
    );
    assert_eq!((events, error), (vec![text("Hello")], None));
    // After a final block the stream starts afresh.
    let (events, error) = drain(
        &mut parser,
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    assert_eq!((events, error), (vec![text("Hello")], None));
}

#[test]
fn compressor_matches_the_rfc() {
    let frame = Compressor::new(15, false)
        .frame(OpCode::Text, b"Hello", None)
        .unwrap();
    let (header, compressed, len) = FrameHeader::parse_rsv1(&frame, true).unwrap().unwrap();
    assert!(compressed && header.fin);
    let mut parser = client(false);
    assert_eq!(drain(&mut parser, &frame), (vec![text("Hello")], None));
    // An empty message compresses to one byte (§7.2.3.6).
    let empty = Compressor::new(15, false)
        .frame(OpCode::Binary, b"", None)
        .unwrap();
    assert_eq!(&empty[len..], &[0x00]);
}

/// zlib writes nothing for an empty message right after another flush;
/// the frame must still inflate (found by the round-trip property).
#[test]
fn empty_messages_in_a_row_inflate() {
    for no_context_takeover in [false, true] {
        let mut compressor = Compressor::new(15, no_context_takeover);
        let mut wire = BytesMut::new();
        for payload in [&b"abc"[..], b"", b"", b"abc"] {
            let frame = compressor.frame(OpCode::Binary, payload, None).unwrap();
            wire.extend_from_slice(&frame);
        }
        let (events, error) = drain(&mut client(no_context_takeover), &wire);
        assert_eq!(error, None);
        let lengths: Vec<usize> = events
            .iter()
            .map(|e| match e {
                Incoming::Message { payload, .. } => payload.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lengths, [3, 0, 0, 3]);
    }
}

#[test]
fn rsv1_only_on_the_first_frame_of_a_data_message() {
    let (_, error) = drain(&mut client(false), &[0xc9, 0x00]);
    assert_eq!(error, Some(ProtocolError::ReservedBitsSet), "ping");
    let (_, error) = drain(&mut client(false), &[0x41, 0x01, 0x00, 0xc0, 0x00]);
    assert_eq!(error, Some(ProtocolError::ReservedBitsSet), "continuation");
    // RSV2 and RSV3 stay reserved.
    let (_, error) = drain(&mut client(false), &[0xa1, 0x00]);
    assert_eq!(error, Some(ProtocolError::ReservedBitsSet));
    // Without the extension RSV1 is an error too.
    let plain = FrameParser::new(Role::Client, WebSocketConfig::default());
    let (_, error) = drain(&mut { plain }, &[0xc1, 0x01, 0x00]);
    assert_eq!(error.unwrap().close_code().as_u16(), 1002);
    // An uncompressed message may follow a compressed one.
    let (events, error) = drain(
        &mut client(false),
        &[
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x81, 0x02, b'h', b'i',
        ],
    );
    assert_eq!((events, error), (vec![text("Hello"), text("hi")], None));
}

#[test]
fn corrupt_data_and_bad_utf8_close_with_1007() {
    let (_, error) = drain(&mut client(false), &[0xc1, 0x02, 0xff, 0xff]);
    assert_eq!(error, Some(ProtocolError::InvalidCompressedData));
    assert_eq!(error.unwrap().close_code().as_u16(), 1007);
    let frame = Compressor::new(15, false)
        .frame(OpCode::Text, b"ok\xc0\xaf", None)
        .unwrap();
    let (_, error) = drain(&mut client(false), &frame);
    assert_eq!(error, Some(ProtocolError::InvalidUtf8));
}

/// A bomb: 64 MiB of zeros compress to well under 1 MiB. The parser stops at
/// the limit's worth of output with 1009 and never holds more.
#[test]
fn decompression_bomb_closes_with_1009_at_the_limit() {
    let zeros = vec![0u8; 64 << 20];
    let bomb = Compressor::new(15, false)
        .frame(OpCode::Binary, &zeros, Some(MASK))
        .unwrap();
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    for (max_frame_bytes, max_message_bytes) in [(1 << 20, 16 << 20), (16 << 20, 1 << 20)] {
        let mut parser = server_with(WebSocketConfig {
            max_frame_bytes,
            max_message_bytes,
            ..WebSocketConfig::default()
        });
        let (events, error) = drain(&mut parser, &bomb);
        assert!(events.is_empty());
        let error = error.unwrap();
        assert_eq!(error.close_code().as_u16(), 1009);
        let limit = max_frame_bytes.min(max_message_bytes);
        assert_eq!(
            error,
            ProtocolError::MessageTooLarge {
                len: limit as u64 + 1,
                max: limit
            }
        );
    }
    // Exactly at the limit is fine.
    let fits = Compressor::new(15, false)
        .frame(OpCode::Binary, &zeros[..1 << 20], Some(MASK))
        .unwrap();
    let mut parser = server_with(WebSocketConfig {
        max_frame_bytes: 1 << 20,
        max_message_bytes: 1 << 20,
        ..WebSocketConfig::default()
    });
    let (events, error) = drain(&mut parser, &fits);
    assert_eq!((events.len(), error), (1, None));
}

#[test]
fn the_inflated_output_is_bounded_in_memory() {
    let zeros = vec![0u8; 8 << 20];
    let bomb = Compressor::new(15, false)
        .frame(OpCode::Binary, &zeros, None)
        .unwrap();
    let (_, _, header_len) = FrameHeader::parse_rsv1(&bomb, true).unwrap().unwrap();
    let mut decompressor = Decompressor::new(15, false);
    let mut out = Vec::new();
    let error = decompressor
        .inflate(&bomb[header_len..], true, &mut out, 100_000)
        .unwrap_err();
    assert_eq!(error.close_code().as_u16(), 1009);
    assert!(
        out.len() <= 100_001 && out.capacity() <= 100_001,
        "{}",
        out.capacity()
    );
}

/// Splits a compressed frame's payload into a first frame with RSV1 and
/// continuation frames, as a sender that fragments would.
fn fragment(frame: &[u8], cuts: &[usize], out: &mut BytesMut) {
    let (header, _, header_len) = FrameHeader::parse_rsv1(frame, true).unwrap().unwrap();
    let data = &frame[header_len..];
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.push(data.len());
    let mut start = 0;
    for (i, &end) in bounds.iter().enumerate() {
        let last = i + 1 == bounds.len();
        let opcode = if i == 0 {
            header.opcode
        } else {
            OpCode::Continuation
        };
        let at = out.len();
        encode_frame(last, opcode, None, &data[start..end], out);
        if i == 0 {
            out[at] |= 0x40;
        }
        start = end;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the messages, window, context mode, fragmentation, and
    /// which messages go uncompressed, the receiver reads what was sent.
    #[test]
    fn round_trip(
        messages in vec((vec(any::<u8>(), 0..3000), any::<bool>(), vec(any::<usize>(), 0..3)), 1..12),
        window_bits in 8u8..=15,
        no_context_takeover in any::<bool>(),
    ) {
        let params = DeflateParams {
            server_no_context_takeover: no_context_takeover,
            server_max_window_bits: window_bits,
            ..DeflateParams::default()
        };
        let mut compressor = params.server_compressor();
        let mut wire = BytesMut::new();
        let mut expected = Vec::new();
        for (payload, compress, cuts) in &messages {
            // Repeat some bytes so back-references happen.
            let payload: Vec<u8> = payload.iter().map(|b| b % 4).collect();
            if *compress {
                let frame = compressor.frame(OpCode::Binary, &payload, None).unwrap();
                fragment(&frame, cuts, &mut wire);
            } else {
                encode_frame(true, OpCode::Binary, None, &payload, &mut wire);
            }
            expected.push(Incoming::Message { opcode: DataOpCode::Binary, payload: payload.into() });
        }
        let mut parser = FrameParser::new(Role::Client, WebSocketConfig::default())
            .with_deflate(params.client_decompressor());
        let (events, error) = drain(&mut parser, &wire);
        prop_assert_eq!(error, None);
        prop_assert_eq!(events, expected);
    }

    /// Any bytes after RSV1 fail cleanly or inflate within the limit.
    #[test]
    fn arbitrary_compressed_data_never_exceeds_the_limit(data in vec(any::<u8>(), 0..200)) {
        let mut frame = BytesMut::new();
        encode_frame(true, OpCode::Binary, Some(MASK), &data, &mut frame);
        frame[0] |= 0x40;
        let mut parser = server_with(WebSocketConfig {
            max_frame_bytes: 4096,
            max_message_bytes: 4096,
            ..WebSocketConfig::default()
        });
        let (events, _) = drain(&mut parser, &frame);
        for event in events {
            if let Incoming::Message { payload, .. } = event {
                prop_assert!(payload.len() <= 4096);
            }
        }
    }
}
