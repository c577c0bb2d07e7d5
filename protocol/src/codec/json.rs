//! `wamp.2.json`: RFC 8259 JSON, with binary as `"\u0000" + base64`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};

use super::format::{Format, MAX_ELEMENTS, Span};
use super::{DecodeError, EncodeError, Serializer};
use crate::str::Str;
use crate::value::{Dict, MAX_DEPTH, Value};

/// The JSON serializer.
pub(crate) struct Json;

impl Format for Json {
    const SERIALIZER: Serializer = Serializer::Json;
    const NUL_STRING_IS_BINARY: bool = true;

    fn split_message(input: &[u8], spans: &mut [Span; MAX_ELEMENTS]) -> Result<usize, DecodeError> {
        validate_utf8(input)?;
        let mut p = Parser { buf: input, pos: 0 };
        p.ws();
        if p.peek() != Some(b'[') {
            return Err(DecodeError::NotAList);
        }
        p.pos += 1;
        p.ws();
        let mut count = 0;
        if p.peek() == Some(b']') {
            p.pos += 1;
        } else {
            loop {
                let start = p.pos;
                p.skip_value(1)?;
                if let Some(span) = spans.get_mut(count) {
                    *span = (start, p.pos);
                }
                count += 1;
                p.ws();
                match p.next_byte() {
                    Some(b',') => p.ws(),
                    Some(b']') => break,
                    _ => return Err(p.err("expected ',' or ']' in the message list")),
                }
            }
        }
        p.end()?;
        Ok(count)
    }

    fn read_uint(element: &[u8]) -> Option<u64> {
        if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
            return None;
        }
        parse_u64(element)
    }

    fn read_str(input: &Bytes, (start, end): Span) -> Result<Option<Str>, DecodeError> {
        let element = &input[start..end];
        if element.first() != Some(&b'"') || end - start < 2 {
            return Ok(None);
        }
        let inner = &element[1..element.len() - 1];
        if memchr::memchr(b'\\', inner).is_none() {
            // The whole message was validated as UTF-8 and quotes are ASCII.
            return Ok(Some(Str::from_utf8_checked(
                input.slice(start + 1..end - 1),
            )));
        }
        let mut p = Parser {
            buf: element,
            pos: 0,
        };
        Ok(Some(Str::from(p.string()?)))
    }

    fn read_binary(input: &Bytes, span: Span) -> Result<Option<Bytes>, DecodeError> {
        match Self::read_str(input, span)? {
            Some(s) if s.starts_with('\0') => decode_base64(&s[1..]).map(|b| Some(Bytes::from(b))),
            _ => Ok(None),
        }
    }

    fn is_list(element: &[u8]) -> bool {
        element.first() == Some(&b'[')
    }

    fn is_dict(element: &[u8]) -> bool {
        element.first() == Some(&b'{')
    }

    fn is_empty_dict(element: &[u8]) -> bool {
        match element {
            [b'{', inner @ .., b'}'] => inner.iter().all(|b| is_ws(*b)),
            _ => false,
        }
    }

    fn read_value(input: &[u8]) -> Result<Value, DecodeError> {
        validate_utf8(input)?;
        let mut p = Parser { buf: input, pos: 0 };
        p.ws();
        let v = p.value(1)?;
        p.end()?;
        Ok(v)
    }

    fn list_start(_len: usize, out: &mut BytesMut) {
        out.put_u8(b'[');
    }
    fn list_sep(out: &mut BytesMut) {
        out.put_u8(b',');
    }
    fn list_end(out: &mut BytesMut) {
        out.put_u8(b']');
    }
    fn dict_start(_len: usize, out: &mut BytesMut) {
        out.put_u8(b'{');
    }
    fn dict_sep(out: &mut BytesMut) {
        out.put_u8(b',');
    }
    fn dict_colon(out: &mut BytesMut) {
        out.put_u8(b':');
    }
    fn dict_end(out: &mut BytesMut) {
        out.put_u8(b'}');
    }
    fn write_null(out: &mut BytesMut) {
        out.put_slice(b"null");
    }
    fn write_bool(v: bool, out: &mut BytesMut) {
        out.put_slice(if v { b"true" } else { b"false" });
    }
    fn write_uint(v: u64, out: &mut BytesMut) {
        out.put_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    fn write_negative(v: i64, out: &mut BytesMut) {
        out.put_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    fn write_float(v: f64, out: &mut BytesMut) -> Result<(), EncodeError> {
        if !v.is_finite() {
            return Err(EncodeError::NonFiniteFloat);
        }
        out.put_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        Ok(())
    }
    fn write_str(v: &str, out: &mut BytesMut) {
        out.reserve(v.len() + 2);
        out.put_u8(b'"');
        write_escaped(v.as_bytes(), out);
        out.put_u8(b'"');
    }
    fn write_binary(v: &[u8], out: &mut BytesMut) {
        out.put_slice(b"\"\\u0000");
        let start = out.len();
        let encoded_len = v.len().div_ceil(3) * 4;
        out.resize(start + encoded_len, 0);
        // The buffer was sized for exactly this output, so this cannot fail.
        let written = BASE64
            .encode_slice(v, &mut out[start..])
            .unwrap_or_default();
        out.truncate(start + written);
        out.put_u8(b'"');
    }
}

fn validate_utf8(input: &[u8]) -> Result<(), DecodeError> {
    simdutf8::basic::from_utf8(input)
        .map(|_| ())
        .map_err(|_| DecodeError::Value("JSON text is not valid UTF-8"))
}

fn decode_base64(s: &str) -> Result<Vec<u8>, DecodeError> {
    BASE64.decode(s).map_err(|_| {
        DecodeError::Value("JSON binary (a string starting with \\u0000) is not base64")
    })
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Digits only, no sign: `None` on overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whether `bytes` holds a control character (not allowed unescaped in a
/// JSON string). Checks 32-byte blocks without an early exit inside a block,
/// so the compiler vectorises it; a short-circuiting `any` runs a byte a
/// cycle.
fn has_control_char(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(32);
    let found = blocks
        .by_ref()
        .any(|block| block.iter().fold(false, |acc, b| acc | (*b < 0x20)));
    found || blocks.remainder().iter().any(|b| *b < 0x20)
}

/// Whether a byte must be escaped inside a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn write_escaped(bytes: &[u8], out: &mut BytesMut) {
    // Most strings need no escape: check in vectorisable blocks first.
    let clean = bytes
        .chunks(32)
        .all(|block| !block.iter().fold(false, |acc, b| acc | needs_escape(*b)));
    if clean {
        out.put_slice(bytes);
        return;
    }
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.put_slice(&bytes[from..i]);
        match b {
            b'"' => out.put_slice(b"\\\""),
            b'\\' => out.put_slice(b"\\\\"),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            0x08 => out.put_slice(b"\\b"),
            0x0c => out.put_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put_slice(b"\\u00");
                out.put_u8(HEX[usize::from(b >> 4)]);
                out.put_u8(HEX[usize::from(b & 0xf)]);
            }
        }
        from = i + 1;
    }
    out.put_slice(&bytes[from..]);
}

/// A cursor over JSON text that is already known to be valid UTF-8.
struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::Syntax {
            serializer: "JSON",
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn end(&mut self) -> Result<(), DecodeError> {
        self.ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err("unexpected bytes after the value"))
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), DecodeError> {
        if self.buf[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// Checks one value's syntax and moves past it.
    fn skip_value(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => self.ws(),
                        Some(b']') => return Ok(()),
                        _ => return Err(self.err("expected ',' or ']' in a list")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key in a dictionary"));
                    }
                    self.skip_string()?;
                    self.ws();
                    if self.next_byte() != Some(b':') {
                        return Err(self.err("expected ':' after a dictionary key"));
                    }
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => self.ws(),
                        Some(b'}') => return Ok(()),
                        _ => return Err(self.err("expected ',' or '}' in a dictionary")),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number_end().map(|_| ()),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    /// Moves past a string starting at the opening quote, checking escapes
    /// and control characters.
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        self.pos += 1;
        loop {
            let rest = &self.buf[self.pos..];
            let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(self.err("unterminated string"));
            };
            if has_control_char(&rest[..at]) {
                return Err(self.err("control character in a string"));
            }
            self.pos += at + 1;
            if rest[at] == b'"' {
                return Ok(());
            }
            match self.next_byte() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                Some(b'u') => {
                    self.hex4()?;
                }
                _ => return Err(self.err("invalid escape in a string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, DecodeError> {
        let digits = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut v = 0u16;
        for d in digits {
            let nibble = (*d as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = (v << 4) | nibble as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// Moves past a number; returns whether it is an integer (no fraction,
    /// no exponent).
    fn number_end(&mut self) -> Result<bool, DecodeError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next_byte() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integer = false;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("invalid number: digits must follow '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("invalid number: digits must follow the exponent"));
            }
            self.digits();
        }
        Ok(integer)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                match s.strip_prefix('\0') {
                    Some(b64) => decode_base64(b64).map(Value::Bytes),
                    None => Ok(Value::Str(s)),
                }
            }
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => self.ws(),
                        Some(b']') => return Ok(Value::List(items)),
                        _ => return Err(self.err("expected ',' or ']' in a list")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                let mut dict = Dict::new();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Dict(dict));
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key in a dictionary"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.next_byte() != Some(b':') {
                        return Err(self.err("expected ':' after a dictionary key"));
                    }
                    self.ws();
                    let value = self.value(depth + 1)?;
                    dict.push(key, value);
                    self.ws();
                    match self.next_byte() {
                        Some(b',') => self.ws(),
                        Some(b'}') => return Ok(Value::Dict(dict)),
                        _ => return Err(self.err("expected ',' or '}' in a dictionary")),
                    }
                }
            }
            Some(b't') => self.literal(b"true").map(|_| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|_| Value::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|_| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        let integer = self.number_end()?;
        let text = &self.buf[start..self.pos];
        if integer {
            let parsed = match text.strip_prefix(b"-") {
                Some(digits) => parse_u64(digits).and_then(|magnitude| {
                    if magnitude == 0 {
                        Some(Value::UInt(0))
                    } else {
                        0i64.checked_sub_unsigned(magnitude).map(Value::Int)
                    }
                }),
                None => parse_u64(text).map(Value::UInt),
            };
            if let Some(v) = parsed {
                return Ok(v);
            }
        }
        // Integers beyond 64 bits fall back to a double, as other JSON
        // implementations do. The text is ASCII, checked by number_end.
        // A number beyond a double's range is refused rather than read as
        // infinity, which no serializer of JSON could write back.
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .map(Value::Float)
            .ok_or_else(|| self.err("number out of the range of a double"))
    }

    /// Reads a string starting at the opening quote, resolving escapes.
    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.pos + 1;
        self.skip_string()?;
        let raw = &self.buf[start..self.pos - 1];
        let mut out = String::with_capacity(raw.len());
        let mut p = Parser { buf: raw, pos: 0 };
        while p.pos < raw.len() {
            let rest = &raw[p.pos..];
            let at = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
            // Valid UTF-8: the whole input was checked and `\` is ASCII.
            out.push_str(std::str::from_utf8(&rest[..at]).map_err(|_| p.err("invalid UTF-8"))?);
            p.pos += at;
            if p.pos >= raw.len() {
                break;
            }
            p.pos += 1;
            let c = match p.next_byte() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => p.unicode_escape()?,
                _ => return Err(p.err("invalid escape in a string")),
            };
            out.push(c);
        }
        Ok(out)
    }

    /// The code point of a `\uXXXX` escape (the `\u` already read),
    /// joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, DecodeError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.buf[self.pos..].starts_with(b"\\u") {
                    return Err(self.err("unpaired surrogate in a \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.err("unpaired surrogate in a \\u escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("unpaired surrogate in a \\u escape")),
            _ => u32::from(first),
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Result<Value, DecodeError> {
        Json::read_value(text.as_bytes())
    }

    #[test]
    fn numbers_keep_their_kind_and_range() {
        assert_eq!(value("18446744073709551615"), Ok(Value::UInt(u64::MAX)));
        assert_eq!(value("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert_eq!(value("-0"), Ok(Value::UInt(0)));
        assert_eq!(value("1.5e3"), Ok(Value::Float(1500.0)));
        assert_eq!(
            value("18446744073709551616"),
            Ok(Value::Float(18446744073709551616.0))
        );
        for bad in ["01", "1.", "-", "1e", ".5", "+1", "1e400", "-1e400"] {
            assert!(value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_resolve_escapes_and_surrogates() {
        assert_eq!(
            value(r#""a\"\\\/\n\u00e9\ud83d\ude00""#),
            Ok(Value::from("a\"\\/\né😀"))
        );
        for bad in [
            r#""\ud83d""#,
            r#""\x""#,
            "\"a\u{1}\"",
            r#""abc"#,
            r#""\u12""#,
        ] {
            assert!(value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binary_is_nul_prefixed_base64() {
        assert_eq!(value(r#""\u0000AQID""#), Ok(Value::Bytes(vec![1, 2, 3])));
        let mut out = BytesMut::new();
        Json::write_binary(&[1, 2, 3], &mut out);
        assert_eq!(&out[..], br#""\u0000AQID""#);
        assert!(value(r#""\u0000!!""#).is_err());
    }

    #[test]
    fn strings_escape_what_json_requires() {
        let mut out = BytesMut::new();
        Json::write_str("q\"b\\c\u{1}\té", &mut out);
        assert_eq!(&out[..], "\"q\\\"b\\\\c\\u0001\\té\"".as_bytes());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(value(&deep), Err(DecodeError::TooDeep));
        let mut spans = [(0, 0); MAX_ELEMENTS];
        let msg = format!("[16,1,{{}},\"t\",{deep}]");
        assert_eq!(
            Json::split_message(msg.as_bytes(), &mut spans),
            Err(DecodeError::TooDeep)
        );
    }
}
