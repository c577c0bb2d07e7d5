//! The request line and header fields (RFC 9112 §3, §5), and what they
//! say about the body (§6) and the connection (§9.3).

use super::body::BodyFraming;
use super::error::HttpError;
use super::limits::HttpLimits;

/// A request head that passed every check of [`parse_head`]: the engine
/// routes on it and reads the body its [`framing`](Self::framing) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The head as text, one allocation for every part of it; a head that
    /// is not UTF-8 (obs-text in a field value) has `?` for each byte
    /// outside ASCII, so the spans still fit.
    text: String,
    method: Span,
    target: Span,
    minor_version: u8,
    /// (name, value) spans, value untrimmed.
    fields: Vec<(Span, Span)>,
    framing: BodyFraming,
    keep_alive: bool,
    expect_continue: bool,
}

/// Where a part of the head is in its text: start and end offsets.
type Span = (usize, usize);

/// Reads a request head from the front of `buf`.
///
/// `Ok(None)` until the blank line that ends the head has arrived; then the
/// head and the bytes it took (the body, or the next pipelined request,
/// follows). Fails as soon as `buf` shows that a limit of `limits` is
/// passed, without waiting for the rest.
pub fn parse_head(
    buf: &[u8],
    limits: &HttpLimits,
) -> Result<Option<(RequestHead, usize)>, HttpError> {
    let mut fields = vec![httparse::EMPTY_HEADER; limits.max_header_count];
    let mut request = httparse::Request::new(&mut fields);
    let used = match request.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => {
            check_partial(buf, limits)?;
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::TooManyFields(limits.max_header_count));
        }
        Err(httparse::Error::Version) => return Err(HttpError::UnsupportedVersion),
        Err(httparse::Error::Token) => return Err(HttpError::Malformed("invalid method")),
        Err(httparse::Error::HeaderName) => {
            return Err(HttpError::Malformed("invalid field name"));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(HttpError::Malformed("invalid field value"));
        }
        Err(_) => return Err(HttpError::Malformed("invalid request line")),
    };
    let (Some(method), Some(target), Some(minor_version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HttpError::Malformed("incomplete request line"));
    };
    if target.len() > limits.max_target_bytes {
        return Err(HttpError::TargetTooLong(limits.max_target_bytes));
    }
    if used > limits.max_head_bytes {
        return Err(HttpError::HeadTooLarge(limits.max_head_bytes));
    }
    let head = &buf[..used];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text.to_owned(),
        Err(_) => head
            .iter()
            .map(|&b| if b.is_ascii() { char::from(b) } else { '?' })
            .collect(),
    };
    let span = |part: &[u8]| {
        let start = (part.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize);
        (start, start + part.len())
    };
    let mut head = RequestHead {
        text,
        method: span(method.as_bytes()),
        target: span(target.as_bytes()),
        minor_version,
        fields: request
            .headers
            .iter()
            .map(|f| (span(f.name.as_bytes()), span(f.value)))
            .collect(),
        framing: BodyFraming::Empty,
        keep_alive: true,
        expect_continue: false,
    };
    head.check(limits)?;
    Ok(Some((head, used)))
}

impl RequestHead {
    /// The method, case-sensitive as RFC 9110 §9.1 says (`GET`, `POST`).
    pub fn method(&self) -> &str {
        self.at(self.method)
    }

    /// The request target as sent.
    pub fn target(&self) -> &str {
        self.at(self.target)
    }

    /// The path of the target, without query: for the absolute form
    /// (`http://host/p`, RFC 9112 §3.2.2) the part after the authority.
    pub fn path(&self) -> &str {
        let target = self.target();
        let origin_form = match target.split_once("://") {
            Some((scheme, rest)) if !scheme.contains('/') => {
                rest.find('/').map_or("/", |at| &rest[at..])
            }
            _ => target,
        };
        origin_form.split(['?', '#']).next().unwrap_or(origin_form)
    }

    /// The query of the target, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1: the response says the same version
    /// rules (persistence, chunked) apply.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Every field in the order received, values trimmed.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|&(name, value)| (self.at(name), self.at(value).trim()))
    }

    /// The first value of the field `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// Whether the comma-separated list field `name` holds `token`
    /// (case-insensitive), over every occurrence of the field.
    pub fn list_contains(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// How long the body is.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the client wants the connection kept after the response
    /// (RFC 9112 §9.3: HTTP/1.1 unless `close`; HTTP/1.0 only with
    /// `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the client waits for `100 Continue` before sending the body
    /// (RFC 9110 §10.1.1; ignored in HTTP/1.0 requests, as it says).
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    fn at(&self, (start, end): Span) -> &str {
        self.text.get(start..end).unwrap_or("")
    }

    /// The values of every field called `name`.
    fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.fields()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The elements of the list field `name` (RFC 9110 §5.6.1), empty ones
    /// dropped.
    fn list<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.values(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Checks Host and Expect, and finds the framing and persistence.
    fn check(&mut self, limits: &HttpLimits) -> Result<(), HttpError> {
        if self.minor_version == 1 && self.values("Host").count() != 1 {
            return Err(HttpError::BadHost);
        }
        self.framing = framing(self, limits)?;
        self.keep_alive = if self.minor_version == 0 {
            self.list_contains("Connection", "keep-alive")
        } else {
            !self.list_contains("Connection", "close")
        };
        let mut continue_expected = false;
        for expectation in self.list("Expect") {
            if !expectation.eq_ignore_ascii_case("100-continue") {
                return Err(HttpError::ExpectationFailed);
            }
            continue_expected = true;
        }
        self.expect_continue = continue_expected && self.minor_version == 1;
        Ok(())
    }
}

/// The message body length of a request (RFC 9112 §6.3).
fn framing(head: &RequestHead, limits: &HttpLimits) -> Result<BodyFraming, HttpError> {
    let has_length = head.values("Content-Length").next().is_some();
    if head.values("Transfer-Encoding").next().is_some() {
        if has_length {
            return Err(HttpError::ConflictingFraming);
        }
        let codings: Vec<&str> = head.list("Transfer-Encoding").collect();
        let chunked_last = codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case("chunked"));
        if head.minor_version == 0 || !chunked_last {
            return Err(HttpError::BadTransferEncoding);
        }
        if codings.len() > 1 {
            return Err(HttpError::UnsupportedTransferCoding);
        }
        return Ok(BodyFraming::Chunked);
    }
    if has_length {
        let mut length = None;
        for value in head.list("Content-Length") {
            let parsed = parse_decimal(value).ok_or(HttpError::BadContentLength)?;
            if length.is_some_and(|l| l != parsed) {
                return Err(HttpError::BadContentLength);
            }
            length = Some(parsed);
        }
        let length = length.ok_or(HttpError::BadContentLength)?;
        if length > limits.max_body_bytes as u64 {
            return Err(HttpError::BodyTooLarge(limits.max_body_bytes));
        }
        return Ok(if length == 0 {
            BodyFraming::Empty
        } else {
            BodyFraming::Length(length)
        });
    }
    if matches!(head.method(), "POST" | "PUT" | "PATCH") {
        return Err(HttpError::LengthRequired(head.method().to_owned()));
    }
    Ok(BodyFraming::Empty)
}

/// `1*DIGIT` (RFC 9110 §8.6), without sign or spaces, that fits a `u64`.
fn parse_decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Refuses a head that is still arriving but already too long: the target
/// (between the first two spaces of the request line) first, then the
/// whole head.
fn check_partial(buf: &[u8], limits: &HttpLimits) -> Result<(), HttpError> {
    let line = buf
        .split(|&b| b == b'\n')
        .find(|line| !line.is_empty() && *line != b"\r")
        .unwrap_or(&[]);
    if let Some(start) = memchr::memchr(b' ', line) {
        let rest = &line[start + 1..];
        let target_len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        if target_len > limits.max_target_bytes {
            return Err(HttpError::TargetTooLong(limits.max_target_bytes));
        }
    }
    if buf.len() > limits.max_head_bytes {
        return Err(HttpError::HeadTooLarge(limits.max_head_bytes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<(RequestHead, usize)>, HttpError> {
        parse_head(text.as_bytes(), &HttpLimits::default())
    }

    fn head(text: &str) -> RequestHead {
        match parse(text) {
            Ok(Some((head, used))) => {
                assert_eq!(used, text.len());
                head
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn status(text: &str) -> u16 {
        match parse(text) {
            Err(e) => e.status(),
            other => panic!("{text:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_get_with_its_target_parts() {
        let h = head("GET /static/a.html?v=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
        assert_eq!(h.method(), "GET");
        assert_eq!(h.path(), "/static/a.html");
        assert_eq!(h.query(), Some("v=1"));
        assert_eq!(h.field("accept"), Some("*/*"));
        assert_eq!(h.framing(), BodyFraming::Empty);
        assert!(h.keep_alive());
        assert!(!h.expect_continue());
        let absolute = head("GET http://example.com/a/b?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(absolute.path(), "/a/b");
        assert_eq!(head("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n").path(), "/");
    }

    #[test]
    fn waits_for_the_blank_line() {
        assert_eq!(parse("GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn persistence_follows_the_version() {
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive());
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
    }

    #[test]
    fn body_framing() {
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.framing(), BodyFraming::Length(5));
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(h.framing(), BodyFraming::Length(5));
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(h.framing(), BodyFraming::Chunked);
        let h = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.framing(), BodyFraming::Empty);
    }

    #[test]
    fn refusals_carry_their_status() {
        let cases = [
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
            ("PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
                413,
            ),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("G(T / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        ];
        for (text, expected) in cases {
            assert_eq!(status(text), expected, "{text:?}");
        }
    }

    #[test]
    fn limits_are_checked_before_the_head_ends() {
        let limits = HttpLimits::default();
        let long_target = format!("GET /{} HTTP/1.1", "a".repeat(limits.max_target_bytes));
        assert_eq!(status(&long_target), 414);
        let long_field = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(limits.max_head_bytes));
        assert_eq!(status(&long_field), 431);
        let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..limits.max_header_count {
            many.push_str(&format!("X-{i}: 1\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(status(&many), 431);
    }

    #[test]
    fn a_value_that_is_not_utf8_keeps_the_other_fields_in_place() {
        let wire = b"GET /a HTTP/1.1\r\nX-Name: caf\xe9 \r\nHost: h\r\n\r\n";
        let (h, used) = parse_head(wire, &HttpLimits::default()).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(h.field("x-name"), Some("caf?"));
        assert_eq!(h.field("Host"), Some("h"));
        assert_eq!(h.fields().count(), 2);
        assert_eq!(h.target(), "/a");
    }

    #[test]
    fn expect_continue_only_in_http_1_1() {
        let h =
            head("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n");
        assert!(h.expect_continue());
        let h = head("PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
        assert!(!h.expect_continue());
    }
}
