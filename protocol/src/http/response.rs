//! Writing a response head (RFC 9112 §4) and the plain-text error
//! responses.

use bytes::{BufMut, BytesMut};

/// Appends `HTTP/1.1 <status> <reason>`, the `fields` and the blank line
/// to `out`. Field values must not hold CR or LF (the caller builds them
/// from config and numbers, never from a request).
pub fn write_head(status: u16, fields: &[(&str, &str)], out: &mut BytesMut) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(itoa::Buffer::new().format(status).as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason_phrase(status).as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in fields {
        out.put_slice(name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// Appends a complete error response: `status`, the `fields`, and
/// `message` as a one-line plain-text body (control characters become
/// spaces, so a message that quotes a request cannot add fields). The
/// caller adds `Connection: close` to `fields` when it closes.
pub fn write_error(status: u16, message: &str, fields: &[(&str, &str)], out: &mut BytesMut) {
    let body: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .chain(std::iter::once('\n'))
        .collect();
    let length = itoa::Buffer::new().format(body.len()).to_owned();
    let mut all = Vec::with_capacity(fields.len() + 2);
    all.extend_from_slice(fields);
    all.push(("Content-Type", "text/plain; charset=utf-8"));
    all.push(("Content-Length", length.as_str()));
    write_head(status, &all, out);
    out.put_slice(body.as_bytes());
}

/// The standard reason phrase of `status` (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_response_is_one_line_of_text() {
        let mut out = BytesMut::new();
        write_error(
            404,
            "no such path\r\nX: injected",
            &[("Connection", "close")],
            &mut out,
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "HTTP/1.1 404 Not Found\r\n\
             Connection: close\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 26\r\n\r\n\
             no such path  X: injected\n"
        );
    }
}
