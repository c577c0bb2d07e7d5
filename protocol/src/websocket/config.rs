//! The one place where every WebSocket limit lives.

/// Limits for one WebSocket connection, from the opening handshake to the
/// last frame.
///
/// Every buffer this module fills on behalf of a peer is bounded by one of
/// these fields, so a misbehaving peer costs at most this much memory. The
/// defaults suit a WAMP router; raise them per listener when a realm carries
/// larger payloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// Largest HTTP head (request or status line, header fields and the
    /// blank line) of the opening handshake.
    ///
    /// Default 8 KiB: the size nginx and most proxies accept per header
    /// block, far above what a WebSocket client sends (a few hundred bytes,
    /// a few KiB with cookies).
    pub max_header_bytes: usize,
    /// Largest number of header fields in the opening handshake.
    ///
    /// Default 64: a browser sends about 15; the limit caps the per-field
    /// bookkeeping a peer can make us do.
    pub max_header_count: usize,
    /// Largest payload of a single frame.
    ///
    /// Default 16 MiB, equal to `max_message_bytes`, so an unfragmented
    /// message may use the whole message budget. Checked from the frame
    /// header, before any byte of the payload is buffered.
    pub max_frame_bytes: usize,
    /// Largest payload of a whole message, summed over its fragments.
    ///
    /// Default 16 MiB: the WAMP RawSocket transport's largest message size
    /// (2^24 bytes), so both transports accept the same messages. Checked
    /// from each frame header, before the fragment is buffered; exceeding it
    /// fails with close code 1009.
    pub max_message_bytes: usize,
}

impl WebSocketConfig {
    /// Default for [`WebSocketConfig::max_header_bytes`].
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;
    /// Default for [`WebSocketConfig::max_header_count`].
    pub const DEFAULT_MAX_HEADER_COUNT: usize = 64;
    /// Default for [`WebSocketConfig::max_frame_bytes`].
    pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
    /// Default for [`WebSocketConfig::max_message_bytes`].
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_header_count: Self::DEFAULT_MAX_HEADER_COUNT,
            max_frame_bytes: Self::DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}
