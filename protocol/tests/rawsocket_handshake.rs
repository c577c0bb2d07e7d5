//! RawSocket opening handshake: octets per the spec, each error reply, and a
//! client/router round trip.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::rawsocket::{
    ClientHandshakeError, HandshakeErrorCode, HandshakeReply, HandshakeRequest, MaxMessageLength,
    Negotiated, ReplyError, RequestError, SerializerSet, ServerHandshake, ServerPolicy,
};

#[allow(clippy::unwrap_used)] // test helper: a panic is a failed test
fn length(exponent: u8) -> MaxMessageLength {
    MaxMessageLength::from_exponent(exponent).unwrap()
}

fn all_lengths() -> impl Iterator<Item = MaxMessageLength> {
    (0..=15).map(length)
}

#[test]
fn request_octets_for_every_serializer_and_exponent() {
    for serializer in Serializer::ALL {
        for max_message_length in all_lengths() {
            let request = HandshakeRequest {
                serializer,
                max_message_length,
            };
            let second = max_message_length.exponent() << 4 | serializer.rawsocket_id();
            assert_eq!(request.to_bytes(), [0x7F, second, 0, 0]);
            assert_eq!(HandshakeRequest::parse([0x7F, second, 0, 0]), Ok(request));
            assert_eq!(
                max_message_length.bytes(),
                512 << max_message_length.exponent()
            );
        }
    }
    // Spot checks against the spec's table: JSON with 16 MiB is 0xF1,
    // MessagePack with 512 octets is 0x02, CBOR with 1 MiB is 0xB3.
    assert_eq!(
        HandshakeRequest::parse([0x7F, 0xF1, 0, 0]).map(|r| r.max_message_length.bytes()),
        Ok(16 * 1024 * 1024)
    );
    assert_eq!(
        HandshakeRequest::parse([0x7F, 0x02, 0, 0]).map(|r| r.serializer),
        Ok(Serializer::MsgPack)
    );
    assert_eq!(
        HandshakeRequest::parse([0x7F, 0xB3, 0, 0]),
        Ok(HandshakeRequest {
            serializer: Serializer::Cbor,
            max_message_length: length(11),
        })
    );
}

#[test]
fn accepting_reply_octets_for_every_serializer_and_exponent() {
    for serializer in Serializer::ALL {
        for max_message_length in all_lengths() {
            let reply = HandshakeReply::Accepted {
                serializer,
                max_message_length,
            };
            let octets = [
                0x7F,
                max_message_length.exponent() << 4 | serializer.rawsocket_id(),
                0,
                0,
            ];
            assert_eq!(reply.to_bytes(), octets);
            assert_eq!(HandshakeReply::parse(octets), Ok(reply));
        }
    }
}

#[test]
fn each_error_reply() {
    let cases = [
        (HandshakeErrorCode::SerializerUnsupported, 1, 0x10),
        (HandshakeErrorCode::MaxMessageLengthUnacceptable, 2, 0x20),
        (HandshakeErrorCode::ReservedBitsUsed, 3, 0x30),
        (HandshakeErrorCode::MaxConnectionCountReached, 4, 0x40),
    ];
    for (code, number, second) in cases {
        assert_eq!(code.code(), number);
        assert_eq!(HandshakeErrorCode::from_code(number), Some(code));
        assert_eq!(code.reply(), [0x7F, second, 0, 0]);
        assert_eq!(HandshakeReply::Rejected(code).to_bytes(), code.reply());
        assert_eq!(
            HandshakeReply::parse(code.reply()),
            Ok(HandshakeReply::Rejected(code))
        );
    }
    assert_eq!(HandshakeErrorCode::from_code(0), None);
    for code in 5..=15 {
        assert_eq!(HandshakeErrorCode::from_code(code), None);
        assert_eq!(
            HandshakeReply::parse([0x7F, code << 4, 0, 0]),
            Err(ReplyError::UnknownErrorCode { code })
        );
    }
    assert_eq!(
        HandshakeReply::parse([0x7F, 0, 0, 0]),
        Err(ReplyError::IllegalErrorCode)
    );
}

#[test]
fn router_replies_per_policy() {
    let policy = ServerPolicy::new(
        SerializerSet::from_slice(&[Serializer::Json, Serializer::Cbor]),
        length(12),
    );

    // Accepted: echo the serializer, announce our own length.
    let ServerHandshake::Accepted { negotiated, reply } = policy.accept([0x7F, 0x31, 0, 0]) else {
        panic!("JSON must be accepted");
    };
    assert_eq!(reply, [0x7F, 0xC1, 0, 0]);
    assert_eq!(
        negotiated,
        Negotiated {
            serializer: Serializer::Json,
            send_max: length(3),
            receive_max: length(12),
        }
    );

    // 1: serializer unsupported, for one we do not offer, an unknown id and id 0.
    for second in [0x32, 0x34, 0x3F, 0x30] {
        assert_eq!(
            policy.accept([0x7F, second, 0, 0]),
            ServerHandshake::Rejected {
                code: HandshakeErrorCode::SerializerUnsupported,
                reply: [0x7F, 0x10, 0, 0],
            },
            "second octet {second:#04x}"
        );
    }

    // 2: maximum message length unacceptable.
    let demanding = ServerPolicy {
        min_client_max_message_length: length(4),
        ..policy
    };
    assert_eq!(
        demanding.accept([0x7F, 0x31, 0, 0]),
        ServerHandshake::Rejected {
            code: HandshakeErrorCode::MaxMessageLengthUnacceptable,
            reply: [0x7F, 0x20, 0, 0],
        }
    );
    assert!(matches!(
        demanding.accept([0x7F, 0x41, 0, 0]),
        ServerHandshake::Accepted { .. }
    ));

    // 3: reserved bits.
    for reserved in [[1, 0], [0, 1], [0x80, 0xFF]] {
        assert_eq!(
            policy.accept([0x7F, 0x31, reserved[0], reserved[1]]),
            ServerHandshake::Rejected {
                code: HandshakeErrorCode::ReservedBitsUsed,
                reply: [0x7F, 0x30, 0, 0],
            }
        );
    }

    // Bad magic, e.g. an HTTP request: close without a reply.
    assert_eq!(
        policy.accept(*b"GET "),
        ServerHandshake::NotRawSocket { octet: b'G' }
    );
}

#[test]
fn request_parse_classifies_every_second_octet() {
    for second in 0..=255u8 {
        let parsed = HandshakeRequest::parse([0x7F, second, 0, 0]);
        match second & 0x0F {
            0 => assert_eq!(parsed, Err(RequestError::IllegalSerializer)),
            1..=4 => assert_eq!(parsed.map(|r| r.to_bytes()), Ok([0x7F, second, 0, 0])),
            id => assert_eq!(parsed, Err(RequestError::UnknownSerializer { id })),
        }
    }
}

#[test]
fn client_and_router_agree() {
    let policy = ServerPolicy::new(SerializerSet::ALL, length(15));
    for serializer in Serializer::ALL {
        for max_message_length in all_lengths() {
            let request = HandshakeRequest {
                serializer,
                max_message_length,
            };
            let ServerHandshake::Accepted {
                negotiated: router,
                reply,
            } = policy.accept(request.to_bytes())
            else {
                panic!("{request:?} must be accepted");
            };
            let client = request.complete(reply).unwrap();
            assert_eq!(client.serializer, router.serializer);
            assert_eq!(client.send_max, router.receive_max);
            assert_eq!(client.receive_max, router.send_max);
            assert_eq!(
                client.frame_encoder().max_payload_bytes(),
                router.frame_parser().max_payload_bytes() - 1,
                "we never send the X-bit length"
            );
        }
    }
}

#[test]
fn client_refuses_bad_replies() {
    let request = HandshakeRequest {
        serializer: Serializer::MsgPack,
        max_message_length: length(15),
    };
    assert_eq!(
        request.complete([0x7F, 0x10, 0, 0]),
        Err(ClientHandshakeError::Rejected(
            HandshakeErrorCode::SerializerUnsupported
        ))
    );
    assert_eq!(
        request.complete([0x7F, 0xF1, 0, 0]),
        Err(ClientHandshakeError::SerializerMismatch {
            requested: Serializer::MsgPack,
            replied: Serializer::Json,
        })
    );
    assert_eq!(
        request.complete(*b"HTTP"),
        Err(ClientHandshakeError::Reply(ReplyError::BadMagic {
            octet: b'H'
        }))
    );
    assert_eq!(
        request.complete([0x7F, 0xF2, 0, 7]),
        Err(ClientHandshakeError::Reply(ReplyError::ReservedBitsUsed {
            octets: [0, 7]
        }))
    );
    assert_eq!(
        request.complete([0x7F, 0xF5, 0, 0]),
        Err(ClientHandshakeError::Reply(ReplyError::UnknownSerializer {
            id: 5
        }))
    );
}
