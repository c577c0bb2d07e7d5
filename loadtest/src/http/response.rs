//! Reading responses off a kept-alive connection: one head at a time with
//! `httparse`, its body by `Content-Length` or chunked (as Twisted, so
//! Crossbar.io, sends it), consuming nothing until the whole response is
//! there.

/// The most header fields a response may have.
const MAX_FIELDS: usize = 32;

/// One whole response at the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response<'a> {
    /// The status code.
    pub(crate) status: u16,
    /// The content (of a chunked one, its first chunk: enough to tell a
    /// WAMP error).
    pub(crate) body: &'a [u8],
    /// The server closes the connection after it (`Connection: close`).
    pub(crate) close: bool,
    /// Bytes of `buf` it took, head and body.
    pub(crate) len: usize,
}

impl Response<'_> {
    /// Whether it answers a REST bridge request as done: 200, and not a
    /// WAMP error (Crossbar.io answers those with 200 and `{"error": ...}`).
    pub(crate) fn succeeded(&self) -> bool {
        self.status == 200 && !self.body.starts_with(b"{\"error\"")
    }
}

/// The response at the front of `buf`: `Ok(None)` until it is all there.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<Response<'_>>, String> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut head = httparse::Response::new(&mut fields);
    let head_len = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("the server's response does not parse: {e}")),
    };
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    for field in head.headers.iter() {
        if field.name.eq_ignore_ascii_case("Content-Length") {
            let text = std::str::from_utf8(field.value).unwrap_or("");
            length = Some(
                text.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("Content-Length '{text}' is not a number"))?,
            );
        } else if field.name.eq_ignore_ascii_case("Connection") {
            close |= field.value.eq_ignore_ascii_case(b"close");
        } else if field.name.eq_ignore_ascii_case("Transfer-Encoding") {
            chunked |= field.value.eq_ignore_ascii_case(b"chunked");
        }
    }
    let status = head.code.unwrap_or(0);
    let rest = &buf[head_len..];
    let body = if chunked {
        chunks(rest)?
    } else {
        let length = length.unwrap_or(0);
        rest.get(..length).map(|body| (body, length))
    };
    Ok(body.map(|(body, len)| Response {
        status,
        body,
        close,
        len: head_len + len,
    }))
}

/// The first chunk of a chunked body at the front of `buf`, and the bytes
/// the whole body takes; `None` until its last chunk is there.
fn chunks(buf: &[u8]) -> Result<Option<(&[u8], usize)>, String> {
    let mut at = 0;
    let mut first = None;
    loop {
        let Some(line_end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[at..at + line_end];
        let size_text = line.split(|&b| b == b';').next().unwrap_or(line);
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|t| usize::from_str_radix(t.trim(), 16).ok())
            .ok_or_else(|| format!("chunk size '{}' is not hex", String::from_utf8_lossy(line)))?;
        let data = at + line_end + 2;
        if size == 0 {
            // No trailer fields: the empty line ends the body.
            return Ok(buf
                .get(data..data + 2)
                .filter(|end| *end == b"\r\n")
                .map(|_| (first.unwrap_or(&buf[..0]), data + 2)));
        }
        let Some(chunk) = buf.get(data..data + size) else {
            return Ok(None);
        };
        first.get_or_insert(chunk);
        at = data + size + 2;
        if buf.len() < at {
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pipelined_responses_one_by_one() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"id\":1}HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
        let first = parse(two).unwrap().unwrap();
        assert_eq!(
            (first.status, first.body, first.close),
            (200, &b"{\"id\":1}"[..], false)
        );
        assert!(first.succeeded());
        let second = parse(&two[first.len..]).unwrap().unwrap();
        assert!(second.close);
        assert_eq!(first.len + second.len, two.len());
    }

    #[test]
    fn reads_chunked_bodies_as_twisted_sends_them() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"id\":1}\r\n0\r\n\r\nHTTP/1.1";
        let response = parse(chunked).unwrap().unwrap();
        assert_eq!(response.body, b"{\"id\":1}");
        assert_eq!(&chunked[response.len..], b"HTTP/1.1");
        for cut in 0..response.len {
            assert_eq!(parse(&chunked[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }

    #[test]
    fn waits_for_the_whole_body_and_names_what_is_wrong() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}").unwrap(),
            None
        );
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
                .unwrap_err()
                .contains("'x'")
        );
        assert!(parse(b"garbage\r\n\r\n").is_err());
        let error = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"error\":1}";
        assert!(!parse(error).unwrap().unwrap().succeeded());
    }
}
