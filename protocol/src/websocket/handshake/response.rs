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
    let body: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .chain(std::iter::once('\n'))
        .collect();
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(itoa::Buffer::new().format(status).as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason_phrase(status).as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in extra {
        put_field(out, name, value);
    }
    out.put_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    put_field(
        out,
        "Content-Length",
        itoa::Buffer::new().format(body.len()),
    );
    out.put_slice(b"Connection: close\r\n\r\n");
    out.put_slice(body.as_bytes());
}

fn put_field(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

/// The standard reason phrase of the statuses a handshake may end with.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
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
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 26\r\n\
             Connection: close\r\n\r\n\
             no such path  X: injected\n"
        );
    }
}
