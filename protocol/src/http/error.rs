//! Why a request is refused, and with which status.

/// A request the server refuses; [`HttpError::status`] is the answer, after
/// which the connection closes (its framing can no longer be trusted).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The request line or a field is not HTTP/1.x syntax.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The version is not HTTP/1.0 or HTTP/1.1.
    #[error("HTTP version not supported: send HTTP/1.1")]
    UnsupportedVersion,
    /// The target is longer than `max_target_bytes`.
    #[error("request target longer than {0} bytes")]
    TargetTooLong(usize),
    /// Request line and fields are longer than `max_head_bytes`.
    #[error("request head longer than {0} bytes")]
    HeadTooLarge(usize),
    /// More than `max_header_count` fields.
    #[error("more than {0} header fields")]
    TooManyFields(usize),
    /// An HTTP/1.1 request without exactly one `Host` (RFC 9112 §3.2).
    #[error("an HTTP/1.1 request needs exactly one Host field")]
    BadHost,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3, a
    /// request smuggling vector).
    #[error("both Transfer-Encoding and Content-Length: send one")]
    ConflictingFraming,
    /// `Content-Length` is not one decimal number.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// `Transfer-Encoding` without `chunked` last, or in HTTP/1.0.
    #[error("invalid Transfer-Encoding: chunked must be the final coding (HTTP/1.1 only)")]
    BadTransferEncoding,
    /// A transfer coding other than `chunked` (gzip, ...).
    #[error("transfer coding not implemented: send chunked only")]
    UnsupportedTransferCoding,
    /// A method that carries content, without a length.
    #[error("{0} needs Content-Length or chunked Transfer-Encoding")]
    LengthRequired(String),
    /// A body larger than `max_body_bytes`.
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// A chunk size line, chunk end or trailer that is not RFC 9112 §7.1.
    #[error("malformed chunked body: {0}")]
    BadChunk(&'static str),
    /// An `Expect` other than `100-continue`.
    #[error("unsupported Expect: only 100-continue is known")]
    ExpectationFailed,
}

impl HttpError {
    /// The response status for this error.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::Malformed(_)
            | HttpError::BadHost
            | HttpError::ConflictingFraming
            | HttpError::BadContentLength
            | HttpError::BadTransferEncoding
            | HttpError::BadChunk(_) => 400,
            HttpError::UnsupportedVersion => 505,
            HttpError::TargetTooLong(_) => 414,
            HttpError::HeadTooLarge(_) | HttpError::TooManyFields(_) => 431,
            HttpError::UnsupportedTransferCoding => 501,
            HttpError::LengthRequired(_) => 411,
            HttpError::BodyTooLarge(_) => 413,
            HttpError::ExpectationFailed => 417,
        }
    }
}
