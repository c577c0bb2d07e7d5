//! The SRDP frame: a 12-byte header of six little-endian u16 — `opdev`
//! (frame type in bits 15–14, opcode in 13–12, device in 11–0), `seq`,
//! `reg`, `pos`, `len`, `crc16` — then the data. The CRC covers the header
//! with its CRC field zero, then the data.
//!
//! Which frames carry data: every frame carries `len` bytes except a
//! `REQ SYNC`, a `REQ READ` (its `len` is how much to read) and an
//! `ACK WRITE` (its `len` is how much was written). An `ERR` carries the
//! error code as a little-endian i32.

use bytes::{BufMut, Bytes, BytesMut};

use super::crc::crc16_xmodem;

/// The header's length in bytes.
pub const HEADER_BYTES: usize = 12;

/// The most data a frame carries by default: the original adapters keep
/// one 81-byte frame (6LoWPAN's payload over IEEE 802.15.4 with
/// AES-CCM-128) less the header.
pub const DEFAULT_MAX_DATA_BYTES: usize = 81 - HEADER_BYTES;

/// The highest device index (12 bits).
pub const MAX_DEVICE: u16 = 0x0fff;

/// Bits 15–14 of `opdev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// A request.
    Req = 1,
    /// A request's success.
    Ack = 2,
    /// A request's failure, with an error code.
    Err = 3,
}

/// Bits 13–12 of `opdev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// Synchronisation (no register).
    Sync = 0,
    /// Read a register (host to device).
    Read = 1,
    /// Write a register (host to device).
    Write = 2,
    /// A register changed (device to host).
    Change = 3,
}

/// One frame, its CRC checked (on decode) or still to compute (on encode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// REQ, ACK or ERR.
    pub frame_type: FrameType,
    /// SYNC, READ, WRITE or CHANGE.
    pub opcode: Opcode,
    /// The device index (0–4095; the adapter is 1).
    pub device: u16,
    /// The sequence number: a reply echoes its request's.
    pub seq: u16,
    /// The register index.
    pub register: u16,
    /// The byte position in the register.
    pub position: u16,
    /// The byte count (of the data carried, or asked for / written).
    pub length: u16,
    /// The data (empty for frames without).
    pub data: Bytes,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a header.
    #[error("{0} bytes are fewer than a frame header (12)")]
    Truncated(usize),
    /// Frame type 0 does not exist.
    #[error("frame type 0 is not REQ, ACK or ERR")]
    BadFrameType,
    /// More data than a frame may carry.
    #[error("{length} data bytes exceed the frame limit of {max}")]
    TooLong {
        /// `len` of the header.
        length: u16,
        /// The limit.
        max: usize,
    },
    /// The data is shorter than the header says (a datagram).
    #[error("the header announces {expected} data bytes, {got} arrived")]
    ShortData {
        /// `len` of the header.
        expected: usize,
        /// What the datagram held.
        got: usize,
    },
    /// The checksum does not match.
    #[error("bad CRC: the frame says {sent:#06x}, its bytes give {computed:#06x}")]
    BadCrc {
        /// The frame's `crc16`.
        sent: u16,
        /// The CRC of its bytes.
        computed: u16,
    },
}

/// A header, parsed but not yet checked against its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) frame_type: FrameType,
    pub(crate) opcode: Opcode,
    pub(crate) device: u16,
    pub(crate) seq: u16,
    pub(crate) register: u16,
    pub(crate) position: u16,
    pub(crate) length: u16,
    pub(crate) crc: u16,
}

/// Whether a frame of this type and opcode carries `len` data bytes.
pub fn carries_data(frame_type: FrameType, opcode: Opcode) -> bool {
    !matches!(
        (frame_type, opcode),
        (FrameType::Req, Opcode::Sync | Opcode::Read) | (FrameType::Ack, Opcode::Write)
    )
}

impl Frame {
    /// The frame's wire bytes, its CRC computed, appended to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let header = self.header_bytes(0);
        let crc = crc16_xmodem(&[&header, &self.data]);
        out.reserve(HEADER_BYTES + self.data.len());
        out.put_slice(&self.header_bytes(crc));
        out.put_slice(&self.data);
    }

    /// Decodes one whole frame (a UDP datagram): extra bytes after the
    /// data are refused with the rest, as a datagram holds one frame.
    pub fn decode(bytes: &[u8], max_data: usize) -> Result<Frame, FrameError> {
        let header = Header::parse(bytes, max_data)?;
        let data_bytes = header.data_bytes();
        let got = bytes.len() - HEADER_BYTES;
        if got < data_bytes {
            return Err(FrameError::ShortData {
                expected: data_bytes,
                got,
            });
        }
        header.check(&bytes[..HEADER_BYTES + data_bytes])
    }

    fn header_bytes(&self, crc: u16) -> [u8; HEADER_BYTES] {
        let opdev = ((self.frame_type as u16) << 14)
            | ((self.opcode as u16) << 12)
            | (self.device & MAX_DEVICE);
        let mut header = [0u8; HEADER_BYTES];
        for (slot, field) in header.chunks_exact_mut(2).zip([
            opdev,
            self.seq,
            self.register,
            self.position,
            self.length,
            crc,
        ]) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
        header
    }
}

impl Header {
    /// The header at the start of `bytes`, its fields checked (not its CRC).
    pub(crate) fn parse(bytes: &[u8], max_data: usize) -> Result<Header, FrameError> {
        if bytes.len() < HEADER_BYTES {
            return Err(FrameError::Truncated(bytes.len()));
        }
        let field = |i: usize| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
        let opdev = field(0);
        let frame_type = match opdev >> 14 {
            1 => FrameType::Req,
            2 => FrameType::Ack,
            3 => FrameType::Err,
            _ => return Err(FrameError::BadFrameType),
        };
        let opcode = match (opdev >> 12) & 0x3 {
            0 => Opcode::Sync,
            1 => Opcode::Read,
            2 => Opcode::Write,
            _ => Opcode::Change,
        };
        let header = Header {
            frame_type,
            opcode,
            device: opdev & MAX_DEVICE,
            seq: field(1),
            register: field(2),
            position: field(3),
            length: field(4),
            crc: field(5),
        };
        if header.data_bytes() > max_data {
            return Err(FrameError::TooLong {
                length: header.length,
                max: max_data,
            });
        }
        Ok(header)
    }

    /// How many data bytes follow the header.
    pub(crate) fn data_bytes(&self) -> usize {
        if carries_data(self.frame_type, self.opcode) {
            usize::from(self.length)
        } else {
            0
        }
    }

    /// The frame of `bytes` (exactly its header and data), its CRC checked.
    pub(crate) fn check(&self, bytes: &[u8]) -> Result<Frame, FrameError> {
        let mut zeroed = [0u8; HEADER_BYTES];
        zeroed[..HEADER_BYTES - 2].copy_from_slice(&bytes[..HEADER_BYTES - 2]);
        let computed = crc16_xmodem(&[&zeroed, &bytes[HEADER_BYTES..]]);
        if computed != self.crc {
            return Err(FrameError::BadCrc {
                sent: self.crc,
                computed,
            });
        }
        Ok(Frame {
            frame_type: self.frame_type,
            opcode: self.opcode,
            device: self.device,
            seq: self.seq,
            register: self.register,
            position: self.position,
            length: self.length,
            data: Bytes::copy_from_slice(&bytes[HEADER_BYTES..]),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    pub(crate) fn frame() -> impl Strategy<Value = Frame> {
        let types = prop_oneof![
            Just(FrameType::Req),
            Just(FrameType::Ack),
            Just(FrameType::Err)
        ];
        let opcodes = prop_oneof![
            Just(Opcode::Sync),
            Just(Opcode::Read),
            Just(Opcode::Write),
            Just(Opcode::Change)
        ];
        (
            types,
            opcodes,
            0..=MAX_DEVICE,
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..=DEFAULT_MAX_DATA_BYTES),
        )
            .prop_map(
                |(frame_type, opcode, device, seq, register, position, length, data)| {
                    let carries = carries_data(frame_type, opcode);
                    Frame {
                        frame_type,
                        opcode,
                        device,
                        seq,
                        register,
                        position,
                        length: if carries { data.len() as u16 } else { length },
                        data: if carries { data.into() } else { Bytes::new() },
                    }
                },
            )
    }

    #[test]
    fn an_ack_of_a_read_is_laid_out_as_the_documents_say() {
        let frame = Frame {
            frame_type: FrameType::Ack,
            opcode: Opcode::Read,
            device: 2,
            seq: 7,
            register: 1024,
            position: 0,
            length: 3,
            data: Bytes::from_static(&[1, 2, 3]),
        };
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        // opdev = 2 << 14 | 1 << 12 | 2 = 0x9002
        assert_eq!(&out[..10], &[0x02, 0x90, 7, 0, 0x00, 0x04, 0, 0, 3, 0]);
        let mut zeroed = out.to_vec();
        zeroed[10] = 0;
        zeroed[11] = 0;
        let crc = crc16_xmodem(&[&zeroed]);
        assert_eq!(&out[10..12], &crc.to_le_bytes());
        assert_eq!(Frame::decode(&out, DEFAULT_MAX_DATA_BYTES).unwrap(), frame);
    }

    #[test]
    fn bad_frames_say_why() {
        let mut out = BytesMut::new();
        Frame {
            frame_type: FrameType::Req,
            opcode: Opcode::Change,
            device: 1,
            seq: 1,
            register: 5,
            position: 0,
            length: 2,
            data: Bytes::from_static(&[9, 9]),
        }
        .encode(&mut out);
        let max = DEFAULT_MAX_DATA_BYTES;
        assert_eq!(
            Frame::decode(&out[..11], max),
            Err(FrameError::Truncated(11))
        );
        assert!(matches!(
            Frame::decode(&out[..13], max),
            Err(FrameError::ShortData {
                expected: 2,
                got: 1
            })
        ));
        let mut flipped = out.to_vec();
        flipped[13] ^= 1;
        assert!(matches!(
            Frame::decode(&flipped, max),
            Err(FrameError::BadCrc { .. })
        ));
        assert!(matches!(
            Frame::decode(&out, 1),
            Err(FrameError::TooLong { length: 2, max: 1 })
        ));
        let mut untyped = out.to_vec();
        untyped[1] &= 0x3f;
        assert_eq!(Frame::decode(&untyped, max), Err(FrameError::BadFrameType));
    }

    proptest! {
        #[test]
        fn frames_survive_encode_and_decode(frame in frame()) {
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            prop_assert_eq!(Frame::decode(&out, DEFAULT_MAX_DATA_BYTES), Ok(frame));
        }

        #[test]
        fn any_bytes_decode_or_say_why(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Frame::decode(&bytes, DEFAULT_MAX_DATA_BYTES);
        }

        /// Any one flipped bit is caught (a CRC-16 detects every 1-bit error).
        #[test]
        fn a_flipped_bit_is_caught(frame in frame(), bit in any::<prop::sample::Index>()) {
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            let bit = bit.index(out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
            prop_assert_ne!(Frame::decode(&out, DEFAULT_MAX_DATA_BYTES), Ok(frame));
        }
    }
}
