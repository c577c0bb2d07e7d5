//! [`Cursor`]: bounds-checked reading of the binary serializers (MessagePack,
//! CBOR), where every length comes from the peer.
//!
//! Every announced length is compared with the bytes that are left before
//! anything is read or allocated, so a few bytes claiming gigabytes fail at
//! once; nothing here indexes a slice unchecked.

use bytes::Bytes;

use super::DecodeError;
use super::format::{MAX_ELEMENTS, Span};
use crate::str::Str;

/// A read position in one binary-encoded input.
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    serializer: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`; `serializer` names the format in
    /// errors.
    pub(super) fn new(buf: &'a [u8], serializer: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            serializer,
        }
    }

    /// The offset of the next byte.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// A syntax error at the current offset.
    pub(super) fn err(&self, reason: &'static str) -> DecodeError {
        self.err_at(self.pos, reason)
    }

    /// A syntax error at `offset`.
    pub(super) fn err_at(&self, offset: usize, reason: &'static str) -> DecodeError {
        DecodeError::Syntax {
            serializer: self.serializer,
            offset,
            reason,
        }
    }

    /// The next byte, without moving past it.
    pub(super) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Whether every byte has been read.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails unless every byte has been read.
    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err("unexpected bytes after the value"))
        }
    }

    /// Moves past the next byte if it is `b`.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Reads one byte.
    pub(super) fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = self
            .peek()
            .ok_or_else(|| self.err("unexpected end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads the next `len` bytes, failing (before anything else happens)
    /// if fewer are left.
    pub(super) fn take(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let bytes = usize::try_from(len)
            .ok()
            .and_then(|len| self.buf.get(self.pos..self.pos.checked_add(len)?))
            .ok_or_else(|| self.err("length exceeds the remaining input"))?;
        self.pos += bytes.len();
        Ok(bytes)
    }

    /// Reads an `N`-byte array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
            .copied()
            .ok_or_else(|| self.err("unexpected end of input"))?;
        self.pos += N;
        Ok(bytes)
    }

    /// Reads a big-endian unsigned integer of `width` bytes (1, 2, 4 or 8).
    pub(super) fn uint_be(&mut self, width: u8) -> Result<u64, DecodeError> {
        Ok(match width {
            1 => u64::from(self.byte()?),
            2 => u64::from(u16::from_be_bytes(self.array()?)),
            4 => u64::from(u32::from_be_bytes(self.array()?)),
            _ => u64::from_be_bytes(self.array()?),
        })
    }

    /// Checks that `count` items of at least `min_bytes` each can still
    /// follow, and returns `count` (which is then bounded by the input's
    /// length, so it may size an allocation).
    pub(super) fn items(&self, count: u64, min_bytes: u64) -> Result<usize, DecodeError> {
        let remaining = self.buf.len().saturating_sub(self.pos);
        count
            .checked_mul(min_bytes)
            .and_then(|needed| usize::try_from(needed).ok())
            .filter(|needed| *needed <= remaining)
            .and_then(|_| usize::try_from(count).ok())
            .ok_or_else(|| self.err("length exceeds the remaining input"))
    }

    /// Moves past one element of a message list with `skip`, recording its
    /// span as element number `index` when that is among the first
    /// [`MAX_ELEMENTS`].
    pub(super) fn element(
        &mut self,
        index: usize,
        spans: &mut [Span; MAX_ELEMENTS],
        skip: impl FnOnce(&mut Self) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let start = self.pos;
        skip(self)?;
        if let Some(span) = spans.get_mut(index) {
            *span = (start, self.pos);
        }
        Ok(())
    }
}

/// The body of the element `(start, end)` of `input` as a slice sharing
/// its buffer, when `body_len` (reading the element's header) says it is of
/// the wanted kind and how long its body is; `Ok(None)` otherwise.
pub(super) fn shared_body(
    input: &Bytes,
    (start, end): Span,
    serializer: &'static str,
    body_len: impl FnOnce(&mut Cursor<'_>) -> Option<u64>,
) -> Result<Option<Bytes>, DecodeError> {
    let Some(element) = input.get(start..end) else {
        return Ok(None);
    };
    let mut cur = Cursor::new(element, serializer);
    let Some(len) = body_len(&mut cur) else {
        return Ok(None);
    };
    let from = start + cur.pos;
    let bytes = cur.take(len)?;
    Ok(Some(input.slice(from..from + bytes.len())))
}

/// The bytes as a string sharing their buffer, or the error every binary
/// serializer reports for a string that is not UTF-8.
pub(super) fn shared_utf8(bytes: Bytes) -> Result<Str, DecodeError> {
    Str::from_utf8(bytes).map_err(|_| DecodeError::Value("string is not valid UTF-8"))
}

/// The bytes as a string, or the error every binary serializer reports for
/// a string that is not UTF-8.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    simdutf8::basic::from_utf8(bytes).map_err(|_| DecodeError::Value("string is not valid UTF-8"))
}

/// Property-test helpers shared by the binary serializers' tests.
#[cfg(test)]
pub(super) mod testing {
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    use crate::codec::format::{Format, MAX_ELEMENTS};
    use crate::value::{Dict, Value};

    /// Runs every decoding entry point of `F` over `input`, which must not
    /// panic whatever it holds.
    pub(crate) fn exercise<F: Format>(input: &[u8]) {
        let input = Bytes::copy_from_slice(input);
        let _ = F::read_value(&input);
        for at in 0..input.len() {
            let rest = input.get(at..).unwrap_or_default();
            let _ = (F::read_uint(rest), F::is_list(rest), F::is_dict(rest));
            let _ = (
                F::is_empty_dict(rest),
                F::read_str(&input, (at, input.len())),
            );
            let _ = F::read_binary(&input, (at, input.len()));
        }
        let mut spans = [(0, 0); MAX_ELEMENTS];
        if let Ok(len) = F::split_message(&input, &mut spans) {
            for &span in spans.iter().take(len) {
                let element = input.get(span.0..span.1);
                assert!(element.is_some(), "span {span:?} outside the input");
                let _ = F::read_value(element.unwrap_or_default());
            }
        }
        let _ = crate::codec::decode(F::SERIALIZER, input);
    }

    /// Any value of the WAMP model (floats other than NaN, which is not
    /// equal to itself).
    pub(crate) fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::UInt),
            (i64::MIN..0).prop_map(Value::Int),
            any::<f64>()
                .prop_filter("NaN", |x| !x.is_nan())
                .prop_map(Value::Float),
            ".{0,40}".prop_map(Value::Str),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                prop::collection::vec((".{0,8}", inner), 0..8).prop_map(|pairs| {
                    let mut d = Dict::new();
                    for (k, v) in pairs {
                        d.push(k, v);
                    }
                    Value::Dict(d)
                }),
            ]
        })
    }

    /// `message` with each `(at, byte)` edit applied (positions wrap).
    pub(crate) fn edited(message: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
        let mut msg = message.to_vec();
        let len = msg.len().max(1);
        for &(at, b) in edits {
            if let Some(byte) = msg.get_mut(at % len) {
                *byte = b;
            }
        }
        msg
    }

    /// Checks that `message` is a valid message and that every proper
    /// prefix of it fails to split and to decode, without panic.
    pub(crate) fn every_truncation_fails<F: Format>(message: &[u8]) {
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert!(F::split_message(message, &mut spans).is_ok());
        assert!(F::read_value(message).is_ok());
        for len in 0..message.len() {
            let prefix = message.get(..len).unwrap_or_default();
            assert!(F::split_message(prefix, &mut spans).is_err(), "{len}");
            assert!(F::read_value(prefix).is_err(), "{len}");
        }
    }

    /// The property tests of a binary serializer's test module: any value
    /// round-trips (to `$expected(&value)`), and neither any bytes nor any
    /// edit of the module's `MESSAGE` make a decoder panic.
    macro_rules! format_properties {
        ($format:ty, $expected:expr) => {
            proptest::proptest! {
                #[test]
                fn any_value_round_trips(v in testing::value()) {
                    proptest::prop_assert_eq!(testing::round_trip::<$format>(&v), $expected(&v));
                }

                #[test]
                fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(0..=u8::MAX, 0..64)) {
                    testing::exercise::<$format>(&bytes);
                }

                #[test]
                fn any_edit_of_a_message_decodes_without_panic(
                    edits in proptest::collection::vec((0..usize::MAX, 0..=u8::MAX), 1..4),
                ) {
                    testing::exercise::<$format>(&testing::edited(&hex(MESSAGE), &edits));
                }
            }
        };
    }
    pub(crate) use format_properties;

    /// Encodes `value` with `F` and decodes it again.
    pub(crate) fn round_trip<F: Format>(value: &Value) -> Value {
        let mut out = BytesMut::new();
        F::write_value(value, &mut out, 0).unwrap_or_default();
        F::read_value(&out).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_against_the_input() {
        let mut c = Cursor::new(&[1, 2, 3], "test");
        assert!(c.take(4).is_err());
        assert!(c.take(u64::MAX).is_err());
        assert_eq!(c.items(3, 1), Ok(3));
        assert!(c.items(2, 2).is_err());
        assert!(c.items(u64::MAX, 2).is_err());
        assert_eq!(c.take(2), Ok(&[1, 2][..]));
        assert!(c.uint_be(2).is_err());
        assert_eq!(c.pos(), 2);
        assert_eq!(c.uint_be(1), Ok(3));
        assert!(c.at_end());
        assert!(c.byte().is_err());
    }
}
