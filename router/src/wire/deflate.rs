//! permessage-deflate on the sending side: which frames are compressed,
//! and by which compressor.
//!
//! Without context takeover on the server side every message is compressed
//! on its own, so the compressed frame depends only on the message and the
//! window: [`Wire::frame`](crate::wire::Wire::frame) builds it once for every
//! receiver with the same [`Wire`](crate::wire::Wire), as for uncompressed
//! frames. With context takeover a message may refer back to the ones the
//! connection sent before, so each connection compresses its own frames, in
//! the order they are queued ([`ConnectionCompressor`]).

use std::cell::RefCell;

use bytes::Bytes;
use ringbar_protocol::websocket::deflate::{
    Compressor, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS,
};
use ringbar_protocol::websocket::{FrameHeader, OpCode};

/// Messages shorter than this go out uncompressed when each message is
/// compressed on its own: with an empty window a short WAMP message has
/// nothing to refer back to, and deflate's block header eats what little
/// it saves (measured in docs/BENCHMARKS.md). With context takeover every
/// message is compressed, since short ones gain most from the window.
pub const MIN_SHARED_COMPRESSED_BYTES: usize = 128;

/// The window sizes a peer may ask for: 8 to 15 bits.
const WINDOW_SIZES: usize = (MAX_WINDOW_BITS - MIN_WINDOW_BITS + 1) as usize;

/// How a WebSocket session's data frames are compressed; part of the
/// [`Wire`](crate::wire::Wire), since it decides which frames can be
/// shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not negotiated.
    Off,
    /// Server no context takeover: each message compressed on its own with
    /// a window of this many bits; the frame is shared.
    Shared {
        /// The negotiated `server_max_window_bits`.
        window_bits: u8,
    },
    /// Context takeover: the connection compresses its frames itself.
    PerConnection,
}

impl Compression {
    /// The compression a connection with `params` (if negotiated) uses.
    pub fn for_params(params: Option<&DeflateParams>) -> Self {
        match params {
            None => Self::Off,
            Some(p) if p.server_no_context_takeover => Self::Shared {
                window_bits: p.server_max_window_bits,
            },
            Some(_) => Self::PerConnection,
        }
    }
}

/// One compressed frame carrying `payload`, compressed on its own, or
/// `None` when it is too short to gain (or compression failed: the frame
/// then goes out as it is, which is always allowed).
pub fn shared_frame(opcode: OpCode, payload: &[u8], window_bits: u8) -> Option<Bytes> {
    if payload.len() < MIN_SHARED_COMPRESSED_BYTES {
        return None;
    }
    thread_local! {
        /// A core's compressors without context takeover, one per window
        /// size, kept because setting one up costs more than compressing a
        /// small message.
        static SHARED: RefCell<[Option<Compressor>; WINDOW_SIZES]> =
            RefCell::new(Default::default());
    }
    SHARED.with(|compressors| {
        let mut compressors = compressors.borrow_mut();
        let index = usize::from(window_bits.saturating_sub(MIN_WINDOW_BITS));
        let compressor = compressors
            .get_mut(index)?
            .get_or_insert_with(|| Compressor::new(window_bits, true));
        compressor.frame(opcode, payload, None).ok()
    })
}

/// A connection's own compressor (context takeover): every data frame
/// queued on the connection goes through it, in order.
pub struct ConnectionCompressor {
    /// `None` after a failure: what follows goes out uncompressed, which
    /// the peer reads whatever its window holds.
    compressor: RefCell<Option<Compressor>>,
}

impl ConnectionCompressor {
    /// The compressor of a connection with `params`.
    pub fn new(params: &DeflateParams) -> Self {
        Self {
            compressor: RefCell::new(Some(params.server_compressor())),
        }
    }

    /// `frame` (a whole, final, uncompressed frame as
    /// [`Wire::frame`](crate::wire::Wire::frame) builds it) compressed, or
    /// unchanged when it is not a data frame.
    pub fn compress(&self, frame: Bytes) -> Bytes {
        let Ok(Some((header, header_len))) = FrameHeader::parse(&frame) else {
            return frame;
        };
        if !matches!(header.opcode, OpCode::Text | OpCode::Binary) || !header.fin {
            return frame;
        }
        let mut slot = self.compressor.borrow_mut();
        let Some(compressor) = slot.as_mut() else {
            return frame;
        };
        let payload = frame.get(header_len..).unwrap_or_default();
        match compressor.frame(header.opcode, payload, None) {
            Ok(compressed) => compressed,
            Err(e) => {
                tracing::warn!(error = %e, "permessage-deflate failed: the connection goes on uncompressed");
                *slot = None;
                frame
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use ringbar_protocol::websocket::{FrameParser, Incoming, Role, WebSocketConfig, encode_frame};

    use super::*;

    fn plain(opcode: OpCode, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        encode_frame(true, opcode, None, payload, &mut out);
        out.freeze()
    }

    #[test]
    fn a_connection_compresses_data_frames_in_order_and_nothing_else() {
        let params = DeflateParams::default();
        let compressor = ConnectionCompressor::new(&params);
        let mut wire = BytesMut::new();
        let long = "abc".repeat(100);
        for payload in ["x", long.as_str(), long.as_str()] {
            let frame = compressor.compress(plain(OpCode::Text, payload.as_bytes()));
            assert_eq!(frame[0] & 0x40, 0x40, "RSV1 on every data frame");
            wire.extend_from_slice(&frame);
        }
        let pong = plain(OpCode::Pong, b"p");
        assert_eq!(compressor.compress(pong.clone()), pong);
        let mut parser = FrameParser::new(Role::Client, WebSocketConfig::default())
            .with_deflate(params.client_decompressor());
        let mut got = Vec::new();
        while let Ok(Some(Incoming::Message { payload, .. })) = parser.parse(&mut wire) {
            got.push(payload);
        }
        assert_eq!(got, ["x", long.as_str(), long.as_str()]);
    }

    #[test]
    fn shared_frames_skip_short_messages() {
        assert_eq!(shared_frame(OpCode::Text, b"short", 15), None);
        let long = vec![b'a'; MIN_SHARED_COMPRESSED_BYTES];
        for bits in MIN_WINDOW_BITS..=MAX_WINDOW_BITS {
            let frame = shared_frame(OpCode::Binary, &long, bits).unwrap();
            assert!(frame.len() < long.len() / 4);
        }
    }
}
