//! Server side: the answer to an upgrade request, accepted or refused.

use bytes::{BufMut, BytesMut};

use super::accept_key;
use super::error::HandshakeError;
use super::request::Request;

/// Appends the `101 Switching Protocols` response that accepts `request`
/// to `out`, naming `protocol` when one was negotiated (see
/// [`negotiate_subprotocol`](super::negotiate_subprotocol)). Frames may
/// follow right after it.
pub fn write_accept(request: &Request, protocol: Option<&str>, out: &mut BytesMut) {
    write_accept_with_extensions(request, protocol, None, out);
}

/// Like [`write_accept`], also naming the accepted `extensions` (the
/// `Sec-WebSocket-Extensions` value, such as
/// [`DeflateAccept::response`](crate::websocket::deflate::DeflateAccept)).
pub fn write_accept_with_extensions(
    request: &Request,
    protocol: Option<&str>,
    extensions: Option<&str>,
    out: &mut BytesMut,
) {
    out.put_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    out.put_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    put_field(out, "Sec-WebSocket-Accept", &accept_key(request.key()));
    if let Some(protocol) = protocol {
        put_field(out, "Sec-WebSocket-Protocol", protocol);
    }
    if let Some(extensions) = extensions {
        put_field(out, "Sec-WebSocket-Extensions", extensions);
    }
    out.put_slice(b"\r\n");
}

/// Appends the response that refuses a request for `error` to `out`: its
/// status, the error's text as the body, and the header the status calls
/// for (`Sec-WebSocket-Version: 13` with 426, `Allow: GET` with 405).
/// Close the connection after writing it.
pub fn write_rejection(error: &HandshakeError, out: &mut BytesMut) {
    let extra: &[(&str, &str)] = match error {
        HandshakeError::UnsupportedVersion => &[("Sec-WebSocket-Version", "13")],
        HandshakeError::MethodNotGet => &[("Allow", "GET")],
        _ => &[],
    };
    write_response(error.status(), &error.to_string(), extra, out);
}

/// Appends an error response with any `status` (404 for an unknown path,
/// 403 for a refused origin, ...) and `reason` as a one-line plain-text
/// body. Control characters in `reason` become spaces, so it stays one line.
/// Close the connection after writing it.
pub fn write_error_response(status: u16, reason: &str, out: &mut BytesMut) {
    write_response(status, reason, &[], out);
}

fn write_response(status: u16, reason: &str, extra: &[(&str, &str)], out: &mut BytesMut) {
    let mut fields = extra.to_vec();
    fields.push(("Connection", "close"));
    crate::http::write_error(status, reason, &fields, out);
}

fn put_field(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_is_complete() {
        let mut out = BytesMut::new();
        write_error_response(404, "no such path\r\nX: injected", &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\n\
             Connection: close\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 26\r\n\r\n\
             no such path  X: injected\n"
        );
    }
}
