//! WAMP-over-RawSocket: the 4-octet opening handshake and the length-prefixed
//! framing that follows it.
//!
//! RawSocket is the cheapest WAMP transport (no HTTP upgrade, no masking, a
//! fixed 4-octet prefix per message), so the router and the load generator
//! both speak it. Everything here is sans-IO: octets in, values out.
//!
//! ```text
//!  client                                   router
//!  HandshakeRequest::to_bytes ──4 octets──► ServerPolicy::accept
//!  HandshakeRequest::complete ◄─4 octets─── ServerHandshake::{Accepted, Rejected}
//!             both sides now hold a Negotiated:
//!  FrameEncoder (peer's maximum) ──header + payload──► FrameParser (our maximum)
//! ```
//!
//! Decisions, where the spec leaves room:
//! - The frame prefix is `RRRR XTTT` + 24-bit length (current spec text). The
//!   parser accepts the `X` bit, which encodes a payload of exactly 2^24
//!   octets, but only when our announced maximum allows 2^24 (exponent 15).
//!   The encoder never sets it: it sends at most 2^24 - 1 octets, because
//!   peers written against the older prefix (`RRRR RTTT`, e.g. Autobahn)
//!   would misread it. See [`MAX_SEND_PAYLOAD_BYTES`].
//! - Every frame type (message, PING, PONG) is held to the announced maximum:
//!   the spec's "a message received exceeds the limit" does not exempt pings.
//! - A request with serializer id 0 ("illegal") is answered with
//!   "serializer unsupported" before closing; a wrong magic octet gets no
//!   reply at all, since the peer is not speaking RawSocket.

#![forbid(unsafe_code)]

mod frame;
mod handshake;
mod length;
mod policy;
mod serializer;

pub use frame::{
    FRAME_HEADER_LEN, Frame, FrameEncoder, FrameHeader, FrameParser, FrameType,
    MAX_FRAME_PAYLOAD_BYTES, MAX_SEND_PAYLOAD_BYTES, RawSocketError,
};
pub use handshake::{
    ClientHandshakeError, HANDSHAKE_LEN, HandshakeErrorCode, HandshakeReply, HandshakeRequest,
    MAGIC, Negotiated, ReplyError, RequestError,
};
pub use length::MaxMessageLength;
pub use policy::{ServerHandshake, ServerPolicy};
pub use serializer::SerializerSet;
