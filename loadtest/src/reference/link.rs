//! One connection's transport, bytes in and frames out, with no socket:
//! the WebSocket upgrade (RFC 6455, no extensions) or the RawSocket
//! handshake, then whole WAMP messages taken off the read buffer and
//! messages framed onto the output buffer.

use bytes::{Buf, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::Message;
use ringbar_protocol::rawsocket::{
    self, FrameEncoder, FrameType, HANDSHAKE_LEN, MaxMessageLength, SerializerSet, ServerHandshake,
    ServerPolicy,
};
use ringbar_protocol::websocket::handshake::{
    negotiate_subprotocol, parse_request, write_accept, write_error_response, write_rejection,
};
use ringbar_protocol::websocket::{
    CloseCode, FrameParser, Incoming, OpCode, Role, WebSocketConfig, encode_close_payload,
    encode_frame,
};

use crate::target::Transport;

/// The WebSocket subprotocols served: every serializer of the codec.
const SUBPROTOCOLS: [&str; 4] = [
    "wamp.2.json",
    "wamp.2.msgpack",
    "wamp.2.cbor",
    "wamp.2.ubjson",
];

/// A connection's transport state and its two buffers.
pub(crate) struct Link {
    transport: Transport,
    phase: Phase,
    serializer: Serializer,
    /// Bytes read and not yet parsed.
    pub(crate) read: BytesMut,
    /// Frames to write, in order.
    pub(crate) out: BytesMut,
    /// One message's encoding, before it is framed.
    scratch: BytesMut,
}

/// Why a link ends. Whatever the peer should read last (a Close frame, an
/// HTTP error) is already in `out`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Closing {
    /// The peer closed the WebSocket: nothing to report.
    ByPeer,
    /// Something went wrong: the one log line says what.
    Error(String),
}

// A link spends its life in the WebSocket phase: boxing its parser would
// save bytes only during the handshake, at a pointer chase per read.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Waiting for the HTTP upgrade request (WebSocket at `path`) or the
    /// four handshake octets (RawSocket).
    Opening {
        path: String,
    },
    WebSocket(FrameParser),
    RawSocket {
        parser: rawsocket::FrameParser,
        encoder: FrameEncoder,
    },
    Closed,
}

impl Link {
    /// A link that has not had its opening handshake yet; a WebSocket one
    /// accepts upgrades at `path` only.
    pub(crate) fn new(transport: Transport, path: &str) -> Self {
        Self {
            transport,
            phase: Phase::Opening {
                path: path.to_owned(),
            },
            serializer: Serializer::Json,
            read: BytesMut::new(),
            out: BytesMut::new(),
            scratch: BytesMut::new(),
        }
    }

    /// Whether the link has ended: write what is queued, then close.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The transport, for framing a message once for many links.
    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }

    /// The serializer agreed in the opening handshake.
    pub(crate) fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// The next WAMP message in the read buffer, after the opening
    /// handshake and any control frame before it (a Ping is answered in
    /// `out`); `Ok(None)` until a whole one has arrived.
    pub(crate) fn next_message(&mut self) -> Result<Option<Message>, Closing> {
        loop {
            let payload = match &mut self.phase {
                Phase::Opening { .. } => {
                    if !self.open()? {
                        return Ok(None);
                    }
                    continue;
                }
                Phase::WebSocket(parser) => match parser.parse(&mut self.read) {
                    Ok(None) => return Ok(None),
                    Ok(Some(Incoming::Message { payload, .. })) => payload,
                    Ok(Some(Incoming::Ping(payload))) => {
                        encode_frame(true, OpCode::Pong, None, &payload, &mut self.out);
                        continue;
                    }
                    Ok(Some(Incoming::Pong(_))) => continue,
                    Ok(Some(Incoming::Close(_))) => {
                        self.close_websocket(CloseCode::NORMAL_CLOSURE, "");
                        return Err(Closing::ByPeer);
                    }
                    Err(e) => {
                        return Err(
                            self.close_websocket(e.close_code(), &format!("WebSocket: {e}"))
                        );
                    }
                },
                Phase::RawSocket { parser, .. } => match parser.parse(&mut self.read) {
                    Ok(None) => return Ok(None),
                    Ok(Some(frame)) => match frame.frame_type() {
                        FrameType::Message => frame.into_payload(),
                        FrameType::Ping => {
                            let payload = frame.into_payload();
                            self.frame(FrameType::Pong, &payload)?;
                            continue;
                        }
                        FrameType::Pong => continue,
                    },
                    Err(e) => return Err(self.closed(format!("RawSocket: {e}"))),
                },
                Phase::Closed => return Ok(None),
            };
            return codec::decode(self.serializer, payload)
                .map(Some)
                .map_err(|e| {
                    self.closed(format!(
                        "undecodable {} message: {e}",
                        self.serializer.name()
                    ))
                });
        }
    }

    /// Encodes `message` and frames it onto `out`.
    pub(crate) fn send(&mut self, message: &Message) -> Result<(), Closing> {
        self.scratch.clear();
        codec::encode(self.serializer, message, &mut self.scratch).map_err(|e| {
            self.closed(format!("cannot encode a {:?}: {e}", message.message_type()))
        })?;
        let scratch = std::mem::take(&mut self.scratch);
        let framed = self.frame(FrameType::Message, &scratch);
        self.scratch = scratch;
        framed
    }

    /// Ends the link with a WebSocket Close frame (or nothing, on
    /// RawSocket): for a session that must not go on.
    pub(crate) fn close(&mut self, reason: &str) -> Closing {
        self.close_websocket(CloseCode::NORMAL_CLOSURE, reason)
    }

    /// Runs the opening handshake once its bytes are there; `false` while
    /// they are not.
    fn open(&mut self) -> Result<bool, Closing> {
        let Phase::Opening { path } = &self.phase else {
            return Ok(true);
        };
        match self.transport {
            Transport::WebSocket => {
                let config = WebSocketConfig::default();
                let (request, used) = match parse_request(&self.read, &config) {
                    Ok(Some(parsed)) => parsed,
                    Ok(None) => return Ok(false),
                    Err(e) => {
                        write_rejection(&e, &mut self.out);
                        return Err(self.closed(format!("WebSocket upgrade: {e}")));
                    }
                };
                if request.path() != path.as_str() {
                    let reason = format!("no WebSocket endpoint at {}", request.path());
                    write_error_response(404, &reason, &mut self.out);
                    return Err(self.closed(reason));
                }
                let Some(protocol) = negotiate_subprotocol(request.protocols(), &SUBPROTOCOLS)
                else {
                    let reason = "no WAMP subprotocol offered (wamp.2.json, wamp.2.msgpack, ...)";
                    write_error_response(400, reason, &mut self.out);
                    return Err(self.closed(reason.to_owned()));
                };
                self.serializer =
                    Serializer::from_subprotocol(protocol).unwrap_or(Serializer::Json);
                write_accept(&request, Some(protocol), &mut self.out);
                self.read.advance(used);
                self.phase = Phase::WebSocket(FrameParser::new(Role::Server, config));
            }
            Transport::RawSocket => {
                let Some(octets) = self.read.first_chunk::<HANDSHAKE_LEN>() else {
                    return Ok(false);
                };
                let policy = ServerPolicy::new(SerializerSet::ALL, MaxMessageLength::MAX);
                match policy.accept(*octets) {
                    ServerHandshake::Accepted { negotiated, reply } => {
                        self.out.extend_from_slice(&reply);
                        self.read.advance(HANDSHAKE_LEN);
                        self.serializer = negotiated.serializer;
                        self.phase = Phase::RawSocket {
                            parser: negotiated.frame_parser(),
                            encoder: negotiated.frame_encoder(),
                        };
                    }
                    ServerHandshake::Rejected { code, reply } => {
                        self.out.extend_from_slice(&reply);
                        return Err(self.closed(format!("RawSocket handshake refused: {code:?}")));
                    }
                    ServerHandshake::NotRawSocket { octet } => {
                        return Err(self.closed(format!(
                            "not a RawSocket handshake (first octet {octet:#04x})"
                        )));
                    }
                }
            }
        }
        Ok(true)
    }

    /// Frames `payload` onto `out` in this link's framing.
    fn frame(&mut self, frame_type: FrameType, payload: &[u8]) -> Result<(), Closing> {
        match &self.phase {
            Phase::WebSocket(_) => {
                let opcode = match frame_type {
                    FrameType::Message => message_opcode(self.serializer),
                    FrameType::Ping => OpCode::Ping,
                    FrameType::Pong => OpCode::Pong,
                };
                encode_frame(true, opcode, None, payload, &mut self.out);
                Ok(())
            }
            Phase::RawSocket { encoder, .. } => encoder
                .encode(frame_type, payload, &mut self.out)
                .map_err(|e| self.closed(format!("RawSocket: {e}"))),
            Phase::Opening { .. } | Phase::Closed => Ok(()),
        }
    }

    fn close_websocket(&mut self, code: CloseCode, reason: &str) -> Closing {
        if let Phase::WebSocket(_) = self.phase {
            let mut payload = BytesMut::new();
            encode_close_payload(code, "", &mut payload);
            encode_frame(true, OpCode::Close, None, &payload, &mut self.out);
        }
        self.closed(reason.to_owned())
    }

    fn closed(&mut self, reason: String) -> Closing {
        self.phase = Phase::Closed;
        Closing::Error(reason)
    }
}

/// Frames an encoded message for every link of `transport` and
/// `serializer` at once: the shared EVENT frame of a publication. Server
/// frames are never masked; a RawSocket frame may be as long as the
/// protocol allows (the load generator announces the maximum, and the
/// reference server enforces no smaller limit of its peers).
pub(crate) fn frame_message(
    transport: Transport,
    serializer: Serializer,
    message: &[u8],
    out: &mut BytesMut,
) -> Result<(), String> {
    match transport {
        Transport::WebSocket => {
            encode_frame(true, message_opcode(serializer), None, message, out);
            Ok(())
        }
        Transport::RawSocket => FrameEncoder::new(MaxMessageLength::MAX)
            .encode(FrameType::Message, message, out)
            .map_err(|e| e.to_string()),
    }
}

/// Text frames for JSON, binary for the others (the WAMP WebSocket
/// transport's rule).
fn message_opcode(serializer: Serializer) -> OpCode {
    if serializer.is_text() {
        OpCode::Text
    } else {
        OpCode::Binary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbar_protocol::message::Hello;
    use ringbar_protocol::rawsocket::HandshakeRequest;
    use ringbar_protocol::value::Dict;
    use ringbar_protocol::websocket::handshake::ClientHandshake;

    fn hello() -> Message {
        Message::Hello(Hello {
            realm: "realm1".into(),
            details: Dict::new(),
        })
    }

    #[test]
    fn a_websocket_upgrade_then_a_masked_message_then_a_ping() {
        let mut link = Link::new(Transport::WebSocket, "/ws");
        let client =
            ClientHandshake::new("127.0.0.1:1", "/ws", &["wamp.2.msgpack"], [7; 16]).unwrap();
        client.write_request(&mut link.read);
        let mut encoded = BytesMut::new();
        codec::encode(Serializer::MsgPack, &hello(), &mut encoded).unwrap();
        encode_frame(
            true,
            OpCode::Binary,
            Some([1, 2, 3, 4]),
            &encoded,
            &mut link.read,
        );
        encode_frame(
            true,
            OpCode::Ping,
            Some([5, 6, 7, 8]),
            b"hi",
            &mut link.read,
        );
        assert_eq!(link.next_message(), Ok(Some(hello())));
        assert_eq!(link.serializer(), Serializer::MsgPack);
        assert_eq!(link.next_message(), Ok(None));
        let (response, used) = client
            .parse_response(&link.out, &WebSocketConfig::default())
            .unwrap()
            .unwrap();
        assert_eq!(response.protocol(), Some("wamp.2.msgpack"));
        let mut pong = BytesMut::new();
        encode_frame(true, OpCode::Pong, None, b"hi", &mut pong);
        assert_eq!(&link.out[used..], &pong[..]);
    }

    #[test]
    fn a_websocket_upgrade_elsewhere_is_refused_with_404() {
        let mut link = Link::new(Transport::WebSocket, "/ws");
        ClientHandshake::new("127.0.0.1:1", "/other", &["wamp.2.json"], [7; 16])
            .unwrap()
            .write_request(&mut link.read);
        assert!(link.next_message().is_err());
        assert!(link.out.starts_with(b"HTTP/1.1 404"), "{:?}", link.out);
    }

    #[test]
    fn a_rawsocket_handshake_then_a_message_split_across_reads() {
        let mut link = Link::new(Transport::RawSocket, "");
        let request = HandshakeRequest {
            serializer: Serializer::Cbor,
            max_message_length: MaxMessageLength::MAX,
        };
        let mut encoded = BytesMut::new();
        codec::encode(Serializer::Cbor, &hello(), &mut encoded).unwrap();
        let mut wire = BytesMut::from(&request.to_bytes()[..]);
        frame_message(Transport::RawSocket, Serializer::Cbor, &encoded, &mut wire).unwrap();
        let (first, rest) = wire.split_at(wire.len() - 3);
        link.read.extend_from_slice(first);
        assert_eq!(link.next_message(), Ok(None));
        link.read.extend_from_slice(rest);
        assert_eq!(link.next_message(), Ok(Some(hello())));
        assert_eq!(link.out.len(), HANDSHAKE_LEN);
        assert!(request.complete(*link.out.first_chunk().unwrap()).is_ok());
    }

    #[test]
    fn garbage_ends_the_link() {
        let mut link = Link::new(Transport::RawSocket, "");
        link.read.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert!(link.next_message().is_err());
        assert_eq!(link.next_message(), Ok(None));
    }
}
