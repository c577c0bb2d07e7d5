//! The sending side of permessage-deflate (RFC 7692 §7.2.1): a message is
//! compressed with a sync flush, its trailing `00 00 ff ff` removed, and
//! sent in one frame with RSV1 set.

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

use super::SYNC_TAIL;
use crate::websocket::frame::{FrameHeader, MAX_HEADER_BYTES, OpCode};
use crate::websocket::mask::apply_mask;

/// zlib's level 1: a router compresses every message it sends, often the
/// same event for thousands of receivers, so speed matters more than the
/// last percent of size; WAMP messages are small and repetitive, and level
/// 1 already finds the repeats.
const LEVEL: u32 = 1;

/// The first bit of a frame's first byte after FIN: set on the first frame
/// of a compressed message.
const RSV1: u8 = 0x40;

/// A compression stream of one direction of one connection.
///
/// With context takeover each message may refer back to the ones before,
/// so one `Compressor` must see every compressed message of its connection,
/// in the order they are sent. Without it, the stream is reset after each
/// message and the same frame can go to any number of receivers.
pub struct Compressor {
    stream: Compress,
    no_context_takeover: bool,
}

/// The compressor failed; its stream is unusable, so the connection must
/// close.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("deflate failed: {0}")]
pub struct CompressError(String);

impl Compressor {
    /// A compressor with a window of `window_bits` (8 to 15), resetting
    /// after each message when `no_context_takeover`.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            stream: Compress::new_with_window_bits(
                Compression::new(LEVEL),
                false,
                zlib_window_bits(window_bits),
            ),
            no_context_takeover,
        }
    }

    /// One whole frame, FIN and RSV1 set, carrying `payload` compressed:
    /// header (masked with `mask` when given) and data in one buffer.
    pub fn frame(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) -> Result<Bytes, CompressError> {
        // Room for the header in front, and enough behind for deflate's
        // worst case (stored blocks: 5 bytes per 16 KiB) and the flush.
        let room = MAX_HEADER_BYTES;
        let mut buf: Vec<u8> = Vec::with_capacity(room + payload.len() + payload.len() / 64 + 64);
        buf.resize(room, 0);
        let start_in = self.stream.total_in();
        loop {
            let consumed = usize::try_from(self.stream.total_in() - start_in).unwrap_or(usize::MAX);
            let input = payload.get(consumed..).unwrap_or_default();
            self.stream
                .compress_vec(input, &mut buf, self.flush())
                .map_err(|e| CompressError(e.to_string()))?;
            // The flush is complete when deflate stopped short of the end of
            // the space it was given.
            if buf.len() < buf.capacity() {
                break;
            }
            buf.reserve(buf.capacity());
        }
        if buf.ends_with(&SYNC_TAIL) && buf.len() >= room + SYNC_TAIL.len() {
            buf.truncate(buf.len() - SYNC_TAIL.len());
        }
        if buf.len() == room {
            // A flush right after a flush, with no input, makes zlib write
            // nothing; the receiver still appends the sync tail, so send the
            // empty stored block's first byte, as RFC 7692 §7.2.3.6 does.
            buf.push(0x00);
        }
        let header = FrameHeader {
            fin: true,
            opcode,
            mask,
            payload_len: (buf.len() - room) as u64,
        }
        .encode();
        let start = room - header.len();
        if let Some(at) = buf.get_mut(start..room) {
            at.copy_from_slice(&header);
        }
        if let Some(first) = buf.get_mut(start) {
            *first |= RSV1;
        }
        if let (Some(key), Some(data)) = (mask, buf.get_mut(room..)) {
            apply_mask(data, key, 0);
        }
        Ok(Bytes::from(buf).slice(start..))
    }
}

impl Compressor {
    /// How a message ends: a sync flush keeps the window for the next
    /// message; a full flush also forgets it, so the next message refers to
    /// nothing before it (RFC 7692 §7.2.1), which costs less than resetting
    /// the stream (zlib then clears its whole state, not just the hash).
    fn flush(&self) -> FlushCompress {
        if self.no_context_takeover {
            FlushCompress::Full
        } else {
            FlushCompress::Sync
        }
    }
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

/// The window zlib is given for `window_bits`: zlib refuses 8 for raw
/// deflate, so 8 becomes 9. That still honours a 256-byte window: zlib never
/// refers further back than the window minus its 262-byte lookahead, 250
/// bytes with 9 bits.
pub(super) fn zlib_window_bits(window_bits: u8) -> u8 {
    window_bits.clamp(9, super::MAX_WINDOW_BITS)
}
