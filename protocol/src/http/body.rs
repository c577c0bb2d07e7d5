//! The request body: a length, or chunked transfer coding (RFC 9112 §7.1)
//! with its trailer section.

use bytes::{Buf, BytesMut};

use super::error::HttpError;
use super::limits::HttpLimits;

/// How the body of a request is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunks until a zero-size chunk and the trailer section.
    Chunked,
}

/// The longest chunk size line with its extensions; chunk extensions are
/// ignored, so a longer one is only a way to make the server buffer.
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;

/// The most trailer fields; they are read and dropped.
const MAX_TRAILER_FIELDS: usize = 32;

/// Takes a body's bytes off the front of the input, as they arrive,
/// decoding chunks and refusing a body over the limit before it is stored.
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    state: State,
    max_body_bytes: usize,
    max_trailer_bytes: usize,
    received: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many bytes of a `Content-Length` body remain.
    Length(u64),
    /// A chunk size line is next.
    ChunkSize,
    /// This many bytes of the current chunk remain.
    ChunkData(u64),
    /// The CRLF after a chunk's data is next.
    ChunkEnd,
    /// The trailer section (ending with an empty line) is next.
    Trailers,
    /// The body is complete.
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`, within `limits`.
    pub fn new(framing: BodyFraming, limits: &HttpLimits) -> Self {
        let state = match framing {
            BodyFraming::Empty | BodyFraming::Length(0) => State::Done,
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::ChunkSize,
        };
        Self {
            state,
            max_body_bytes: limits.max_body_bytes,
            max_trailer_bytes: limits.max_head_bytes,
            received: 0,
        }
    }

    /// Moves the body's bytes from the front of `input` to the end of
    /// `body`; `Ok(true)` once the body is complete (what follows in
    /// `input` is the next request), `Ok(false)` when it needs more input.
    pub fn decode(&mut self, input: &mut BytesMut, body: &mut BytesMut) -> Result<bool, HttpError> {
        loop {
            match self.state {
                State::Done => return Ok(true),
                State::Length(remaining) | State::ChunkData(remaining) => {
                    if input.is_empty() {
                        return Ok(false);
                    }
                    let take =
                        usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    body.extend_from_slice(&input[..take]);
                    input.advance(take);
                    let left = remaining - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), n) => State::Length(n),
                        (_, 0) => State::ChunkEnd,
                        (_, n) => State::ChunkData(n),
                    };
                }
                State::ChunkSize => match httparse::parse_chunk_size(input) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        input.advance(used);
                        self.received = self.received.saturating_add(size);
                        if self.received > self.max_body_bytes as u64 {
                            return Err(HttpError::BodyTooLarge(self.max_body_bytes));
                        }
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if input.len() > MAX_CHUNK_LINE_BYTES => {
                        return Err(HttpError::BadChunk("chunk size line too long"));
                    }
                    Ok(httparse::Status::Partial) => return Ok(false),
                    Err(_) => return Err(HttpError::BadChunk("invalid chunk size")),
                },
                State::ChunkEnd => {
                    if input.len() < 2 {
                        return Ok(false);
                    }
                    if &input[..2] != b"\r\n" {
                        return Err(HttpError::BadChunk("chunk data longer than its size"));
                    }
                    input.advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
                    match httparse::parse_headers(input, &mut fields) {
                        Ok(httparse::Status::Complete((used, _))) => {
                            input.advance(used);
                            self.state = State::Done;
                        }
                        Ok(httparse::Status::Partial) if input.len() > self.max_trailer_bytes => {
                            return Err(HttpError::HeadTooLarge(self.max_trailer_bytes));
                        }
                        Ok(httparse::Status::Partial) => return Ok(false),
                        Err(httparse::Error::TooManyHeaders) => {
                            return Err(HttpError::TooManyFields(MAX_TRAILER_FIELDS));
                        }
                        Err(_) => return Err(HttpError::BadChunk("invalid trailer field")),
                    }
                }
            }
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: BodyFraming, wire: &[u8]) -> Result<(Vec<u8>, Vec<u8>), HttpError> {
        let mut decoder = BodyDecoder::new(framing, &HttpLimits::default());
        let mut input = BytesMut::from(wire);
        let mut body = BytesMut::new();
        assert!(decoder.decode(&mut input, &mut body)?, "incomplete");
        Ok((body.to_vec(), input.to_vec()))
    }

    #[test]
    fn content_length_stops_at_its_end() {
        let (body, rest) = decode_all(BodyFraming::Length(5), b"helloGET").unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(rest, b"GET");
    }

    #[test]
    fn chunks_with_extensions_and_trailers() {
        let wire = b"5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nChecksum: x\r\n\r\nNEXT";
        let (body, rest) = decode_all(BodyFraming::Chunked, wire).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(rest, b"NEXT");
        let (body, _) = decode_all(BodyFraming::Chunked, b"0\r\n\r\n").unwrap();
        assert!(body.is_empty());
    }

    #[test]
    fn bad_chunks_are_refused() {
        for wire in [&b"zz\r\n"[..], b"5\r\nhelloXX", b"0\r\nbad trailer\r\n\r\n"] {
            let e = decode_all(BodyFraming::Chunked, wire).unwrap_err();
            assert_eq!(e.status(), 400, "{wire:?}");
        }
        let long = vec![b'1'; MAX_CHUNK_LINE_BYTES + 1];
        assert_eq!(
            decode_all(BodyFraming::Chunked, &long)
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn the_limit_holds_before_the_data_arrives() {
        let limits = HttpLimits {
            max_body_bytes: 10,
            ..HttpLimits::default()
        };
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &limits);
        let mut input = BytesMut::from(&b"8\r\n12345678\r\n8\r\n"[..]);
        let mut body = BytesMut::new();
        assert_eq!(
            decoder.decode(&mut input, &mut body),
            Err(HttpError::BodyTooLarge(10))
        );
        assert_eq!(body.len(), 8);
    }

    #[test]
    fn waits_for_more() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &HttpLimits::default());
        let mut body = BytesMut::new();
        let mut input = BytesMut::from(&b"5\r\nhel"[..]);
        assert_eq!(decoder.decode(&mut input, &mut body), Ok(false));
        input.extend_from_slice(b"lo\r\n0\r\n\r\n");
        assert_eq!(decoder.decode(&mut input, &mut body), Ok(true));
        assert!(decoder.is_done());
        assert_eq!(&body[..], b"hello");
    }
}
