//! Client side: the upgrade request and the check of the server's answer
//! (RFC 6455 §4.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, BytesMut};

use super::accept_key;
use super::error::HandshakeError;
use super::http;
use crate::websocket::config::WebSocketConfig;
use crate::websocket::deflate::{self, DeflateParams};

/// One client's opening handshake: what it asks for and what it must see in
/// the answer.
///
/// The key comes from 16 random bytes the caller draws (this crate has no
/// random number generator); RFC 6455 asks for a fresh nonce per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    host: String,
    target: String,
    protocols: Vec<String>,
    key: String,
    accept: String,
    offer_deflate: bool,
}

/// The server's accepting answer, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    protocol: Option<String>,
    deflate: Option<DeflateParams>,
    headers: Vec<(String, String)>,
}

impl ClientHandshake {
    /// A handshake for `target` (path and query) on `host`, offering
    /// `protocols` in order of preference, keyed by `nonce`.
    ///
    /// Fails when a value could not be sent as it is: a host with control
    /// characters, a target not starting with `/`, a protocol that is not a
    /// token.
    pub fn new(
        host: &str,
        target: &str,
        protocols: &[&str],
        nonce: [u8; 16],
    ) -> Result<Self, HandshakeError> {
        if host.is_empty() || !http::is_field_text(host) {
            return Err(HandshakeError::InvalidHeaderValue("Host"));
        }
        if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HandshakeError::InvalidRequestTarget);
        }
        if !protocols.iter().all(|p| http::is_token(p)) {
            return Err(HandshakeError::InvalidHeaderValue("Sec-WebSocket-Protocol"));
        }
        let key = STANDARD.encode(nonce);
        Ok(Self {
            host: host.to_owned(),
            target: target.to_owned(),
            protocols: protocols.iter().map(|&p| p.to_owned()).collect(),
            accept: accept_key(&key),
            key,
            offer_deflate: false,
        })
    }

    /// The same handshake offering permessage-deflate
    /// ([`deflate::CLIENT_OFFER`]); [`Response::deflate`] tells what the
    /// server accepted.
    pub fn with_deflate_offer(mut self) -> Self {
        self.offer_deflate = true;
        self
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the upgrade request to `out`.
    pub fn write_request(&self, out: &mut BytesMut) {
        out.put_slice(b"GET ");
        out.put_slice(self.target.as_bytes());
        out.put_slice(b" HTTP/1.1\r\nHost: ");
        out.put_slice(self.host.as_bytes());
        out.put_slice(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
        out.put_slice(self.key.as_bytes());
        out.put_slice(b"\r\nSec-WebSocket-Version: 13\r\n");
        if !self.protocols.is_empty() {
            out.put_slice(b"Sec-WebSocket-Protocol: ");
            out.put_slice(self.protocols.join(", ").as_bytes());
            out.put_slice(b"\r\n");
        }
        if self.offer_deflate {
            out.put_slice(b"Sec-WebSocket-Extensions: ");
            out.put_slice(deflate::CLIENT_OFFER.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
    }

    /// Reads the server's answer from the front of `buf`.
    ///
    /// Returns `Ok(None)` until the whole HTTP head has arrived, then the
    /// checked response and the number of bytes it took; bytes after it are
    /// already WebSocket frames. Fails on any other status than 101, a
    /// missing `Upgrade`/`Connection`, a wrong `Sec-WebSocket-Accept`, a
    /// subprotocol that was not offered, an extension that was not offered
    /// or an invalid permessage-deflate answer, or a head beyond
    /// the limits of `config`.
    pub fn parse_response(
        &self,
        buf: &[u8],
        config: &WebSocketConfig,
    ) -> Result<Option<(Response, usize)>, HandshakeError> {
        let Some((head, len)) = http::parse_head(buf, config)? else {
            return Ok(None);
        };
        let status = parse_status_line(head.start_line)?;
        if status != 101 {
            return Err(HandshakeError::UnexpectedStatus(status));
        }
        let fields = &head.fields;
        if !http::list_contains(fields, "Upgrade", "websocket") {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        if !http::list_contains(fields, "Connection", "upgrade") {
            return Err(HandshakeError::ConnectionNotUpgrade);
        }
        if http::required(fields, "Sec-WebSocket-Accept")? != self.accept {
            return Err(HandshakeError::AcceptMismatch);
        }
        let extensions =
            deflate::parse_extensions(http::values(fields, "Sec-WebSocket-Extensions"))
                .map_err(|e| HandshakeError::InvalidExtensionResponse(e.to_string()))?;
        if !extensions.is_empty() && !self.offer_deflate {
            return Err(HandshakeError::UnofferedExtension);
        }
        let deflate = DeflateParams::from_response(&extensions)
            .map_err(|e| HandshakeError::InvalidExtensionResponse(e.to_string()))?;
        let protocol = http::single(fields, "Sec-WebSocket-Protocol")?;
        if let Some(protocol) = protocol
            && !self.protocols.iter().any(|p| p == protocol)
        {
            return Err(HandshakeError::UnofferedProtocol(protocol.to_owned()));
        }
        let response = Response {
            protocol: protocol.map(str::to_owned),
            deflate,
            headers: fields
                .iter()
                .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        };
        Ok(Some((response, len)))
    }
}

impl Response {
    /// The subprotocol the server chose, one of those offered.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters the server accepted, if any.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Every header field in the order received, name as sent.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
}

/// Reads `HTTP/1.1 <3 digits> <reason>` and returns the status.
fn parse_status_line(line: &str) -> Result<u16, HandshakeError> {
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .ok_or(HandshakeError::MalformedStatusLine)?;
    let code = rest.get(..3).ok_or(HandshakeError::MalformedStatusLine)?;
    let after = rest.get(3..).unwrap_or_default();
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(after.is_empty() || after.starts_with(' ')) {
        return Err(HandshakeError::MalformedStatusLine);
    }
    code.parse()
        .map_err(|_| HandshakeError::MalformedStatusLine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line() {
        assert_eq!(
            parse_status_line("HTTP/1.1 101 Switching Protocols"),
            Ok(101)
        );
        assert_eq!(parse_status_line("HTTP/1.1 404"), Ok(404));
        for line in [
            "HTTP/1.0 101 x",
            "HTTP/1.1 1O1 x",
            "HTTP/1.1 10",
            "HTTP/1.1 1011",
        ] {
            assert_eq!(
                parse_status_line(line),
                Err(HandshakeError::MalformedStatusLine),
                "{line:?}"
            );
        }
    }

    #[test]
    fn builder_refuses_injection() {
        let nonce = [0; 16];
        assert!(ClientHandshake::new("h\r\nX: y", "/", &[], nonce).is_err());
        assert!(ClientHandshake::new("h", "/a b", &[], nonce).is_err());
        assert!(ClientHandshake::new("h", "/", &["a,b"], nonce).is_err());
        assert!(ClientHandshake::new("h", "/", &["wamp.2.json"], nonce).is_ok());
    }
}
