//! The opening handshake (RFC 6455 §4), both sides.
//!
//! Server: [`parse_request`] → [`negotiate_subprotocol`] →
//! [`write_accept`] or [`write_rejection`] / [`write_error_response`].
//! Client: [`ClientHandshake::write_request`] →
//! [`ClientHandshake::parse_response`].

mod client;
mod error;
pub(crate) mod http;
mod request;
mod response;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest as _, Sha1};

pub use client::{ClientHandshake, Response};
pub use error::HandshakeError;
pub use request::{Request, parse_request};
pub use response::{
    write_accept, write_accept_with_extensions, write_error_response, write_rejection,
};

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
const KEY_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the
/// SHA-1 of key and GUID. It proves to the client that the server read its
/// request as a WebSocket handshake.
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(KEY_GUID);
    STANDARD.encode(sha1.finalize())
}

/// Picks the subprotocol to speak: the first one in the client's `offered`
/// list (its order of preference) that the server `supported`, or `None`.
///
/// Generic over the supported names so the router passes the serializers it
/// is configured with (`wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor`).
pub fn negotiate_subprotocol<'s, S: AsRef<str>>(
    offered: &[S],
    supported: &[&'s str],
) -> Option<&'s str> {
    offered.iter().find_map(|offer| {
        supported
            .iter()
            .copied()
            .find(|&name| name == offer.as_ref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_accept_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_preference_wins() {
        let supported = ["wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"];
        let offered = ["wamp.2.cbor", "wamp.2.json"];
        assert_eq!(
            negotiate_subprotocol(&offered, &supported),
            Some("wamp.2.cbor")
        );
        assert_eq!(negotiate_subprotocol(&["mqtt"], &supported), None);
        assert_eq!(negotiate_subprotocol::<&str>(&[], &supported), None);
    }
}
