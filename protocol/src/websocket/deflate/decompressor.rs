//! The receiving side of permessage-deflate (RFC 7692 §7.2.2), bounded: a
//! message inflates in chunks into a buffer that never grows past the
//! caller's limit, so a decompression bomb costs at most the limit.

use flate2::{Decompress, FlushDecompress, Status};

use super::SYNC_TAIL;
use super::compressor::zlib_window_bits;
use crate::websocket::error::ProtocolError;

/// The largest step by which the output buffer grows.
const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// The smallest step, so small messages take one call.
const MIN_CHUNK_BYTES: usize = 1024;

/// A decompression stream of one direction of one connection.
///
/// The stream (zlib's window and state, about 45 KiB) is set up by the
/// first compressed message: a WAMP client that offers compression may send
/// nothing compressed, and a router holds thousands of connections.
pub struct Decompressor {
    stream: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    /// The peer ended the deflate stream (a final block) inside the current
    /// message; the rest of the message is ignored and the stream restarts.
    ended: bool,
}

impl Decompressor {
    /// A decompressor for a peer that compresses with a window of at most
    /// `window_bits` and resets after each message when
    /// `no_context_takeover`.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            stream: None,
            window_bits: zlib_window_bits(window_bits),
            no_context_takeover,
            ended: false,
        }
    }

    /// Inflates one frame of a compressed message, appending to `out`;
    /// `fin` marks the message's last frame. Fails with
    /// [`ProtocolError::MessageTooLarge`] as soon as `out` would pass
    /// `max_len` bytes, having grown to at most `max_len + 1`, and with
    /// [`ProtocolError::InvalidCompressedData`] on a corrupt stream.
    pub fn inflate(
        &mut self,
        fragment: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), ProtocolError> {
        let window_bits = self.window_bits;
        let stream = self
            .stream
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, window_bits));
        feed(stream, &mut self.ended, fragment, out, max_len)?;
        if fin {
            feed(stream, &mut self.ended, &SYNC_TAIL, out, max_len)?;
            if self.no_context_takeover || self.ended {
                stream.reset(false);
                self.ended = false;
            }
        }
        Ok(())
    }
}

/// Inflates `input` onto `out` within `max_len`; sets `ended` when the peer
/// ended the deflate stream, after which input is ignored.
fn feed(
    stream: &mut Decompress,
    ended: &mut bool,
    mut input: &[u8],
    out: &mut Vec<u8>,
    max_len: usize,
) -> Result<(), ProtocolError> {
    let too_large = |len: usize| ProtocolError::MessageTooLarge {
        len: len as u64,
        max: max_len,
    };
    let mut chunk = input
        .len()
        .saturating_mul(4)
        .clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES);
    while !*ended {
        // One byte past the limit tells "exactly the limit" from "more".
        let room = (max_len + 1).saturating_sub(out.len()).min(chunk);
        if room == 0 {
            return Err(too_large(out.len()));
        }
        let start = out.len();
        if out.capacity() - start < room {
            out.reserve_exact(room);
        }
        let spare = out.capacity() - start;
        let (in_before, out_before) = (stream.total_in(), stream.total_out());
        let status = stream
            .decompress_vec(input, out, FlushDecompress::Sync)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        let consumed = usize::try_from(stream.total_in() - in_before).unwrap_or(usize::MAX);
        let produced = usize::try_from(stream.total_out() - out_before).unwrap_or(usize::MAX);
        input = input.get(consumed..).unwrap_or_default();
        if out.len() > max_len {
            return Err(too_large(out.len()));
        }
        if status == Status::StreamEnd {
            *ended = true;
        } else if produced < spare && input.is_empty() {
            // Output space was left over: everything given is out.
            return Ok(());
        } else if consumed == 0 && produced == 0 {
            return Err(ProtocolError::InvalidCompressedData);
        }
        chunk = (chunk * 2).min(MAX_CHUNK_BYTES);
    }
    Ok(())
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}
