//! The batched WebSocket transport (`wamp.2.<serializer>.batched`): one
//! WebSocket message carries one or more WAMP messages. With JSON each
//! message is followed by a separator byte; with the binary serializers
//! each is prefixed by its length, 4 bytes big-endian.
//!
//! The spec names the separator "`\30` (record separator) byte `0x1e`", two
//! different bytes. Autobahn|Python and Crossbar.io write `b"\30"`, which
//! is octal: 0x18, and split on 0x18 only. ringbar writes 0x18, so they
//! read its batches, and accepts either byte; neither can occur inside
//! JSON text, where control characters must be escaped.

use bytes::{BufMut, Bytes, BytesMut};

use super::{EncodeError, Serializer, encode};
use crate::message::Message;

/// A WAMP WebSocket subprotocol: a serializer, one WAMP message per
/// WebSocket message or batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subprotocol {
    /// The serializer.
    pub serializer: Serializer,
    /// Whether a WebSocket message carries a batch of WAMP messages.
    pub batched: bool,
}

impl Subprotocol {
    /// The subprotocol name, as negotiated in `Sec-WebSocket-Protocol`.
    pub fn name(self) -> &'static str {
        match (self.serializer, self.batched) {
            (serializer, false) => serializer.subprotocol(),
            (Serializer::Json, true) => "wamp.2.json.batched",
            (Serializer::MsgPack, true) => "wamp.2.msgpack.batched",
            (Serializer::Cbor, true) => "wamp.2.cbor.batched",
            (Serializer::Ubjson, true) => "wamp.2.ubjson.batched",
        }
    }

    /// The subprotocol of a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::offered(&Serializer::ALL).find(|p| p.name() == name)
    }

    /// What a transport with `serializers` offers: each batched and plain,
    /// batched first, as Crossbar.io does.
    pub fn offered(serializers: &[Serializer]) -> impl Iterator<Item = Self> + '_ {
        serializers.iter().flat_map(|&serializer| {
            [true, false].map(|batched| Self {
                serializer,
                batched,
            })
        })
    }
}

/// The byte written after each JSON message of a batch (see the module
/// documentation).
pub const JSON_SEPARATOR: u8 = 0x18;

/// The record separator the spec's text names; read like [`JSON_SEPARATOR`].
const RECORD_SEPARATOR: u8 = 0x1e;

/// The length prefix of each binary message in a batch.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Why a batched WebSocket message cannot be split: a protocol violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The WebSocket message is empty.
    #[error("empty batch: a batched WebSocket message carries at least one WAMP message")]
    Empty,
    /// A JSON batch's last message has no separator after it.
    #[error("JSON batch does not end with a separator (0x18) after its last message")]
    Unterminated,
    /// A binary batch ends inside a length prefix or a message.
    #[error(
        "batched message at byte {offset} is cut off: {needed} bytes announced or needed, {left} left"
    )]
    Truncated {
        /// Where the message's length prefix starts.
        offset: usize,
        /// The bytes the prefix (or the prefix and message) needs.
        needed: u64,
        /// The bytes left in the WebSocket message.
        left: usize,
    },
}

/// The WAMP messages of one batched WebSocket message, in order; each
/// shares the WebSocket message's buffer. It ends after the first error.
#[derive(Debug)]
pub struct Batch {
    serializer: Serializer,
    payload: Bytes,
    pos: usize,
}

/// Splits a batched WebSocket message of `serializer`.
pub fn split_batch(serializer: Serializer, payload: Bytes) -> Batch {
    Batch {
        serializer,
        payload,
        pos: 0,
    }
}

impl Batch {
    fn next_json(&mut self) -> Result<Bytes, BatchError> {
        let rest = self.payload.get(self.pos..).unwrap_or_default();
        let len = memchr::memchr2(JSON_SEPARATOR, RECORD_SEPARATOR, rest)
            .ok_or(BatchError::Unterminated)?;
        let message = self.payload.slice(self.pos..self.pos + len);
        self.pos += len + 1;
        Ok(message)
    }

    fn next_binary(&mut self) -> Result<Bytes, BatchError> {
        let offset = self.pos;
        let rest = self.payload.get(offset..).unwrap_or_default();
        let truncated = |needed: u64| BatchError::Truncated {
            offset,
            needed,
            left: rest.len(),
        };
        let (prefix, body) = rest
            .split_first_chunk::<LENGTH_PREFIX_BYTES>()
            .ok_or(truncated(LENGTH_PREFIX_BYTES as u64))?;
        let len = u32::from_be_bytes(*prefix);
        let needed = u64::from(len) + LENGTH_PREFIX_BYTES as u64;
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= body.len())
            .ok_or(truncated(needed))?;
        let start = offset + LENGTH_PREFIX_BYTES;
        self.pos = start + len;
        Ok(self.payload.slice(start..start + len))
    }
}

impl Iterator for Batch {
    type Item = Result<Bytes, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.payload.len() {
            return match self.pos {
                0 => {
                    // Reported once: the next call finds pos past the end.
                    self.pos = 1;
                    Some(Err(BatchError::Empty))
                }
                _ => None,
            };
        }
        let item = if self.serializer.is_text() {
            self.next_json()
        } else {
            self.next_binary()
        };
        if item.is_err() {
            self.pos = usize::MAX;
        }
        Some(item)
    }
}

/// Appends `message` as one message of a batch: encoded, then the JSON
/// separator, or behind its length prefix. `out` is left as it was on
/// failure.
pub fn encode_batched(
    serializer: Serializer,
    message: &Message,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if serializer.is_text() {
        encode(serializer, message, out)?;
        out.put_u8(JSON_SEPARATOR);
        return Ok(());
    }
    let start = out.len();
    out.put_bytes(0, LENGTH_PREFIX_BYTES);
    if let Err(e) = encode(serializer, message, out) {
        out.truncate(start);
        return Err(e);
    }
    // Transports refuse messages anywhere near 4 GiB long before this.
    let len = u32::try_from(out.len() - start - LENGTH_PREFIX_BYTES).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(start..start + LENGTH_PREFIX_BYTES) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode;
    use crate::id::RequestId;
    use crate::message::{Message, Published};

    fn published(request: u64) -> Message {
        Message::Published(Published {
            request: RequestId::new(request).unwrap(),
            publication: crate::id::PublicationId::new(7).unwrap(),
        })
    }

    fn split(serializer: Serializer, bytes: &[u8]) -> Vec<Result<Bytes, BatchError>> {
        split_batch(serializer, Bytes::copy_from_slice(bytes)).collect()
    }

    #[test]
    fn names_are_the_specs_and_crossbars() {
        let names: Vec<_> = Subprotocol::offered(&[Serializer::Cbor, Serializer::Json])
            .map(Subprotocol::name)
            .collect();
        assert_eq!(
            names,
            [
                "wamp.2.cbor.batched",
                "wamp.2.cbor",
                "wamp.2.json.batched",
                "wamp.2.json"
            ]
        );
        for p in Subprotocol::offered(&Serializer::ALL) {
            assert_eq!(Subprotocol::from_name(p.name()), Some(p));
        }
        assert_eq!(
            Subprotocol::from_name("wamp.2.ubjson.batched"),
            Some(Subprotocol {
                serializer: Serializer::Ubjson,
                batched: true
            })
        );
        assert_eq!(Subprotocol::from_name("wamp.2.flatbuffers.batched"), None);
    }

    #[test]
    fn every_serializer_batches_and_splits() {
        for serializer in Serializer::ALL {
            let mut out = BytesMut::new();
            for request in 1..=3 {
                encode_batched(serializer, &published(request), &mut out).unwrap();
            }
            let messages: Vec<_> = split_batch(serializer, out.freeze())
                .map(|m| decode(serializer, m.unwrap()).unwrap())
                .collect();
            assert_eq!(messages, [published(1), published(2), published(3)]);
        }
    }

    #[test]
    fn framing_matches_autobahn() {
        let mut out = BytesMut::new();
        encode_batched(Serializer::Json, &published(1), &mut out).unwrap();
        assert_eq!(&out[..], b"[17,1,7]\x18");
        let mut out = BytesMut::new();
        encode_batched(Serializer::MsgPack, &published(1), &mut out).unwrap();
        assert_eq!(&out[..], [0, 0, 0, 4, 0x93, 17, 1, 7]);
    }

    #[test]
    fn json_reads_either_separator() {
        let items = split(Serializer::Json, b"[17,1,7]\x1e[17,2,7]\x18");
        assert_eq!(
            items,
            [
                Ok(Bytes::from_static(b"[17,1,7]")),
                Ok(Bytes::from_static(b"[17,2,7]"))
            ]
        );
    }

    #[test]
    fn malformed_batches_are_errors_and_end_the_batch() {
        assert_eq!(split(Serializer::Json, b""), [Err(BatchError::Empty)]);
        assert_eq!(split(Serializer::Cbor, b""), [Err(BatchError::Empty)]);
        assert_eq!(
            split(Serializer::Json, b"[17,1,7]\x18[17,2,7]"),
            [
                Ok(Bytes::from_static(b"[17,1,7]")),
                Err(BatchError::Unterminated)
            ]
        );
        assert_eq!(
            split(Serializer::MsgPack, &[0, 0, 0, 1, 0x90, 0, 0]),
            [
                Ok(Bytes::from_static(&[0x90])),
                Err(BatchError::Truncated {
                    offset: 5,
                    needed: 4,
                    left: 2
                })
            ]
        );
        assert_eq!(
            split(Serializer::Ubjson, &[0xff, 0xff, 0xff, 0xff, b'Z']),
            [Err(BatchError::Truncated {
                offset: 0,
                needed: 0x1_0000_0003,
                left: 5
            })]
        );
        let err = BatchError::Unterminated.to_string();
        assert!(err.contains("separator"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_split_without_panic(
            bytes in proptest::collection::vec(0..=u8::MAX, 0..64),
            text: bool,
        ) {
            let serializer = if text { Serializer::Json } else { Serializer::Cbor };
            let payload = Bytes::from(bytes);
            let mut total = 0;
            for item in split_batch(serializer, payload.clone()) {
                match item {
                    Ok(message) => total += message.len(),
                    Err(_) => break,
                }
            }
            proptest::prop_assert!(total <= payload.len());
        }
    }
}
