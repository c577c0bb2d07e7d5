//! Frames out of a byte stream (a serial line). Bytes arrive in any
//! pieces; the decoder takes a frame only when its header is valid and its
//! CRC matches. Anything else — line noise, a frame cut short, a bad CRC —
//! costs one byte at a time until a valid frame starts again
//! (resynchronisation), and is counted, never fatal.

use bytes::{Buf, BytesMut};

use super::frame::{Frame, FrameError, HEADER_BYTES, Header};

/// A stream decoder. Its buffer holds at most one frame and the last
/// piece pushed.
#[derive(Debug)]
pub struct StreamDecoder {
    buffer: BytesMut,
    max_data: usize,
    counts: DecodeCounts,
}

/// What the decoder threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// Frames taken.
    pub frames: u64,
    /// Frames whose CRC did not match.
    pub bad_crc: u64,
    /// Bytes skipped to find the next frame.
    pub skipped_bytes: u64,
}

impl StreamDecoder {
    /// A decoder of frames of at most `max_data` data bytes.
    pub fn new(max_data: usize) -> Self {
        StreamDecoder {
            buffer: BytesMut::with_capacity(HEADER_BYTES + max_data),
            max_data,
            counts: DecodeCounts::default(),
        }
    }

    /// Takes the bytes just read; call [`StreamDecoder::next_frame`] until
    /// it gives `None` before pushing again.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let header = match Header::parse(&self.buffer, self.max_data) {
                Ok(header) => header,
                Err(FrameError::Truncated(_)) => return None,
                Err(_) => {
                    self.skip();
                    continue;
                }
            };
            let total = HEADER_BYTES + header.data_bytes();
            if self.buffer.len() < total {
                return None;
            }
            match header.check(&self.buffer[..total]) {
                Ok(frame) => {
                    self.buffer.advance(total);
                    self.counts.frames += 1;
                    return Some(frame);
                }
                Err(_) => {
                    self.counts.bad_crc += 1;
                    self.skip();
                }
            }
        }
    }

    /// The line went quiet with part of a frame buffered: a header whose
    /// data never comes (noise that looked like a header, or a frame cut
    /// short). Skips bytes until a whole frame is found in what is
    /// buffered, or nothing is left; the frames found.
    pub fn flush_stalled(&mut self) -> Vec<Frame> {
        let mut found = Vec::new();
        while !self.buffer.is_empty() {
            match self.next_frame() {
                Some(frame) => found.push(frame),
                None => self.skip(),
            }
        }
        found
    }

    /// Whether part of a frame waits for more bytes.
    pub fn is_partial(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// What it took and threw away so far.
    pub fn counts(&self) -> DecodeCounts {
        self.counts
    }

    fn skip(&mut self) {
        if !self.buffer.is_empty() {
            self.buffer.advance(1);
            self.counts.skipped_bytes += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::frame::{DEFAULT_MAX_DATA_BYTES, FrameType, Opcode};
    use super::*;

    fn wire(frames: &[Frame]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for frame in frames {
            frame.encode(&mut out);
        }
        out.to_vec()
    }

    fn change(seq: u16, data: &'static [u8]) -> Frame {
        Frame {
            frame_type: FrameType::Req,
            opcode: Opcode::Change,
            device: 2,
            seq,
            register: 1025,
            position: 0,
            length: data.len() as u16,
            data: Bytes::from_static(data),
        }
    }

    fn drain(decoder: &mut StreamDecoder) -> Vec<Frame> {
        std::iter::from_fn(|| decoder.next_frame()).collect()
    }

    #[test]
    fn garbage_and_bad_crcs_are_skipped_and_counted() {
        let good = [change(1, b"ab"), change(2, b"cd")];
        let mut bad = wire(&[change(9, b"zz")]);
        bad[12] ^= 0xff;
        let mut bytes = b"\xff\x00noise".to_vec();
        bytes.extend(wire(&good[..1]));
        bytes.extend(&bad);
        bytes.extend(wire(&good[1..]));
        let mut decoder = StreamDecoder::new(DEFAULT_MAX_DATA_BYTES);
        decoder.push(&bytes);
        assert_eq!(drain(&mut decoder), good);
        let counts = decoder.counts();
        assert_eq!(counts.frames, 2);
        assert!(counts.bad_crc >= 1);
        assert!(counts.skipped_bytes >= 7 + 14);
        assert!(!decoder.is_partial());
    }

    #[test]
    fn a_frame_cut_short_is_flushed_when_the_line_goes_quiet() {
        let mut bytes = wire(&[change(1, b"abcdef")]);
        bytes.truncate(15);
        bytes.extend(wire(&[change(2, b"ok")]));
        let mut decoder = StreamDecoder::new(DEFAULT_MAX_DATA_BYTES);
        decoder.push(&bytes);
        // The cut frame's header announces 6 bytes: the next frame's
        // first bytes stand in for them, and the CRC fails.
        let mut found = drain(&mut decoder);
        found.extend(decoder.flush_stalled());
        assert_eq!(found, [change(2, b"ok")]);
        assert!(!decoder.is_partial());
    }

    proptest! {
        /// Frames between noise, split at arbitrary points, come out whole
        /// and in order once the line goes quiet, and the buffer stays
        /// bounded. The noise bytes and the devices stay below 0x40, so no
        /// noise byte can start a header (frame type 0): otherwise noise
        /// forges a frame once in 65536 CRCs, and the test would flake.
        #[test]
        fn frames_come_out_of_noise_in_any_pieces(
            frames in proptest::collection::vec(super::super::frame::tests::frame(), 0..5),
            noise in proptest::collection::vec(proptest::collection::vec(0u8..0x40, 0..20), 5),
            piece in 1usize..40,
        ) {
            let frames: Vec<Frame> = frames
                .into_iter()
                .map(|frame| Frame { device: frame.device % 0x40, ..frame })
                .collect();
            let mut bytes = Vec::new();
            for (frame, noise) in frames.iter().zip(&noise) {
                bytes.extend(noise);
                bytes.extend(wire(std::slice::from_ref(frame)));
            }
            let mut decoder = StreamDecoder::new(DEFAULT_MAX_DATA_BYTES);
            let mut found = Vec::new();
            for chunk in bytes.chunks(piece) {
                decoder.push(chunk);
                found.extend(drain(&mut decoder));
                prop_assert!(decoder.buffer.len() < HEADER_BYTES + DEFAULT_MAX_DATA_BYTES + piece);
            }
            found.extend(decoder.flush_stalled());
            prop_assert_eq!(found, frames);
        }

        /// Any bytes at all: no panic, and the buffer stays bounded.
        #[test]
        fn any_bytes_keep_the_buffer_bounded(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            piece in 1usize..40,
        ) {
            let mut decoder = StreamDecoder::new(DEFAULT_MAX_DATA_BYTES);
            for chunk in bytes.chunks(piece) {
                decoder.push(chunk);
                drain(&mut decoder);
                prop_assert!(decoder.buffer.len() < HEADER_BYTES + DEFAULT_MAX_DATA_BYTES + piece);
            }
            decoder.flush_stalled();
            prop_assert!(!decoder.is_partial());
        }
    }
}
