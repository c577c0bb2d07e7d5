//! Why an opening handshake failed, and the HTTP status that says so.

/// A failed opening handshake.
///
/// Each variant names what is wrong; [`HandshakeError::status`] is the HTTP
/// status a server answers with ([`write_rejection`](super::write_rejection)
/// writes the whole response). Variants found in a server's response, on the
/// client side, are never answered; they map to 502 Bad Gateway, the status
/// a proxy would give for an invalid upstream response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The HTTP head is not complete within `max_header_bytes`.
    #[error("header exceeds {max_bytes} bytes")]
    HeaderTooLarge {
        /// The configured limit.
        max_bytes: usize,
    },
    /// The HTTP head has more than `max_header_count` header fields.
    #[error("more than {max_count} header fields")]
    TooManyHeaders {
        /// The configured limit.
        max_count: usize,
    },
    /// The head is not UTF-8 or contains control characters.
    #[error("header is not valid text")]
    InvalidHeaderText,
    /// The request line is not `METHOD target HTTP/x.y`.
    #[error("malformed request line")]
    MalformedRequestLine,
    /// The status line is not `HTTP/1.1 code reason`.
    #[error("malformed status line")]
    MalformedStatusLine,
    /// A header line is not `name: value` with a token name.
    #[error("malformed header field")]
    MalformedHeader,
    /// The method is not GET.
    #[error("method must be GET")]
    MethodNotGet,
    /// The HTTP version is not 1.1.
    #[error("HTTP/1.1 required")]
    UnsupportedHttpVersion,
    /// The request target is not an absolute path (`/...`).
    #[error("request target must be an absolute path")]
    InvalidRequestTarget,
    /// A required header field is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header field that must appear once appears several times.
    #[error("duplicate header {0}")]
    DuplicateHeader(&'static str),
    /// A header field's value is not allowed (for example a line break in a
    /// value given to the client builder).
    #[error("invalid value in header {0}")]
    InvalidHeaderValue(&'static str),
    /// The `Upgrade` header does not list `websocket`.
    #[error("Upgrade header does not name websocket")]
    NotWebSocketUpgrade,
    /// The `Connection` header does not list `upgrade`.
    #[error("Connection header does not name upgrade")]
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes.
    #[error("Sec-WebSocket-Key is not base64 of 16 bytes")]
    InvalidKey,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("unsupported WebSocket version, 13 required")]
    UnsupportedVersion,
    /// Client side: the server answered with another status than 101.
    #[error("server answered {0} instead of 101")]
    UnexpectedStatus(u16),
    /// Client side: `Sec-WebSocket-Accept` does not match the key sent.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// Client side: the server chose a subprotocol the client did not offer.
    #[error("server chose subprotocol {0:?}, which was not offered")]
    UnofferedProtocol(String),
    /// Client side: the server enabled an extension that was not offered.
    #[error("server enabled an extension that was not offered")]
    UnofferedExtension,
    /// Client side: the server's permessage-deflate answer breaks RFC 7692.
    #[error("invalid Sec-WebSocket-Extensions in the answer: {0}")]
    InvalidExtensionResponse(String),
}

impl HandshakeError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeaderTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::MethodNotGet => 405,
            Self::UnsupportedVersion => 426,
            Self::InvalidHeaderText
            | Self::MalformedRequestLine
            | Self::MalformedHeader
            | Self::UnsupportedHttpVersion
            | Self::InvalidRequestTarget
            | Self::MissingHeader(_)
            | Self::DuplicateHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::NotWebSocketUpgrade
            | Self::ConnectionNotUpgrade
            | Self::InvalidKey => 400,
            Self::MalformedStatusLine
            | Self::UnexpectedStatus(_)
            | Self::AcceptMismatch
            | Self::UnofferedProtocol(_)
            | Self::UnofferedExtension
            | Self::InvalidExtensionResponse(_) => 502,
        }
    }
}
