//! Just enough HTTP/1.1 for a scrape: one GET request head in, bounded in
//! size and time, one complete response out, then the connection closes.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// The longest request head read; a longer one is answered 431.
pub(crate) const MAX_HEAD_BYTES: usize = 8 * 1024;

/// A request line's parts that a scrape needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestLine<'a> {
    /// `GET`, `POST`, ...
    pub(crate) method: &'a str,
    /// The target's path, without the query.
    pub(crate) path: &'a str,
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The head outgrew [`MAX_HEAD_BYTES`].
    TooLarge,
    /// The peer closed, failed, or was too slow.
    Io(io::Error),
}

/// Reads a request head (through the blank line) within `timeout` in all.
/// The stream must have a read timeout set, so one read cannot outlast it.
pub(crate) fn read_head(stream: &mut impl Read, timeout: Duration) -> Result<Vec<u8>, ReadError> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(ReadError::TooLarge);
        }
        if Instant::now() > deadline {
            return Err(ReadError::Io(io::ErrorKind::TimedOut.into()));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => head.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

/// The request line of a head: `METHOD TARGET HTTP/1.x`; `None` when it is
/// not one.
pub(crate) fn request_line(head: &[u8]) -> Option<RequestLine<'_>> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
    if !token(method) || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some(RequestLine { method, path })
}

/// A complete response: `status`, extra header lines, a body of
/// `content_type`.
pub(crate) struct Response<'a> {
    /// The status code.
    pub(crate) status: u16,
    /// Extra header fields (`Allow: GET` with 405).
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The body's media type.
    pub(crate) content_type: &'a str,
    /// The body.
    pub(crate) body: &'a [u8],
}

impl Response<'_> {
    /// A plain-text error response with `text` as its body.
    pub(crate) fn error<'a>(
        status: u16,
        text: &'a str,
        headers: &'a [(&'a str, &'a str)],
    ) -> Response<'a> {
        Response {
            status,
            headers,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes(),
        }
    }

    /// Writes the response and flushes it; the caller closes the stream.
    pub(crate) fn write(&self, stream: &mut impl Write) -> io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nServer: ringbar\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        stream.write_all(out.as_bytes())?;
        stream.write_all(self.body)?;
        stream.flush()
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_split() {
        assert_eq!(
            request_line(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a"),
            Some(RequestLine {
                method: "GET",
                path: "/metrics"
            })
        );
        assert_eq!(
            request_line(b"POST / HTTP/1.0").map(|r| r.method),
            Some("POST")
        );
        for bad in [
            &b"GET /metrics"[..],
            b"GET metrics HTTP/1.1",
            b"GET /metrics HTTP/2",
            b"GET  /metrics HTTP/1.1",
            b"G\xffT / HTTP/1.1",
            b"",
        ] {
            assert_eq!(
                request_line(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_head_is_read_to_its_blank_line_and_no_further_than_the_limit() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
        let head = read_head(&mut input, Duration::from_secs(1)).unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nHost: x");

        let long = vec![b'a'; 3 * MAX_HEAD_BYTES];
        let mut input: &[u8] = &long;
        assert!(matches!(
            read_head(&mut input, Duration::from_secs(1)),
            Err(ReadError::TooLarge)
        ));

        let mut input: &[u8] = b"GET / HTTP/1.1\r\n";
        assert!(matches!(
            read_head(&mut input, Duration::from_secs(1)),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn a_response_is_complete() {
        let mut out = Vec::new();
        Response::error(405, "only GET\n", &[("Allow", "GET")])
            .write(&mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\nConnection: close\r\nServer: ringbar\r\nAllow: GET\r\n\r\nonly GET\n"
        );
    }
}
