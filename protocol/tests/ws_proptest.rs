//! Property tests: any fragmentation, any read boundaries, any input.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use ringbar_protocol::websocket::handshake::parse_request;
use ringbar_protocol::websocket::{
    DataOpCode, FrameParser, Incoming, OpCode, Role, WebSocketConfig, encode_frame,
};

/// One message as the sender plans it: payload, where to cut it into
/// fragments, and the Pings to send before each later fragment.
#[derive(Clone, Debug)]
struct Planned {
    opcode: DataOpCode,
    payload: Vec<u8>,
    cuts: Vec<(Index, Option<Vec<u8>>)>,
}

fn planned() -> impl Strategy<Value = Planned> {
    let payload = prop_oneof![
        any::<String>().prop_map(|s| (DataOpCode::Text, s.into_bytes())),
        vec(any::<u8>(), 0..400).prop_map(|b| (DataOpCode::Binary, b)),
    ];
    let cuts = vec(
        (any::<Index>(), option::of(vec(any::<u8>(), 0..=125))),
        0..5,
    );
    (payload, cuts).prop_map(|((opcode, payload), cuts)| Planned {
        opcode,
        payload,
        cuts,
    })
}

/// Encodes `messages` as `role`'s peer sends them, and the events a parser
/// must yield for them.
fn encode(role: Role, messages: &[Planned], mask_seed: [u8; 4]) -> (BytesMut, Vec<Incoming>) {
    let mut frame_count = 0u8;
    let mut next_mask = || {
        frame_count = frame_count.wrapping_add(1);
        match role {
            Role::Server => Some(mask_seed.map(|b| b ^ frame_count)),
            Role::Client => None,
        }
    };
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    for message in messages {
        let mut cuts: Vec<usize> = message
            .cuts
            .iter()
            .map(|(at, _)| at.index(message.payload.len() + 1))
            .collect();
        cuts.sort_unstable();
        let mut starts = vec![0];
        starts.extend(&cuts);
        let mut ends = cuts.clone();
        ends.push(message.payload.len());
        let fragments = starts.len();
        for (i, (start, end)) in starts.into_iter().zip(ends).enumerate() {
            if let Some((_, Some(ping))) = i.checked_sub(1).map(|cut| &message.cuts[cut]) {
                encode_frame(true, OpCode::Ping, next_mask(), ping, &mut wire);
                expected.push(Incoming::Ping(Bytes::copy_from_slice(ping)));
            }
            let opcode = if i == 0 {
                message.opcode.into()
            } else {
                OpCode::Continuation
            };
            let fin = i + 1 == fragments;
            let fragment = &message.payload[start..end];
            encode_frame(fin, opcode, next_mask(), fragment, &mut wire);
        }
        expected.push(Incoming::Message {
            opcode: message.opcode,
            payload: Bytes::copy_from_slice(&message.payload),
        });
    }
    (wire, expected)
}

/// Feeds `wire` in reads of the given sizes (cycled), parsing until `None`
/// after each read, as a connection does.
fn feed(role: Role, wire: &[u8], reads: &[usize]) -> Result<Vec<Incoming>, TestCaseError> {
    let mut parser = FrameParser::new(role, WebSocketConfig::default());
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut rest = wire;
    for &size in reads.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (read, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        buf.extend_from_slice(read);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(error) => return Err(TestCaseError::fail(error.to_string())),
            }
        }
    }
    prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok(events)
}

proptest! {
    #[test]
    fn any_fragmentation_and_any_reads_give_the_same_messages(
        messages in vec(planned(), 0..8),
        mask_seed in any::<[u8; 4]>(),
        reads in vec(1..80usize, 1..20),
    ) {
        let (wire, expected) = encode(Role::Server, &messages, mask_seed);
        prop_assert_eq!(feed(Role::Server, &wire, &reads)?, expected);
    }

    #[test]
    fn client_role_reads_unmasked_frames(
        messages in vec(planned(), 0..4),
        reads in vec(1..40usize, 1..10),
    ) {
        let (wire, expected) = encode(Role::Client, &messages, [0; 4]);
        prop_assert_eq!(feed(Role::Client, &wire, &reads)?, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        wire in vec(any::<u8>(), 0..600),
        server in any::<bool>(),
        reads in vec(1..64usize, 1..8),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let config = WebSocketConfig {
            max_frame_bytes: 200,
            max_message_bytes: 300,
            ..WebSocketConfig::default()
        };
        let mut parser = FrameParser::new(role, config);
        let mut buf = BytesMut::new();
        let mut rest = &wire[..];
        'reads: for &size in reads.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (read, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            buf.extend_from_slice(read);
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'reads,
                }
            }
            prop_assert!(buf.len() <= 14 + 200, "parser buffered {} bytes", buf.len());
        }
    }

    #[test]
    fn arbitrary_requests_never_panic(head in "(GET|POST) /[a-z]{0,4} HTTP/1\\.[01]\r\n([A-Za-z-]{1,12}: ?[ -~]{0,12}\r\n){0,6}\r\n") {
        let _ = parse_request(head.as_bytes(), &WebSocketConfig::default());
        let _ = parse_request(&head.as_bytes()[..head.len() / 2], &WebSocketConfig::default());
    }
}
