//! How a session's messages travel: its serializer and its transport
//! framing. An outgoing frame (WebSocket header or RawSocket prefix plus the
//! encoded message) is built in one buffer, so a frame built once can be
//! queued for every session with the same [`Wire`].

pub mod deflate;

use bytes::{BufMut, Bytes, BytesMut};
use ringbar_protocol::codec::{self, EncodeError, Serializer};
use ringbar_protocol::message::Message;
use ringbar_protocol::websocket::{FrameHeader, MAX_HEADER_BYTES, OpCode};

use deflate::Compression;

/// A transport's framing of WAMP messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// One WebSocket message per WAMP message (server frames: unmasked).
    WebSocket,
    /// One RawSocket frame per WAMP message.
    RawSocket,
}

/// A session's serializer and framing: what an outgoing frame depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wire {
    /// How messages are encoded.
    pub serializer: Serializer,
    /// How encoded messages are framed on the connection.
    pub framing: Framing,
    /// A batched WebSocket subprotocol (`wamp.2.cbor.batched`, ...): each
    /// frame carries its message as a batch of one, which is always valid
    /// and keeps a frame shareable between sessions.
    pub batched: bool,
    /// WebSocket permessage-deflate: a frame compressed without context
    /// takeover is shared like any other.
    pub compression: Compression,
}

/// The shortest WebSocket header: a server frame of fewer than 126 bytes.
const MIN_HEADER_BYTES: usize = 2;

/// The RawSocket frame prefix: type 0 (a WAMP message) and a 24-bit length.
pub const RAWSOCKET_PREFIX_BYTES: usize = 4;

impl Wire {
    /// The whole frame carrying `message`, in a buffer of its own (to be
    /// shared by every session with this wire).
    pub fn frame(self, message: &Message) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::with_capacity(MAX_HEADER_BYTES + 128);
        let header = self.frame_into(message, &mut buf)?;
        if let Compression::Shared { window_bits } = self.compression
            && self.framing == Framing::WebSocket
            && let Some(compressed) =
                deflate::shared_frame(self.opcode(), &buf[header..], window_bits)
        {
            return Ok(compressed);
        }
        Ok(buf.freeze())
    }

    /// Appends the uncompressed frame carrying `message` to `out` (a
    /// connection's queue, so a reply is encoded where it is written from)
    /// and returns the length of its header; `out` is unchanged on error.
    pub fn frame_into(self, message: &Message, out: &mut BytesMut) -> Result<usize, EncodeError> {
        let start = out.len();
        // Room for the shortest header; a longer one moves the message.
        let room = match self.framing {
            Framing::WebSocket => MIN_HEADER_BYTES,
            Framing::RawSocket => RAWSOCKET_PREFIX_BYTES,
        };
        out.put_bytes(0, room);
        let encoded = if self.batched {
            codec::batch::encode_batched(self.serializer, message, out)
        } else {
            codec::encode(self.serializer, message, out)
        };
        if let Err(e) = encoded {
            out.truncate(start);
            return Err(e);
        }
        let body = start + room;
        let len = out.len() - body;
        match self.framing {
            Framing::WebSocket => {
                let header = FrameHeader {
                    fin: true,
                    opcode: self.opcode(),
                    mask: None,
                    payload_len: len as u64,
                }
                .encode();
                let longer = header.len() - room;
                if longer > 0 {
                    out.put_bytes(0, longer);
                    out.copy_within(body..body + len, body + longer);
                }
                out[start..start + header.len()].copy_from_slice(&header);
                Ok(header.len())
            }
            Framing::RawSocket => {
                // Transports refuse messages over 16 MiB - 1 long before this.
                let len = u32::try_from(len).unwrap_or(u32::MAX).min(0x00ff_ffff);
                let prefix = len.to_be_bytes();
                out[start] = 0;
                out[start + 1..body].copy_from_slice(&prefix[1..4]);
                Ok(room)
            }
        }
    }

    /// The WebSocket frame type of this wire's messages.
    fn opcode(self) -> OpCode {
        if self.serializer.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbar_protocol::message::Goodbye;
    use ringbar_protocol::value::Dict;
    use ringbar_protocol::websocket::{FrameParser, Incoming, Role, WebSocketConfig};

    fn goodbye(reason_bytes: usize) -> Message {
        Message::Goodbye(Goodbye {
            details: Dict::new(),
            reason: "r".repeat(reason_bytes).as_str().into(),
        })
    }

    fn wire(serializer: Serializer, framing: Framing) -> Wire {
        Wire {
            serializer,
            framing,
            batched: false,
            compression: Compression::Off,
        }
    }

    /// The frame as the protocol crate's own framing builds it: a
    /// WebSocket header (`encode_frame`) or the RawSocket prefix, then the
    /// encoded message.
    fn expected_frame(wire: Wire, message: &Message) -> Vec<u8> {
        let mut payload = BytesMut::new();
        codec::encode(wire.serializer, message, &mut payload).unwrap();
        let mut frame = BytesMut::new();
        match wire.framing {
            Framing::WebSocket => {
                let opcode = if wire.serializer.is_text() {
                    OpCode::Text
                } else {
                    OpCode::Binary
                };
                ringbar_protocol::websocket::encode_frame(true, opcode, None, &payload, &mut frame);
            }
            Framing::RawSocket => {
                let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
                frame.extend_from_slice(&[0, len[1], len[2], len[3]]);
                frame.extend_from_slice(&payload);
            }
        }
        frame.to_vec()
    }

    /// Every header length (2, 4 and 10 bytes), appended after bytes
    /// already queued and built alone.
    #[test]
    fn a_frame_is_the_protocol_framing_of_its_message() {
        for reason_bytes in [0, 100, 130, 70_000] {
            for serializer in [Serializer::Json, Serializer::MsgPack] {
                for framing in [Framing::WebSocket, Framing::RawSocket] {
                    let wire = wire(serializer, framing);
                    let message = goodbye(reason_bytes);
                    let expected = expected_frame(wire, &message);
                    let mut queue = BytesMut::from(&b"queued"[..]);
                    wire.frame_into(&message, &mut queue).unwrap();
                    assert_eq!(&queue[..6], b"queued");
                    assert_eq!(&queue[6..], &expected[..], "{reason_bytes} B, {wire:?}");
                    assert_eq!(&wire.frame(&message).unwrap()[..], &expected[..]);
                }
            }
        }
    }

    #[test]
    fn a_websocket_frame_parses_back_to_its_message() {
        let wire = wire(Serializer::Json, Framing::WebSocket);
        for reason_bytes in [0, 125, 126, 65_535, 65_536] {
            let message = goodbye(reason_bytes);
            let mut buf = BytesMut::new();
            let header = wire.frame_into(&message, &mut buf).unwrap();
            let mut parser = FrameParser::new(Role::Client, WebSocketConfig::default());
            match parser.parse(&mut buf) {
                Ok(Some(Incoming::Message { payload, .. })) => {
                    assert!(header >= 2);
                    assert_eq!(codec::decode(Serializer::Json, payload).unwrap(), message);
                }
                other => panic!("{reason_bytes} B: {other:?}"),
            }
        }
    }
}
