//! The limits one request may reach before it is refused.

/// Bounds on a request, checked before memory is reserved for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// The longest request target (path and query); longer is 414.
    pub max_target_bytes: usize,
    /// The most bytes of request line and fields together (and of a chunked
    /// body's trailer section); more is 431.
    pub max_head_bytes: usize,
    /// The most header fields; more is 431.
    pub max_header_count: usize,
    /// The largest body, after chunked decoding; larger is 413.
    pub max_body_bytes: usize,
}

impl HttpLimits {
    /// Browsers and proxies keep targets under 8 KiB.
    pub const DEFAULT_MAX_TARGET_BYTES: usize = 8 * 1024;
    /// Room for cookies and the fields of a WebSocket upgrade.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
    /// Real requests carry a few dozen fields.
    pub const DEFAULT_MAX_HEADER_COUNT: usize = 64;
    /// Path services take small documents (JSON), not uploads.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_target_bytes: Self::DEFAULT_MAX_TARGET_BYTES,
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            max_header_count: Self::DEFAULT_MAX_HEADER_COUNT,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}
