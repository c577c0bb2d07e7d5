//! How a session's messages travel: its serializer and its transport
//! framing. An outgoing frame (WebSocket header or RawSocket prefix plus the
//! encoded message) is built in one buffer, so a frame built once can be
//! queued for every session with the same [`Wire`].

pub mod deflate;

use bytes::{Bytes, BytesMut};
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

/// The RawSocket frame prefix: type 0 (a WAMP message) and a 24-bit length.
pub const RAWSOCKET_PREFIX_BYTES: usize = 4;

impl Wire {
    /// The whole frame carrying `message`.
    pub fn frame(self, message: &Message) -> Result<Bytes, EncodeError> {
        let room = match self.framing {
            Framing::WebSocket => MAX_HEADER_BYTES,
            Framing::RawSocket => RAWSOCKET_PREFIX_BYTES,
        };
        let mut buf = BytesMut::with_capacity(room + 128);
        buf.resize(room, 0);
        if self.batched {
            codec::batch::encode_batched(self.serializer, message, &mut buf)?;
        } else {
            codec::encode(self.serializer, message, &mut buf)?;
        }
        let len = buf.len() - room;
        let start = match self.framing {
            Framing::WebSocket => {
                let opcode = if self.serializer.is_text() {
                    OpCode::Text
                } else {
                    OpCode::Binary
                };
                let header = FrameHeader {
                    fin: true,
                    opcode,
                    mask: None,
                    payload_len: len as u64,
                }
                .encode();
                if let Compression::Shared { window_bits } = self.compression
                    && let Some(compressed) =
                        deflate::shared_frame(opcode, &buf[room..], window_bits)
                {
                    return Ok(compressed);
                }
                let start = room - header.len();
                buf[start..room].copy_from_slice(&header);
                start
            }
            Framing::RawSocket => {
                // Transports refuse messages over 16 MiB - 1 long before this.
                let len = u32::try_from(len).unwrap_or(u32::MAX).min(0x00ff_ffff);
                let prefix = len.to_be_bytes();
                buf[0] = 0;
                buf[1..4].copy_from_slice(&prefix[1..4]);
                0
            }
        };
        let mut frame = buf.freeze();
        frame = frame.slice(start..);
        Ok(frame)
    }
}
