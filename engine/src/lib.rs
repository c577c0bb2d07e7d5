//! `ringbar-engine`: the WAMP router built on `ringbar-protocol`.
//!
//! The thread-per-core runtime, transports, sessions, broker and dealer land
//! here (see `DESIGN.md`); today it names the protocol version it routes.

/// The WAMP protocol version this router speaks, as announced to peers.
pub const WAMP_VERSION: &str = "wamp.2";
