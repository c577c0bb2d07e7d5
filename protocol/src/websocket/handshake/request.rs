//! Server side: the client's upgrade request (RFC 6455 §4.2.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::HandshakeError;
use super::http::{self, Head};
use crate::websocket::config::WebSocketConfig;
use crate::websocket::deflate::{Extension, parse_extensions};

/// A valid WebSocket upgrade request.
///
/// Only [`parse_request`] builds one, so holding a `Request` means every
/// check of RFC 6455 §4.2.1 has passed; the router only decides on path,
/// origin and subprotocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    target: String,
    host: String,
    origin: Option<String>,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    headers: Vec<(String, String)>,
}

/// Reads an upgrade request from the front of `buf`.
///
/// Returns `Ok(None)` until the whole HTTP head has arrived, then the
/// request and the number of bytes it took; bytes after it belong to the
/// WebSocket stream. Fails once the head outgrows the limits of `config`.
/// On error, answer with [`write_rejection`](super::write_rejection) and
/// close the connection.
pub fn parse_request(
    buf: &[u8],
    config: &WebSocketConfig,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let Some((head, len)) = http::parse_head(buf, config)? else {
        return Ok(None);
    };
    Request::from_head(&head).map(|request| Some((request, len)))
}

impl Request {
    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path of the request target, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The query of the request target, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `Origin` header, sent by browsers; check it against the allowed
    /// origins to stop cross-site use.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The `Sec-WebSocket-Key` header, already checked.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols the client offers, most preferred first, from every
    /// `Sec-WebSocket-Protocol` header.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions the client offers, most preferred first, from every
    /// `Sec-WebSocket-Extensions` header (see
    /// [`deflate::negotiate`](crate::websocket::deflate::negotiate)).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Every header field in the order received, name as sent.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of the header field `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn from_head(head: &Head<'_>) -> Result<Self, HandshakeError> {
        let target = parse_request_line(head.start_line)?;
        let fields = &head.fields;
        let host = http::required(fields, "Host")?;
        if !http::list_contains(fields, "Upgrade", "websocket") {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        if !http::list_contains(fields, "Connection", "upgrade") {
            return Err(HandshakeError::ConnectionNotUpgrade);
        }
        if http::required(fields, "Sec-WebSocket-Version")? != "13" {
            return Err(HandshakeError::UnsupportedVersion);
        }
        let key = http::required(fields, "Sec-WebSocket-Key")?;
        check_key(key)?;
        let origin = http::single(fields, "Origin")?;
        let protocols = http::list(fields, "Sec-WebSocket-Protocol")
            .map(str::to_owned)
            .collect();
        let extensions = parse_extensions(http::values(fields, "Sec-WebSocket-Extensions"))
            .map_err(|_| HandshakeError::InvalidHeaderValue("Sec-WebSocket-Extensions"))?;
        Ok(Self {
            target: target.to_owned(),
            host: host.to_owned(),
            origin: origin.map(str::to_owned),
            key: key.to_owned(),
            protocols,
            extensions,
            headers: fields
                .iter()
                .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        })
    }
}

/// Checks `GET <absolute path> HTTP/1.1` and returns the target.
fn parse_request_line(line: &str) -> Result<&str, HandshakeError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HandshakeError::MalformedRequestLine);
    };
    if !http::is_token(method) {
        return Err(HandshakeError::MalformedRequestLine);
    }
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if version != "HTTP/1.1" {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HandshakeError::InvalidRequestTarget);
    }
    Ok(target)
}

/// A key is the base64 encoding of 16 bytes: 24 characters with padding.
fn check_key(key: &str) -> Result<(), HandshakeError> {
    let mut nonce = [0u8; 18];
    match STANDARD.decode_slice(key, &mut nonce) {
        Ok(16) => Ok(()),
        _ => Err(HandshakeError::InvalidKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line() {
        assert_eq!(parse_request_line("GET /ws?a=1 HTTP/1.1"), Ok("/ws?a=1"));
        assert_eq!(
            parse_request_line("POST /ws HTTP/1.1"),
            Err(HandshakeError::MethodNotGet)
        );
        assert_eq!(
            parse_request_line("GET /ws HTTP/1.0"),
            Err(HandshakeError::UnsupportedHttpVersion)
        );
        assert_eq!(
            parse_request_line("GET ws HTTP/1.1"),
            Err(HandshakeError::InvalidRequestTarget)
        );
        for line in ["GET /ws", "GET  /ws HTTP/1.1", "GET /ws HTTP/1.1 x", ""] {
            assert_eq!(
                parse_request_line(line),
                Err(HandshakeError::MalformedRequestLine),
                "{line:?}"
            );
        }
    }

    #[test]
    fn keys() {
        assert_eq!(check_key("dGhlIHNhbXBsZSBub25jZQ=="), Ok(()));
        for key in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25jZSE=",
            "dGhlIHNhbXBsZSBub25jZSEhIQ==",
            "dGhlIHNhbXBsZSBub25jZQ*=",
        ] {
            assert_eq!(check_key(key), Err(HandshakeError::InvalidKey), "{key:?}");
        }
    }
}
