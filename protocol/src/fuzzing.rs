//! Entry points that drive each network-facing parser with arbitrary bytes.
//!
//! One function per parser, shared by the `cargo fuzz` targets in `fuzz/`,
//! the tests that replay their seed corpora, and the million-input test, so
//! all three exercise exactly the same code. Each returns normally on any
//! input; a panic (including a failed assertion of a round-trip property)
//! is a bug.

use bytes::BytesMut;

use crate::codec::{self, Serializer};
use crate::http::{self, BodyDecoder, HttpLimits};
use crate::rawsocket::{
    self, HANDSHAKE_LEN, HandshakeReply, HandshakeRequest, MaxMessageLength, SerializerSet,
    ServerPolicy,
};
use crate::websocket::deflate::{self, Decompressor, DeflateConfig, DeflateParams};
use crate::websocket::handshake::{self, ClientHandshake};
use crate::websocket::{FrameParser, Role, WebSocketConfig};

/// Limits small enough that fuzzing reaches them quickly.
fn small_websocket_config() -> WebSocketConfig {
    WebSocketConfig {
        max_header_bytes: 1024,
        max_header_count: 16,
        max_frame_bytes: 4096,
        max_message_bytes: 8192,
    }
}

/// Splits `data` into its control byte and the rest; the control byte picks
/// options such as the read size, so one input also tests partial reads.
fn control(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}

/// Feeds `data` to `parse` in reads of `chunk` bytes, calling it until it
/// wants more input, and stops at the first error.
fn feed_in_chunks<T, E>(
    data: &[u8],
    chunk: usize,
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, E>,
) {
    let mut buf = BytesMut::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parse(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// The WebSocket frame parser, as server (masked input) or client, with
/// permessage-deflate when the control byte's top bit is set.
pub fn websocket_frames(data: &[u8]) {
    let (ctl, rest) = control(data);
    let role = if ctl & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = small_websocket_config();
    let max_message_bytes = config.max_message_bytes;
    let mut parser = FrameParser::new(role, config);
    if ctl & 0x80 != 0 {
        parser = parser.with_deflate(Decompressor::new(15, ctl & 0x40 != 0));
    }
    feed_in_chunks(rest, usize::from((ctl >> 1) & 0x3f) + 1, |buf| {
        let event = parser.parse(buf);
        if let Ok(Some(crate::websocket::Incoming::Message { payload, .. })) = &event {
            assert!(payload.len() <= max_message_bytes);
        }
        event
    });
}

/// The `Sec-WebSocket-Extensions` parser (one header per line), the
/// server's permessage-deflate negotiation under two configurations, and
/// the client's reading of the answer: every answer the server gives must
/// be one a client accepts, with the same parameters.
pub fn websocket_extensions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(offers) = deflate::parse_extensions(text.split('\n')) else {
        return;
    };
    assert!(offers.len() <= deflate::MAX_EXTENSION_ITEMS);
    let _ = DeflateParams::from_response(&offers);
    let strict = DeflateConfig {
        request_no_context_takeover: true,
        request_max_window_bits: 9,
        no_context_takeover: true,
        max_window_bits: 10,
        memory_level: 1,
    };
    for config in [DeflateConfig::default(), strict] {
        let Some(accept) = deflate::negotiate(&offers, &config) else {
            continue;
        };
        let answer = deflate::parse_extensions([accept.response.as_str()]);
        let seen = answer.map(|answer| DeflateParams::from_response(&answer));
        let Ok(Ok(Some(seen))) = seen else {
            unreachable!("the server's answer {:?} is refused", accept.response);
        };
        let agreed = accept.params;
        assert_eq!(
            seen.server_no_context_takeover,
            agreed.server_no_context_takeover
        );
        assert_eq!(
            seen.client_no_context_takeover,
            agreed.client_no_context_takeover
        );
        assert_eq!(seen.client_max_window_bits, agreed.client_max_window_bits);
        assert!(seen.server_max_window_bits >= agreed.server_max_window_bits);
        assert!(agreed.server_max_window_bits <= config.max_window_bits);
    }
}

/// The HTTP upgrade request parser (server side) and the 101 response
/// parser (client side).
pub fn websocket_handshake(data: &[u8]) {
    let config = small_websocket_config();
    if let Ok(Some((request, used))) = handshake::parse_request(data, &config) {
        assert!(used <= data.len());
        let chosen = handshake::negotiate_subprotocol(request.protocols(), &["wamp.2.json"]);
        let mut out = BytesMut::new();
        handshake::write_accept(&request, chosen, &mut out);
    }
    if let Ok(client) = ClientHandshake::new("localhost", "/ws", &["wamp.2.json"], [7; 16]) {
        let _ = client.parse_response(data, &config);
        let _ = client.with_deflate_offer().parse_response(data, &config);
    }
}

/// The HTTP/1.1 request reader: heads and bodies of pipelined requests,
/// fed in reads whose size the control byte picks. Whatever it accepts
/// stays within the limits, and every refusal names a 4xx/5xx status.
pub fn http_request(data: &[u8]) {
    let (ctl, rest) = control(data);
    let limits = HttpLimits {
        max_target_bytes: 256,
        max_head_bytes: 1024,
        max_header_count: 16,
        max_body_bytes: 2048,
    };
    let mut input = BytesMut::new();
    let mut body = BytesMut::new();
    let mut decoder: Option<BodyDecoder> = None;
    for piece in rest.chunks(usize::from(ctl) + 1) {
        input.extend_from_slice(piece);
        loop {
            if let Some(d) = decoder.as_mut() {
                match d.decode(&mut input, &mut body) {
                    Ok(true) => {
                        assert!(body.len() <= limits.max_body_bytes);
                        body.clear();
                        decoder = None;
                    }
                    Ok(false) => break,
                    Err(e) => return assert!(e.status() >= 400),
                }
            }
            match http::parse_head(&input, &limits) {
                Ok(Some((head, used))) => {
                    assert!(used <= input.len() && head.target().len() <= limits.max_target_bytes);
                    let _ = input.split_to(used);
                    decoder = Some(BodyDecoder::new(head.framing(), &limits));
                }
                Ok(None) => break,
                Err(e) => return assert!(e.status() >= 400),
            }
        }
    }
}

/// The RawSocket frame parser, with a small negotiated maximum.
pub fn rawsocket_frames(data: &[u8]) {
    let (ctl, rest) = control(data);
    let max = MaxMessageLength::from_exponent(ctl & 0x0f).unwrap_or(MaxMessageLength::MIN);
    let mut parser = rawsocket::FrameParser::new(max);
    feed_in_chunks(rest, usize::from(ctl >> 4) * 16 + 1, |buf| {
        parser.parse(buf)
    });
}

/// The RawSocket opening handshake, both sides: the router reads a client
/// hello, the client reads the router's reply.
pub fn rawsocket_handshake(data: &[u8]) {
    for octets in data.chunks_exact(HANDSHAKE_LEN) {
        let octets = [octets[0], octets[1], octets[2], octets[3]];
        let policy = ServerPolicy::new(SerializerSet::ALL, MaxMessageLength::MAX);
        let _ = policy.accept(octets);
        let _ = HandshakeReply::parse(octets);
        if let Ok(request) = HandshakeRequest::parse(octets) {
            assert_eq!(request.to_bytes(), octets);
            let _ = request.complete(octets);
        }
    }
}

/// A codec's message decoder. A message that decodes must re-encode, in
/// every serializer, to bytes that decode to the same message type; in its
/// own serializer, encoding is stable (encode, decode, encode gives the same
/// bytes; compared as bytes, since NaN is not equal to itself). The same
/// bytes are also read as a batched WebSocket message of the serializer.
pub fn codec(serializer: Serializer, data: &[u8]) {
    for message in codec::batch::split_batch(serializer, bytes::Bytes::copy_from_slice(data)) {
        let Ok(message) = message else { break };
        let _ = codec::decode(serializer, message);
    }
    let Ok(message) = codec::decode(serializer, bytes::Bytes::copy_from_slice(data)) else {
        return;
    };
    for target in Serializer::ALL {
        let mut out = BytesMut::new();
        // Transcoding may legitimately fail (NaN into JSON); a success must
        // round-trip.
        if codec::encode(target, &message, &mut out).is_err() {
            assert_ne!(
                target, serializer,
                "a decoded message must re-encode as itself"
            );
            continue;
        }
        let first = out.clone().freeze();
        let again = codec::decode(target, first.clone());
        assert!(
            again.is_ok(),
            "{serializer:?} message re-encoded as {target:?} fails: {again:?}"
        );
        let Ok(again) = again else { return };
        assert_eq!(again.message_type(), message.message_type());
        let mut second = BytesMut::new();
        assert!(codec::encode(target, &again, &mut second).is_ok());
        assert_eq!(first, second.freeze(), "{target:?} encoding is not stable");
    }
}
