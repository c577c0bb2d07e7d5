//! RawSocket framing: a 4-octet prefix `RRRR XTTT LLLLLLLL LLLLLLLL LLLLLLLL`
//! (reserved bits, 25th length bit, frame type, 24-bit big-endian length)
//! before each payload.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::length::MaxMessageLength;

/// Octets in a frame prefix.
pub const FRAME_HEADER_LEN: usize = 4;

/// The largest payload a prefix can describe: 2^24 octets, which needs the
/// `X` bit (set only for exactly this length, with the 24 length bits zero).
pub const MAX_FRAME_PAYLOAD_BYTES: usize = 1 << 24;

/// The largest payload [`FrameEncoder`] sends: 2^24 - 1, the most the 24
/// length bits hold without the `X` bit. Peers implementing the older prefix
/// (`RRRR RTTT`) would misread a frame that sets `X`, so ringbar never sends
/// one; it still accepts one when its own maximum allows.
pub const MAX_SEND_PAYLOAD_BYTES: usize = MAX_FRAME_PAYLOAD_BYTES - 1;

/// Reserved `RRRR` bits of the first prefix octet: must be zero.
const RESERVED_MASK: u8 = 0xF0;
/// The `X` bit: the payload is exactly 2^24 octets.
const EXTRA_LENGTH_BIT: u8 = 0x08;
/// The `TTT` bits: the frame type.
const TYPE_MASK: u8 = 0x07;

/// The transport-level type of a frame (`TTT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// 0: a serialized WAMP message.
    Message,
    /// 1: a PING; the peer must answer with a PONG echoing the payload.
    Ping,
    /// 2: a PONG, echoing a PING's payload.
    Pong,
}

/// A complete frame; the payload is split off the read buffer, not copied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A serialized WAMP message, for the codec.
    Message(Bytes),
    /// A PING: answer with `Frame::Pong` carrying the same payload.
    Ping(Bytes),
    /// A PONG: the answer to one of our PINGs.
    Pong(Bytes),
}

/// A decoded frame prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// What the payload is.
    pub frame_type: FrameType,
    /// Payload length in octets, at most [`MAX_FRAME_PAYLOAD_BYTES`].
    pub payload_len: usize,
}

/// Why a frame could not be parsed or encoded. Parse errors fail the
/// connection, as the spec requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RawSocketError {
    /// One of the four reserved high bits of the prefix is set.
    #[error("reserved bits set in frame prefix octet {octet:#04x}")]
    ReservedBits {
        /// The first prefix octet.
        octet: u8,
    },
    /// Frame type 3..=7, which the spec reserves.
    #[error("unknown frame type {frame_type}")]
    UnknownFrameType {
        /// The `TTT` value.
        frame_type: u8,
    },
    /// The `X` bit is set but the 24 length bits are not all zero.
    #[error("frame prefix sets the 25th length bit with a non-zero length {low_bits}")]
    InvalidExtraLengthBit {
        /// The 24 low length bits.
        low_bits: u32,
    },
    /// An incoming frame is longer than the maximum we announced; detected
    /// from the prefix alone, before the payload is buffered.
    #[error("incoming frame of {len} octets exceeds our maximum of {max}")]
    FrameTooLong {
        /// Announced payload length.
        len: usize,
        /// Our maximum.
        max: usize,
    },
    /// An outgoing payload is longer than the peer accepts (or than
    /// [`MAX_SEND_PAYLOAD_BYTES`]); the caller decides whether to drop it.
    #[error("outgoing payload of {len} octets exceeds the peer's maximum of {max}")]
    PayloadTooLong {
        /// Payload length.
        len: usize,
        /// The peer's maximum.
        max: usize,
    },
}

/// Incremental parser for incoming frames, held to the maximum we announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameParser {
    max_payload_bytes: usize,
}

/// Builds outgoing frame prefixes, held to the maximum the peer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameEncoder {
    max_payload_bytes: usize,
}

impl FrameType {
    /// The 3-bit `TTT` value.
    pub const fn id(self) -> u8 {
        match self {
            Self::Message => 0,
            Self::Ping => 1,
            Self::Pong => 2,
        }
    }

    /// The type for a `TTT` value, `None` for the reserved 3..=7.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::Message),
            1 => Some(Self::Ping),
            2 => Some(Self::Pong),
            _ => None,
        }
    }
}

impl Frame {
    /// A frame of `frame_type` carrying `payload`.
    pub const fn new(frame_type: FrameType, payload: Bytes) -> Self {
        match frame_type {
            FrameType::Message => Self::Message(payload),
            FrameType::Ping => Self::Ping(payload),
            FrameType::Pong => Self::Pong(payload),
        }
    }

    /// The frame's type.
    pub const fn frame_type(&self) -> FrameType {
        match self {
            Self::Message(_) => FrameType::Message,
            Self::Ping(_) => FrameType::Ping,
            Self::Pong(_) => FrameType::Pong,
        }
    }

    /// The payload.
    pub const fn payload(&self) -> &Bytes {
        match self {
            Self::Message(payload) | Self::Ping(payload) | Self::Pong(payload) => payload,
        }
    }

    /// The payload, by value.
    pub fn into_payload(self) -> Bytes {
        match self {
            Self::Message(payload) | Self::Ping(payload) | Self::Pong(payload) => payload,
        }
    }
}

impl FrameHeader {
    /// Decodes a prefix; the length is not yet checked against any maximum.
    pub const fn parse(octets: [u8; FRAME_HEADER_LEN]) -> Result<Self, RawSocketError> {
        let [first, l0, l1, l2] = octets;
        if first & RESERVED_MASK != 0 {
            return Err(RawSocketError::ReservedBits { octet: first });
        }
        let frame_type = match FrameType::from_id(first & TYPE_MASK) {
            Some(frame_type) => frame_type,
            None => {
                return Err(RawSocketError::UnknownFrameType {
                    frame_type: first & TYPE_MASK,
                });
            }
        };
        let low_bits = u32::from_be_bytes([0, l0, l1, l2]);
        let payload_len = if first & EXTRA_LENGTH_BIT == 0 {
            low_bits as usize
        } else if low_bits == 0 {
            MAX_FRAME_PAYLOAD_BYTES
        } else {
            return Err(RawSocketError::InvalidExtraLengthBit { low_bits });
        };
        Ok(Self {
            frame_type,
            payload_len,
        })
    }

    /// Encodes the prefix, setting `X` for a payload of exactly 2^24 octets.
    pub const fn to_bytes(self) -> Result<[u8; FRAME_HEADER_LEN], RawSocketError> {
        if self.payload_len > MAX_FRAME_PAYLOAD_BYTES {
            return Err(RawSocketError::PayloadTooLong {
                len: self.payload_len,
                max: MAX_FRAME_PAYLOAD_BYTES,
            });
        }
        let mut first = self.frame_type.id();
        if self.payload_len == MAX_FRAME_PAYLOAD_BYTES {
            first |= EXTRA_LENGTH_BIT;
        }
        // payload_len <= 2^24, so the cast keeps every bit; the 2^24 bit
        // falls off the 3 low octets and is carried by X.
        let [_, l0, l1, l2] = (self.payload_len as u32).to_be_bytes();
        Ok([first, l0, l1, l2])
    }
}

impl FrameParser {
    /// A parser accepting payloads up to `max` (the maximum we announced).
    pub const fn new(max: MaxMessageLength) -> Self {
        Self {
            max_payload_bytes: max.bytes(),
        }
    }

    /// The largest payload accepted.
    pub const fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }

    /// Takes the next complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` and consumes nothing while the prefix or the
    /// payload is incomplete. The length is checked as soon as the prefix is
    /// there, so an oversized frame is refused before its payload is read.
    /// The payload is split off `buf` without a copy.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, RawSocketError> {
        let Some(octets) = buf.first_chunk::<FRAME_HEADER_LEN>() else {
            return Ok(None);
        };
        let header = FrameHeader::parse(*octets)?;
        if header.payload_len > self.max_payload_bytes {
            return Err(RawSocketError::FrameTooLong {
                len: header.payload_len,
                max: self.max_payload_bytes,
            });
        }
        // payload_len <= 2^24: no overflow.
        if buf.len() < FRAME_HEADER_LEN + header.payload_len {
            return Ok(None);
        }
        buf.advance(FRAME_HEADER_LEN);
        let payload = buf.split_to(header.payload_len).freeze();
        Ok(Some(Frame::new(header.frame_type, payload)))
    }
}

impl FrameEncoder {
    /// An encoder for a peer that announced `peer_max`; capped at
    /// [`MAX_SEND_PAYLOAD_BYTES`].
    pub const fn new(peer_max: MaxMessageLength) -> Self {
        let peer_max = peer_max.bytes();
        Self {
            max_payload_bytes: if peer_max < MAX_SEND_PAYLOAD_BYTES {
                peer_max
            } else {
                MAX_SEND_PAYLOAD_BYTES
            },
        }
    }

    /// The largest payload this encoder sends.
    pub const fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }

    /// The prefix for a payload of `payload_len` octets, so the payload
    /// `Bytes` can follow it in one vectored write without a copy.
    pub const fn header(
        &self,
        frame_type: FrameType,
        payload_len: usize,
    ) -> Result<[u8; FRAME_HEADER_LEN], RawSocketError> {
        if payload_len > self.max_payload_bytes {
            return Err(RawSocketError::PayloadTooLong {
                len: payload_len,
                max: self.max_payload_bytes,
            });
        }
        FrameHeader {
            frame_type,
            payload_len,
        }
        .to_bytes()
    }

    /// Appends prefix and payload to `dst`, for building a frame once into
    /// one buffer that many connections share. On error `dst` is unchanged.
    pub fn encode(
        &self,
        frame_type: FrameType,
        payload: &[u8],
        dst: &mut BytesMut,
    ) -> Result<(), RawSocketError> {
        let header = self.header(frame_type, payload.len())?;
        dst.reserve(FRAME_HEADER_LEN + payload.len());
        dst.extend_from_slice(&header);
        dst.extend_from_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_octets_follow_the_spec() {
        let ping = FrameHeader {
            frame_type: FrameType::Ping,
            payload_len: 0x01_02_03,
        };
        assert_eq!(ping.to_bytes(), Ok([0x01, 0x01, 0x02, 0x03]));
        assert_eq!(FrameHeader::parse([0x01, 0x01, 0x02, 0x03]), Ok(ping));

        let biggest_plain = FrameHeader {
            frame_type: FrameType::Message,
            payload_len: MAX_SEND_PAYLOAD_BYTES,
        };
        assert_eq!(biggest_plain.to_bytes(), Ok([0x00, 0xFF, 0xFF, 0xFF]));
    }

    #[test]
    fn extra_length_bit_encodes_exactly_16_mib() {
        let header = FrameHeader {
            frame_type: FrameType::Pong,
            payload_len: MAX_FRAME_PAYLOAD_BYTES,
        };
        assert_eq!(header.to_bytes(), Ok([0x0A, 0, 0, 0]));
        assert_eq!(FrameHeader::parse([0x0A, 0, 0, 0]), Ok(header));
        assert_eq!(
            FrameHeader::parse([0x08, 0, 0, 1]),
            Err(RawSocketError::InvalidExtraLengthBit { low_bits: 1 })
        );
    }

    #[test]
    fn reserved_bits_and_types_are_refused() {
        for bit in 4..8 {
            let octet = 1u8 << bit;
            assert_eq!(
                FrameHeader::parse([octet, 0, 0, 0]),
                Err(RawSocketError::ReservedBits { octet })
            );
        }
        for frame_type in 3..8 {
            assert_eq!(
                FrameHeader::parse([frame_type, 0, 0, 0]),
                Err(RawSocketError::UnknownFrameType { frame_type })
            );
        }
    }

    #[test]
    fn encoder_caps_at_the_peer_maximum() {
        let small = FrameEncoder::new(MaxMessageLength::MIN);
        assert_eq!(small.max_payload_bytes(), 512);
        assert!(small.header(FrameType::Message, 512).is_ok());
        assert_eq!(
            small.header(FrameType::Message, 513),
            Err(RawSocketError::PayloadTooLong { len: 513, max: 512 })
        );
        let big = FrameEncoder::new(MaxMessageLength::MAX);
        assert_eq!(big.max_payload_bytes(), MAX_SEND_PAYLOAD_BYTES);
    }
}
