//! WebSocket (RFC 6455): the opening handshake and framing, both sides.
//!
//! ```text
//!  handshake   read bytes ──► handshake::parse_request ──► Request
//!                             negotiate_subprotocol, write_accept ──► bytes to write
//!              (client: ClientHandshake::write_request / parse_response)
//!
//!  frames      read bytes ──► BytesMut ──► FrameParser::parse ──► Incoming
//!                                 │         (split_to, unmask in place,
//!                                 │          join fragments, check UTF-8)
//!                                 └── Message { Text | Binary, Bytes } / Ping / Pong / Close
//!
//!  outgoing    FrameHeader::encode ──► [u8; 14] header ─┐
//!              payload Bytes (shared, unchanged) ───────┴─► vectored write
//!              or encode_frame ──► header + payload in one BytesMut
//! ```
//!
//! The `Origin` check ([`OriginPolicy`]) is Crossbar.io's, so its configs
//! admit the same browsers.
//!
//! Nothing here reads a socket or a clock: the caller moves the bytes and
//! acts on the events (answers a Ping, closes with
//! [`ProtocolError::close_code`] on an error). Every limit is a field of
//! [`WebSocketConfig`]. The one extension is permessage-deflate
//! ([`deflate`]), which may set RSV1; RSV2 and RSV3 must be clear.

mod close;
mod config;
pub mod deflate;
mod error;
mod fragment;
mod frame;
pub mod handshake;
mod mask;
mod origin;
mod parser;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON_BYTES, encode_close_payload};
pub use config::WebSocketConfig;
pub use error::ProtocolError;
pub use frame::{
    EncodedHeader, FrameHeader, MAX_CONTROL_PAYLOAD_BYTES, MAX_HEADER_BYTES, OpCode, encode_frame,
};
pub use mask::apply_mask;
pub use origin::{OriginPolicy, OriginRefused, pattern_can_match};
pub use parser::{DataOpCode, FrameParser, Incoming, Role};
