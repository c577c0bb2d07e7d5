//! RawSocket framing: round trips, chunked input, limits checked from the
//! prefix alone, reserved bits.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ringbar_protocol::rawsocket::{
    FRAME_HEADER_LEN, Frame, FrameEncoder, FrameParser, FrameType, MAX_FRAME_PAYLOAD_BYTES,
    MaxMessageLength, RawSocketError,
};

#[allow(clippy::unwrap_used)] // test helper: a panic is a failed test
fn length(exponent: u8) -> MaxMessageLength {
    MaxMessageLength::from_exponent(exponent).unwrap()
}

/// Parses every complete frame in `buf`.
#[allow(clippy::unwrap_used)] // test helper: a panic is a failed test
fn parse_all(parser: &mut FrameParser, buf: &mut BytesMut) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(frame) = parser.parse(buf).unwrap() {
        frames.push(frame);
    }
    frames
}

#[test]
fn round_trip_each_type() {
    let encoder = FrameEncoder::new(length(1));
    let mut parser = FrameParser::new(length(1));
    let mut wire = BytesMut::new();
    let sent = [
        Frame::Message(Bytes::from_static(b"[1,\"realm1\",{}]")),
        Frame::Ping(Bytes::from_static(b"are you there")),
        Frame::Pong(Bytes::new()),
        Frame::Message(Bytes::from(vec![0xAB; 1024])),
    ];
    for frame in &sent {
        encoder
            .encode(frame.frame_type(), frame.payload(), &mut wire)
            .unwrap();
    }
    assert_eq!(&wire[..4], [0x00, 0x00, 0x00, 15]);
    assert_eq!(parse_all(&mut parser, &mut wire), sent);
    assert!(wire.is_empty());
}

#[test]
fn header_then_payload_equals_encode() {
    let encoder = FrameEncoder::new(length(0));
    let payload = Bytes::from_static(b"ping payload");
    let header = encoder.header(FrameType::Ping, payload.len()).unwrap();
    let mut vectored = header.to_vec();
    vectored.extend_from_slice(&payload);
    let mut one_buffer = BytesMut::new();
    encoder
        .encode(FrameType::Ping, &payload, &mut one_buffer)
        .unwrap();
    assert_eq!(vectored, one_buffer);
    assert_eq!(header, [0x01, 0, 0, 12]);
}

#[test]
fn ping_is_answered_with_the_same_payload() {
    let encoder = FrameEncoder::new(length(0));
    let mut parser = FrameParser::new(length(0));
    let mut wire = BytesMut::new();
    encoder.encode(FrameType::Ping, b"1234", &mut wire).unwrap();
    let Some(Frame::Ping(payload)) = parser.parse(&mut wire).unwrap() else {
        panic!("expected a PING");
    };
    encoder
        .encode(FrameType::Pong, &payload, &mut wire)
        .unwrap();
    assert_eq!(
        parser.parse(&mut wire).unwrap(),
        Some(Frame::Pong(Bytes::from_static(b"1234")))
    );
}

#[test]
fn payload_is_split_off_without_copy() {
    let mut wire = BytesMut::from(&[0x00, 0, 0, 3, b'a', b'b', b'c', 0x01][..]);
    let start = wire.as_ptr();
    let frame = FrameParser::new(length(0))
        .parse(&mut wire)
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.payload().as_ptr(),
        start.wrapping_add(FRAME_HEADER_LEN)
    );
    assert_eq!(frame.into_payload(), "abc");
    assert_eq!(&wire[..], [0x01]);
}

#[test]
fn incomplete_input_consumes_nothing() {
    let mut parser = FrameParser::new(length(0));
    let wire = [0x00, 0, 0, 3, b'a', b'b', b'c'];
    for end in 0..wire.len() {
        let mut buf = BytesMut::from(&wire[..end]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert_eq!(buf.len(), end);
    }
}

#[test]
fn too_long_is_refused_from_the_prefix_alone() {
    let mut parser = FrameParser::new(length(0));
    let mut at_limit = BytesMut::from(&[0x00, 0, 0x02, 0x00][..]);
    assert_eq!(parser.parse(&mut at_limit), Ok(None), "512 octets fit");
    for frame_type in 0..3u8 {
        let mut buf = BytesMut::from(&[frame_type, 0, 0x02, 0x01][..]);
        assert_eq!(
            parser.parse(&mut buf),
            Err(RawSocketError::FrameTooLong { len: 513, max: 512 })
        );
        assert_eq!(buf.len(), 4, "nothing consumed");
    }
    let mut huge = BytesMut::from(&[0x00, 0xFF, 0xFF, 0xFF][..]);
    assert_eq!(
        FrameParser::new(length(14)).parse(&mut huge),
        Err(RawSocketError::FrameTooLong {
            len: (1 << 24) - 1,
            max: 1 << 23
        })
    );
}

#[test]
fn reserved_bits_and_types_are_refused() {
    let mut parser = FrameParser::new(length(15));
    for octet in [0x10, 0x20, 0x40, 0x80, 0xF0, 0x11] {
        let mut buf = BytesMut::from(&[octet, 0, 0, 0][..]);
        assert_eq!(
            parser.parse(&mut buf),
            Err(RawSocketError::ReservedBits { octet })
        );
        assert_eq!(buf.len(), 4);
    }
    for frame_type in 3..=7 {
        let mut buf = BytesMut::from(&[frame_type, 0, 0, 0][..]);
        assert_eq!(
            parser.parse(&mut buf),
            Err(RawSocketError::UnknownFrameType { frame_type })
        );
    }
    let mut bad_extra = BytesMut::from(&[0x08, 0, 1, 0][..]);
    assert_eq!(
        parser.parse(&mut bad_extra),
        Err(RawSocketError::InvalidExtraLengthBit { low_bits: 256 })
    );
}

#[test]
fn extra_length_bit_frame_of_16_mib() {
    let mut buf = BytesMut::with_capacity(FRAME_HEADER_LEN + MAX_FRAME_PAYLOAD_BYTES + 1);
    buf.extend_from_slice(&[0x08, 0, 0, 0]);
    assert_eq!(
        FrameParser::new(length(14)).parse(&mut buf),
        Err(RawSocketError::FrameTooLong {
            len: MAX_FRAME_PAYLOAD_BYTES,
            max: 1 << 23
        })
    );
    let mut parser = FrameParser::new(MaxMessageLength::MAX);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.resize(FRAME_HEADER_LEN + MAX_FRAME_PAYLOAD_BYTES + 1, 7);
    let frame = parser.parse(&mut buf).unwrap().unwrap();
    assert_eq!(frame.frame_type(), FrameType::Message);
    assert_eq!(frame.payload().len(), MAX_FRAME_PAYLOAD_BYTES);
    assert_eq!(buf.len(), 1);
}

#[test]
fn encoder_refuses_what_the_peer_does_not_take() {
    let mut out = BytesMut::new();
    let small = FrameEncoder::new(length(0));
    assert_eq!(
        small.encode(FrameType::Message, &[0; 513], &mut out),
        Err(RawSocketError::PayloadTooLong { len: 513, max: 512 })
    );
    assert!(out.is_empty());
    let big = FrameEncoder::new(MaxMessageLength::MAX);
    assert_eq!(
        big.header(FrameType::Message, MAX_FRAME_PAYLOAD_BYTES),
        Err(RawSocketError::PayloadTooLong {
            len: MAX_FRAME_PAYLOAD_BYTES,
            max: MAX_FRAME_PAYLOAD_BYTES - 1
        })
    );
    assert_eq!(
        big.header(FrameType::Pong, MAX_FRAME_PAYLOAD_BYTES - 1),
        Ok([0x02, 0xFF, 0xFF, 0xFF])
    );
}

#[allow(clippy::unwrap_used)] // test helper: a panic is a failed test
fn frame_strategy() -> impl Strategy<Value = Frame> {
    (0..3u8, prop::collection::vec(any::<u8>(), 0..5000)).prop_map(|(frame_type, payload)| {
        Frame::new(
            FrameType::from_id(frame_type).unwrap(),
            Bytes::from(payload),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn chunked_input_yields_the_same_frames(
        frames in prop::collection::vec(frame_strategy(), 0..12),
        chunk_sizes in prop::collection::vec(1..3000usize, 1..64),
    ) {
        let encoder = FrameEncoder::new(length(4));
        let mut wire = BytesMut::new();
        for frame in &frames {
            encoder.encode(frame.frame_type(), frame.payload(), &mut wire).unwrap();
        }

        let mut parser = FrameParser::new(length(4));
        let mut buf = BytesMut::new();
        let mut received = Vec::new();
        let mut rest = &wire[..];
        let mut sizes = chunk_sizes.iter().cycle();
        while !rest.is_empty() {
            let size = (*sizes.next().unwrap()).min(rest.len());
            let (chunk, tail) = rest.split_at(size);
            buf.extend_from_slice(chunk);
            rest = tail;
            received.extend(parse_all(&mut parser, &mut buf));
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(received, frames);
    }

    #[test]
    fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut parser = FrameParser::new(length(0));
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = parser.parse(&mut buf) {}
    }
}
