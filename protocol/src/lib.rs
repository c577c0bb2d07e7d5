//! `ringbar-protocol`: the WAMP v2 protocol as a pure function of bytes.
//!
//! Bytes go in, typed messages and events come out; nothing here opens a
//! socket, spawns a thread or reads a clock. The router (`ringbar-engine`)
//! and the load generator (`ringbar-loadtest`) both speak WAMP through it.
//!
//! ```text
//!  socket bytes ──► websocket::FrameParser / rawsocket::FrameParser ──► message bytes
//!  message bytes ──► codec::decode ──► Message (payload kept as raw bytes)
//!  Message ──► codec::encode (payload spliced or transcoded) ──► frame header + bytes
//! ```
//!
//! Modules:
//! - [`message`]: the WAMP messages with typed ids; `Arguments`/`ArgumentsKw`
//!   stay raw encoded bytes ([`message::Payload`]).
//! - [`codec`]: `wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor`,
//!   `wamp.2.ubjson`, and their batched WebSocket framing.
//! - [`value`]: the value tree used for `Details`/`Options` and transcoding.
//! - [`options`]: typed, validated views of the options the router acts on.
//! - [`http`]: HTTP/1.1 requests (RFC 9112) for the web service.
//! - [`websocket`]: RFC 6455 opening handshake and framing, both sides.
//! - [`rawsocket`]: the WAMP RawSocket transport's handshake and framing.
//! - [`uri`]: URI validation (strict and loose) and matching policies.

pub mod codec;
pub mod fuzzing;
pub mod http;
pub mod id;
pub mod message;
pub mod options;
pub mod rawsocket;
pub mod str;
pub mod uri;
pub mod value;
pub mod websocket;
