//! The frame header (RFC 6455 §5.2): parse and encode.

use std::ops::Deref;

use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;
use super::mask::apply_mask;

/// The longest frame header: 2 fixed bytes, 8 bytes of extended length and a
/// 4-byte masking key.
pub const MAX_HEADER_BYTES: usize = 14;

/// Largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD_BYTES: u64 = 125;

/// A frame's opcode: what its payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// %x0: the next fragment of a fragmented message.
    Continuation = 0x0,
    /// %x1: the first (or only) frame of a text message.
    Text = 0x1,
    /// %x2: the first (or only) frame of a binary message.
    Binary = 0x2,
    /// %x8: the closing handshake.
    Close = 0x8,
    /// %x9: a keep-alive or liveness probe; answer with Pong.
    Ping = 0x9,
    /// %xA: the answer to a Ping, or a unidirectional heartbeat.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the low nibble `bits`, if it is not reserved.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control frame's opcode (Close, Ping, Pong), which
    /// may not be fragmented and carries at most 125 bytes.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The fixed part of a frame, everything before the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// What the payload is.
    pub opcode: OpCode,
    /// The masking key; frames from a client carry one, from a server none.
    pub mask: Option<[u8; 4]>,
    /// The payload's length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the front of `buf`, consuming nothing.
    ///
    /// Returns `Ok(None)` until the whole header is present, then the header
    /// and its length in bytes. Checks the rules that need no connection
    /// state: RSV bits clear (no extension is ever negotiated), a known
    /// opcode, control frames final and at most 125 bytes, and a 64-bit
    /// length with its top bit clear. Lengths in a longer encoding than
    /// needed are accepted: the RFC's "minimal number of bytes MUST be used"
    /// binds the sender, and the decoded value is what the limits check.
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        Ok(Self::parse_rsv1(buf, false)?.map(|(header, _, len)| (header, len)))
    }

    /// Like [`FrameHeader::parse`], but RSV1 may be set when `rsv1_allowed`
    /// (permessage-deflate was negotiated); also returns whether it is.
    /// Which frames may carry it is the caller's rule.
    pub fn parse_rsv1(
        buf: &[u8],
        rsv1_allowed: bool,
    ) -> Result<Option<(Self, bool, usize)>, ProtocolError> {
        // Reject a bad first byte before the rest has arrived.
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let reserved = if rsv1_allowed { 0x30 } else { 0x70 };
        if b0 & reserved != 0 {
            return Err(ProtocolError::ReservedBitsSet);
        }
        let rsv1 = b0 & 0x40 != 0;
        let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(ProtocolError::UnknownOpCode(b0 & 0x0F))?;
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let rest = buf.get(2..).unwrap_or_default();
        let (payload_len, rest, len_bytes) = match b1 & 0x7F {
            126 => match rest.split_first_chunk::<2>() {
                Some((len, rest)) => (u64::from(u16::from_be_bytes(*len)), rest, 2),
                None => return Ok(None),
            },
            127 => match rest.split_first_chunk::<8>() {
                Some((len, rest)) => (u64::from_be_bytes(*len), rest, 8),
                None => return Ok(None),
            },
            len => (u64::from(len), rest, 0),
        };
        if payload_len >> 63 != 0 {
            return Err(ProtocolError::InvalidPayloadLength);
        }
        if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD_BYTES {
            return Err(ProtocolError::ControlFrameTooLong(payload_len));
        }
        let mask = if masked {
            match rest.first_chunk::<4>() {
                Some(key) => Some(*key),
                None => return Ok(None),
            }
        } else {
            None
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        Ok(Some((
            Self {
                fin,
                opcode,
                mask,
                payload_len,
            },
            rsv1,
            header_len,
        )))
    }

    /// Encodes the header in the minimal length encoding.
    ///
    /// The result lives on the stack, so the payload can follow it in a
    /// vectored write without being copied. The payload must already be
    /// masked with [`FrameHeader::mask`] when one is set.
    pub fn encode(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_BYTES];
        bytes[0] = (u8::from(self.fin) << 7) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        if self.payload_len < 126 {
            // Below 126, so the cast keeps every bit.
            bytes[1] = mask_bit | self.payload_len as u8;
        } else if let Ok(short) = u16::try_from(self.payload_len) {
            bytes[1] = mask_bit | 126;
            bytes[2..4].copy_from_slice(&short.to_be_bytes());
            len = 4;
        } else {
            bytes[1] = mask_bit | 127;
            bytes[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            len = 10;
        }
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        EncodedHeader {
            bytes,
            len: len as u8,
        }
    }
}

/// An encoded frame header on the stack: deref it to the header's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_BYTES],
    len: u8,
}

impl Deref for EncodedHeader {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl AsRef<[u8]> for EncodedHeader {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Appends one whole frame, header then payload, to `out`.
///
/// With a `mask` the payload is masked in place in `out`, so `payload` stays
/// untouched. For the zero-copy path (one shared payload, many headers) use
/// [`FrameHeader::encode`] and a vectored write instead. The caller keeps
/// control frames final and at most 125 bytes.
pub fn encode_frame(
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    out: &mut BytesMut,
) {
    let header = FrameHeader {
        fin,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    }
    .encode();
    out.reserve(header.len() + payload.len());
    out.put_slice(&header);
    let start = out.len();
    out.put_slice(payload);
    if let (Some(key), Some(written)) = (mask, out.get_mut(start..)) {
        apply_mask(written, key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(bytes)
    }

    #[test]
    fn incomplete_headers_consume_nothing() {
        let full = FrameHeader {
            fin: true,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        }
        .encode();
        assert_eq!(full.len(), 14);
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let (header, len) = parse(&full).unwrap().unwrap();
        assert_eq!(len, 14);
        assert_eq!(header.payload_len, 70_000);
        assert_eq!(header.mask, Some([1, 2, 3, 4]));
    }

    #[test]
    fn encode_round_trips_every_length_class() {
        for payload_len in [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 40] {
            for mask in [None, Some([9, 9, 9, 9])] {
                let header = FrameHeader {
                    fin: payload_len % 2 == 0,
                    opcode: OpCode::Text,
                    mask,
                    payload_len,
                };
                let encoded = header.encode();
                assert_eq!(parse(&encoded), Ok(Some((header, encoded.len()))));
            }
        }
    }

    #[test]
    fn rejects_bad_first_byte_early() {
        assert_eq!(parse(&[0xC1]), Err(ProtocolError::ReservedBitsSet));
        assert_eq!(
            FrameHeader::parse_rsv1(&[0xC1, 0x00], true),
            Ok(Some((
                FrameHeader {
                    fin: true,
                    opcode: OpCode::Text,
                    mask: None,
                    payload_len: 0
                },
                true,
                2
            )))
        );
        assert_eq!(
            FrameHeader::parse_rsv1(&[0xA1], true),
            Err(ProtocolError::ReservedBitsSet)
        );
        assert_eq!(parse(&[0x83]), Err(ProtocolError::UnknownOpCode(3)));
        assert_eq!(parse(&[0x8B]), Err(ProtocolError::UnknownOpCode(0xB)));
        assert_eq!(parse(&[0x09]), Err(ProtocolError::FragmentedControlFrame));
    }

    #[test]
    fn rejects_long_control_frames_and_top_bit() {
        assert_eq!(
            parse(&[0x89, 0x7E, 0x00, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            parse(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }

    #[test]
    fn accepts_non_minimal_length() {
        let (header, len) = parse(&[0x82, 0x7E, 0x00, 0x05]).unwrap().unwrap();
        assert_eq!((header.payload_len, len), (5, 4));
        // A control frame is judged by its decoded length.
        let (header, _) = parse(&[0x89, 0x7E, 0x00, 0x05]).unwrap().unwrap();
        assert_eq!(header.payload_len, 5);
    }

    #[test]
    fn encode_frame_masks_in_place() {
        let mut out = BytesMut::new();
        encode_frame(
            true,
            OpCode::Text,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
            &mut out,
        );
        assert_eq!(
            &out[..],
            &[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }
}
