//! permessage-deflate (RFC 7692): compressed WebSocket messages.
//!
//! ```text
//!  handshake   Sec-WebSocket-Extensions ──► parse_extensions ──► negotiate ──► DeflateAccept
//!              (client: CLIENT_OFFER ──► DeflateParams::from_response)
//!
//!  receive     FrameParser::with_deflate(Decompressor) ──► RSV1 messages inflated,
//!              bounded by max_frame_bytes / max_message_bytes of inflated output
//!
//!  send        Compressor::frame ──► one RSV1 frame per message
//! ```
//!
//! The server decides per message whether to compress (RSV1 is per
//! message), so tiny messages may go out as they are.

mod compressor;
mod decompressor;
mod extensions;
mod negotiate;

pub use compressor::{CompressError, Compressor};
pub use decompressor::Decompressor;
pub use extensions::{Extension, ExtensionSyntaxError, MAX_EXTENSION_ITEMS, parse_extensions};
pub use negotiate::{
    CLIENT_OFFER, DeflateAccept, DeflateConfig, DeflateParams, DeflateResponseError,
    MAX_WINDOW_BITS, MIN_WINDOW_BITS, PERMESSAGE_DEFLATE, negotiate,
};

/// The end of a sync flush: removed from each compressed message by the
/// sender, appended again by the receiver before inflating.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl DeflateParams {
    /// The server's compressor.
    pub fn server_compressor(&self) -> Compressor {
        Compressor::new(self.server_max_window_bits, self.server_no_context_takeover)
    }

    /// The server's decompressor of what the client sends.
    pub fn server_decompressor(&self) -> Decompressor {
        Decompressor::new(self.client_max_window_bits, self.client_no_context_takeover)
    }

    /// The client's compressor.
    pub fn client_compressor(&self) -> Compressor {
        Compressor::new(self.client_max_window_bits, self.client_no_context_takeover)
    }

    /// The client's decompressor of what the server sends.
    pub fn client_decompressor(&self) -> Decompressor {
        Decompressor::new(self.server_max_window_bits, self.server_no_context_takeover)
    }
}
