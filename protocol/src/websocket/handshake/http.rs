//! The HTTP/1.1 head shared by both sides: start line and header fields.

use super::error::HandshakeError;
use crate::websocket::config::WebSocketConfig;

/// One header field, name as sent and value without surrounding whitespace.
pub(super) type Field<'a> = (&'a str, &'a str);

/// A complete HTTP head, borrowed from the read buffer.
pub(super) struct Head<'a> {
    /// The request line or status line.
    pub(super) start_line: &'a str,
    /// The header fields in the order received.
    pub(super) fields: Vec<Field<'a>>,
}

/// Splits the head off the front of `buf`: `Ok(None)` until the blank line
/// that ends it has arrived, otherwise the head and its length including the
/// blank line. Fails once `max_header_bytes` are buffered without a blank
/// line, so a peer cannot make us buffer more.
pub(super) fn parse_head<'a>(
    buf: &'a [u8],
    config: &WebSocketConfig,
) -> Result<Option<(Head<'a>, usize)>, HandshakeError> {
    let window = buf.get(..config.max_header_bytes).unwrap_or(buf);
    let Some(end) = memchr::memmem::find(window, b"\r\n\r\n") else {
        if buf.len() >= config.max_header_bytes {
            return Err(HandshakeError::HeaderTooLarge {
                max_bytes: config.max_header_bytes,
            });
        }
        return Ok(None);
    };
    let text = window.get(..end).unwrap_or_default();
    let text = std::str::from_utf8(text).map_err(|_| HandshakeError::InvalidHeaderText)?;
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default();
    if !is_field_text(start_line) {
        return Err(HandshakeError::InvalidHeaderText);
    }
    let mut fields = Vec::new();
    for line in lines {
        if fields.len() == config.max_header_count {
            return Err(HandshakeError::TooManyHeaders {
                max_count: config.max_header_count,
            });
        }
        fields.push(parse_field(line)?);
    }
    Ok(Some((Head { start_line, fields }, end + 4)))
}

/// Values of every field called `name` (case-insensitive), in order.
pub(super) fn values<'a>(
    fields: &[Field<'a>],
    name: &'static str,
) -> impl Iterator<Item = &'a str> {
    fields
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

/// The value of a field that may appear at most once.
pub(super) fn single<'a>(
    fields: &[Field<'a>],
    name: &'static str,
) -> Result<Option<&'a str>, HandshakeError> {
    let mut found = values(fields, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    Ok(first)
}

/// The value of a field that must appear exactly once.
pub(super) fn required<'a>(
    fields: &[Field<'a>],
    name: &'static str,
) -> Result<&'a str, HandshakeError> {
    single(fields, name)?.ok_or(HandshakeError::MissingHeader(name))
}

/// The elements of a comma-separated list spread over every field called
/// `name`, trimmed, empty elements skipped (RFC 9110 §5.6.1).
pub(super) fn list<'a>(fields: &[Field<'a>], name: &'static str) -> impl Iterator<Item = &'a str> {
    values(fields, name)
        .flat_map(|value| value.split(','))
        .map(trim)
        .filter(|element| !element.is_empty())
}

/// Whether the list in the fields called `name` holds `token`
/// (case-insensitive).
pub(super) fn list_contains(fields: &[Field<'_>], name: &'static str, token: &str) -> bool {
    list(fields, name).any(|element| element.eq_ignore_ascii_case(token))
}

/// Whether `s` may be written into a header: visible ASCII, space and tab,
/// and UTF-8 beyond ASCII; no control characters, so no line breaks.
pub(super) fn is_field_text(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || !b.is_ascii_control())
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2), as field names,
/// subprotocol and extension names are.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `b` may appear in a token.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_field(line: &str) -> Result<Field<'_>, HandshakeError> {
    let (name, value) = line
        .split_once(':')
        .ok_or(HandshakeError::MalformedHeader)?;
    // A name followed by whitespace, or a folded line, is refused as
    // RFC 9110 §5.1 and RFC 9112 §5.2 ask.
    if !is_token(name) {
        return Err(HandshakeError::MalformedHeader);
    }
    if !is_field_text(value) {
        return Err(HandshakeError::InvalidHeaderText);
    }
    Ok((name, trim(value)))
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_header_bytes: usize, max_header_count: usize) -> WebSocketConfig {
        WebSocketConfig {
            max_header_bytes,
            max_header_count,
            ..WebSocketConfig::default()
        }
    }

    #[test]
    fn incomplete_then_complete() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB:2 \r\n\r\nrest";
        let config = WebSocketConfig::default();
        for cut in 0..head.len() - 4 {
            assert!(parse_head(&head[..cut], &config).unwrap().is_none());
        }
        let (parsed, len) = parse_head(head, &config).unwrap().unwrap();
        assert_eq!(len, head.len() - 4);
        assert_eq!(parsed.start_line, "GET / HTTP/1.1");
        assert_eq!(parsed.fields, vec![("A", "1"), ("B", "2")]);
    }

    #[test]
    fn limits() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(parse_head(head, &config(head.len(), 2)).unwrap().is_some());
        assert_eq!(
            parse_head(head, &config(head.len() - 1, 2)).err(),
            Some(HandshakeError::HeaderTooLarge {
                max_bytes: head.len() - 1
            })
        );
        assert_eq!(
            parse_head(head, &config(1000, 1)).err(),
            Some(HandshakeError::TooManyHeaders { max_count: 1 })
        );
    }

    #[test]
    fn malformed_fields() {
        let config = WebSocketConfig::default();
        for head in [
            &b"GET / HTTP/1.1\r\nA : 1\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(head, &config).err(),
                Some(HandshakeError::MalformedHeader)
            );
        }
        for head in [
            &b"GET / HTTP/1.1\r\nA: 1\n2\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nA: \xff\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(head, &config).err(),
                Some(HandshakeError::InvalidHeaderText)
            );
        }
    }

    #[test]
    fn lists_span_fields() {
        let fields = [("X", "a, b"), ("x", " ,c"), ("Y", "d")];
        assert_eq!(list(&fields, "X").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(list_contains(&fields, "x", "B"));
        assert_eq!(
            single(&fields, "X"),
            Err(HandshakeError::DuplicateHeader("X"))
        );
        assert_eq!(
            required(&fields, "Z"),
            Err(HandshakeError::MissingHeader("Z"))
        );
    }
}
