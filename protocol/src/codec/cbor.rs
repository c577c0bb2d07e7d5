//! `wamp.2.cbor`: CBOR (RFC 8949).
//!
//! Decoding checks that the whole message is well-formed CBOR (RFC 8949
//! appendix C) and that every text string is UTF-8. Tags, bignums and
//! simple values are well-formed, so they may travel inside a payload
//! spliced between CBOR peers; [`Format::read_value`] maps them into the
//! WAMP value model as follows:
//!
//! - `undefined` reads as null; other simple values (besides `false`,
//!   `true`, `null`) are an error.
//! - Half, single and double floats read as a double.
//! - A tag is skipped and the item it tags decoded (a date string stays a
//!   string, an epoch time stays a number), except the bignums:
//! - Bignums (tags 2 and 3) and negative integers below `i64::MIN` read as
//!   an integer when the value model holds them, and otherwise as the
//!   nearest double, as JSON integers beyond 64 bits do.
//!
//! The accessors for message fields (`read_uint`, `read_str`, ...) skip tags
//! the same way. Encoding uses definite lengths, the smallest head for every
//! integer and length, and 64-bit floats.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::{Cursor, utf8};
use super::format::{Format, MAX_ELEMENTS, Span};
use super::{DecodeError, EncodeError, Serializer};
use crate::str::Str;
use crate::value::{Dict, MAX_DEPTH, Value};

/// The CBOR serializer.
pub(crate) struct Cbor;

impl Format for Cbor {
    const SERIALIZER: Serializer = Serializer::Cbor;

    fn split_message(input: &[u8], spans: &mut [Span; MAX_ELEMENTS]) -> Result<usize, DecodeError> {
        if input.is_empty() {
            return Err(DecodeError::NotAList);
        }
        let mut cur = Cursor::new(input, NAME);
        let Item::Array(len) = untagged(&mut cur)? else {
            return Err(DecodeError::NotAList);
        };
        let count = match len {
            Some(len) => {
                let len = cur.items(len, 1)?;
                for i in 0..len {
                    cur.element(i, spans, |cur| skip(cur, 1))?;
                }
                len
            }
            None => {
                let mut count = 0;
                while !cur.eat(BREAK) {
                    cur.element(count, spans, |cur| skip(cur, 1))?;
                    count += 1;
                }
                count
            }
        };
        cur.finish()?;
        Ok(count)
    }

    fn read_uint(element: &[u8]) -> Option<u64> {
        let mut cur = Cursor::new(element, NAME);
        match untagged(&mut cur) {
            Ok(Item::UInt(u)) if cur.at_end() => Some(u),
            _ => None,
        }
    }

    fn read_str(input: &Bytes, (start, end): Span) -> Result<Option<Str>, DecodeError> {
        let Some(element) = input.get(start..end) else {
            return Ok(None);
        };
        let mut cur = Cursor::new(element, NAME);
        match untagged(&mut cur) {
            Ok(Item::Text(Some(len))) => {
                let from = start + cur.pos();
                let text = cur.take(len)?;
                Str::from_utf8(input.slice(from..from + text.len()))
                    .map(Some)
                    .map_err(|_| DecodeError::Value("string is not valid UTF-8"))
            }
            Ok(Item::Text(None)) => text(&mut cur, None).map(|s| Some(Str::from(s))),
            _ => Ok(None),
        }
    }

    fn read_binary(input: &Bytes, (start, end): Span) -> Result<Option<Bytes>, DecodeError> {
        let Some(element) = input.get(start..end) else {
            return Ok(None);
        };
        let mut cur = Cursor::new(element, NAME);
        match untagged(&mut cur) {
            Ok(Item::Bytes(Some(len))) => {
                let from = start + cur.pos();
                let bytes = cur.take(len)?;
                Ok(Some(input.slice(from..from + bytes.len())))
            }
            Ok(Item::Bytes(None)) => Ok(Some(Bytes::from(chunked(&mut cur, BYTES)?))),
            _ => Ok(None),
        }
    }

    fn is_list(element: &[u8]) -> bool {
        matches!(
            untagged(&mut Cursor::new(element, NAME)),
            Ok(Item::Array(_))
        )
    }

    fn is_dict(element: &[u8]) -> bool {
        matches!(untagged(&mut Cursor::new(element, NAME)), Ok(Item::Map(_)))
    }

    fn is_empty_dict(element: &[u8]) -> bool {
        let mut cur = Cursor::new(element, NAME);
        match untagged(&mut cur) {
            Ok(Item::Map(Some(0))) => cur.at_end(),
            Ok(Item::Map(None)) => cur.eat(BREAK) && cur.at_end(),
            _ => false,
        }
    }

    fn read_value(input: &[u8]) -> Result<Value, DecodeError> {
        let mut cur = Cursor::new(input, NAME);
        let v = value(&mut cur, 1)?;
        cur.finish()?;
        Ok(v)
    }

    fn list_start(len: usize, out: &mut BytesMut) {
        write_head(ARRAY, len as u64, out);
    }
    fn list_sep(_out: &mut BytesMut) {}
    fn list_end(_out: &mut BytesMut) {}
    fn dict_start(len: usize, out: &mut BytesMut) {
        write_head(MAP, len as u64, out);
    }
    fn dict_sep(_out: &mut BytesMut) {}
    fn dict_colon(_out: &mut BytesMut) {}
    fn dict_end(_out: &mut BytesMut) {}
    fn write_null(out: &mut BytesMut) {
        out.put_u8(0xf6);
    }
    fn write_bool(v: bool, out: &mut BytesMut) {
        out.put_u8(if v { 0xf5 } else { 0xf4 });
    }
    fn write_uint(v: u64, out: &mut BytesMut) {
        write_head(UINT, v, out);
    }
    fn write_negative(v: i64, out: &mut BytesMut) {
        match u64::try_from(v) {
            Ok(u) => write_head(UINT, u, out),
            // -1 - n = v, so n = |v| - 1, which cannot underflow for v < 0.
            Err(_) => write_head(NEGATIVE, v.unsigned_abs() - 1, out),
        }
    }
    fn write_float(v: f64, out: &mut BytesMut) -> Result<(), EncodeError> {
        out.put_u8(0xfb);
        out.put_f64(v);
        Ok(())
    }
    fn write_str(v: &str, out: &mut BytesMut) {
        out.reserve(v.len() + 9);
        write_head(TEXT, v.len() as u64, out);
        out.put_slice(v.as_bytes());
    }
    fn write_binary(v: &[u8], out: &mut BytesMut) {
        out.reserve(v.len() + 9);
        write_head(BYTES, v.len() as u64, out);
        out.put_slice(v);
    }
}

/// The serializer's name in errors.
const NAME: &str = "CBOR";

/// Major types (the top 3 bits of an item's first byte).
const UINT: u8 = 0;
const NEGATIVE: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;

/// The "break" stop code that ends an indefinite-length item.
const BREAK: u8 = 0xff;

/// One data item's head: its major type and argument, decoded. `None`
/// lengths are indefinite (chunks or items follow until a break).
enum Item {
    UInt(u64),
    /// The negative integer `-1 - n`.
    Negative(u64),
    Bytes(Option<u64>),
    Text(Option<u64>),
    Array(Option<u64>),
    Map(Option<u64>),
    Tag(u64),
    Bool(bool),
    /// `null` or `undefined`.
    Null,
    /// Any other simple value.
    Simple,
    Float(f64),
}

/// Reads one item's head, leaving the cursor on its content (if any).
/// A break here, outside the indefinite-length item it would end, is an
/// error.
fn head(cur: &mut Cursor<'_>) -> Result<Item, DecodeError> {
    let at = cur.pos();
    let initial = cur.byte()?;
    let (major, info) = (initial >> 5, initial & 0x1f);
    let arg = match info {
        0..=23 => Some(u64::from(info)),
        24 => Some(cur.uint_be(1)?),
        25 => Some(cur.uint_be(2)?),
        26 => Some(cur.uint_be(4)?),
        27 => Some(cur.uint_be(8)?),
        28..=30 => return Err(cur.err_at(at, "reserved additional information")),
        _ => None,
    };
    Ok(match (major, arg) {
        (UINT, Some(n)) => Item::UInt(n),
        (NEGATIVE, Some(n)) => Item::Negative(n),
        (BYTES, len) => Item::Bytes(len),
        (TEXT, len) => Item::Text(len),
        (ARRAY, len) => Item::Array(len),
        (MAP, len) => Item::Map(len),
        (TAG, Some(n)) => Item::Tag(n),
        (UINT | NEGATIVE | TAG, None) => {
            return Err(cur.err_at(at, "indefinite length on an integer or tag"));
        }
        // What is left is major type 7: simple values, floats and break.
        (_, None) => return Err(cur.err_at(at, "break outside an indefinite-length item")),
        (_, Some(n)) => match info {
            20 => Item::Bool(false),
            21 => Item::Bool(true),
            22 | 23 => Item::Null,
            24 if n < 32 => {
                return Err(cur.err_at(at, "simple value below 32 in two bytes"));
            }
            // The argument was read from exactly 2, 4 or 8 bytes, so the
            // casts keep every bit.
            25 => Item::Float(f16_to_f64(n as u16)),
            26 => Item::Float(f64::from(f32::from_bits(n as u32))),
            27 => Item::Float(f64::from_bits(n)),
            _ => Item::Simple,
        },
    })
}

/// Reads the next item's head, moving past its tags, except a bignum's tag
/// (2 or 3), which is returned. Loops rather than recursing, so a long chain
/// of tags costs no stack.
fn untagged(cur: &mut Cursor<'_>) -> Result<Item, DecodeError> {
    loop {
        match head(cur)? {
            Item::Tag(tag) if tag != 2 && tag != 3 => {}
            item => return Ok(item),
        }
    }
}

/// Checks one item's well-formedness (and its text's UTF-8) and moves past
/// it.
fn skip(cur: &mut Cursor<'_>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let item = loop {
        match head(cur)? {
            Item::Tag(_) => {}
            item => break item,
        }
    };
    match item {
        Item::Bytes(Some(len)) => {
            cur.take(len)?;
        }
        Item::Text(Some(len)) => {
            utf8(cur.take(len)?)?;
        }
        Item::Bytes(None) => chunks(cur, BYTES, |_| Ok(()))?,
        Item::Text(None) => chunks(cur, TEXT, |chunk| utf8(chunk).map(drop))?,
        Item::Array(Some(len)) => {
            for _ in 0..cur.items(len, 1)? {
                skip(cur, depth + 1)?;
            }
        }
        Item::Map(Some(len)) => {
            for _ in 0..cur.items(len, 2)? {
                skip(cur, depth + 1)?;
                skip(cur, depth + 1)?;
            }
        }
        Item::Array(None) => {
            while !cur.eat(BREAK) {
                skip(cur, depth + 1)?;
            }
        }
        Item::Map(None) => {
            while !cur.eat(BREAK) {
                skip(cur, depth + 1)?;
                skip(cur, depth + 1)?;
            }
        }
        Item::UInt(_)
        | Item::Negative(_)
        | Item::Tag(_)
        | Item::Bool(_)
        | Item::Null
        | Item::Simple
        | Item::Float(_) => {}
    }
    Ok(())
}

/// Decodes one item.
fn value(cur: &mut Cursor<'_>, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    Ok(match untagged(cur)? {
        Item::UInt(u) => Value::UInt(u),
        Item::Negative(n) => negative(n),
        Item::Bytes(len) => Value::Bytes(bytes(cur, len)?.into_owned()),
        Item::Text(len) => Value::Str(text(cur, len)?),
        Item::Array(Some(len)) => {
            let len = cur.items(len, 1)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(value(cur, depth + 1)?);
            }
            Value::List(items)
        }
        Item::Array(None) => {
            let mut items = Vec::new();
            while !cur.eat(BREAK) {
                items.push(value(cur, depth + 1)?);
            }
            Value::List(items)
        }
        Item::Map(Some(len)) => {
            let mut dict = Dict::new();
            for _ in 0..cur.items(len, 2)? {
                let key = key(cur)?;
                dict.push(key, value(cur, depth + 1)?);
            }
            Value::Dict(dict)
        }
        Item::Map(None) => {
            let mut dict = Dict::new();
            while !cur.eat(BREAK) {
                let key = key(cur)?;
                dict.push(key, value(cur, depth + 1)?);
            }
            Value::Dict(dict)
        }
        // `untagged` returns only the bignum tags.
        Item::Tag(tag) => bignum(cur, tag == 3)?,
        Item::Bool(b) => Value::Bool(b),
        Item::Null => Value::Null,
        Item::Float(x) => Value::Float(x),
        Item::Simple => {
            return Err(DecodeError::Value(
                "a CBOR simple value other than false, true, null and undefined is not a WAMP value",
            ));
        }
    })
}

/// Decodes a dictionary key, which must be a (possibly tagged) text string.
fn key(cur: &mut Cursor<'_>) -> Result<String, DecodeError> {
    match untagged(cur)? {
        Item::Text(len) => text(cur, len),
        _ => Err(DecodeError::Value("dictionary key is not a string")),
    }
}

/// The content of a text string whose head announced `len`.
fn text(cur: &mut Cursor<'_>, len: Option<u64>) -> Result<String, DecodeError> {
    match len {
        Some(len) => Ok(utf8(cur.take(len)?)?.to_owned()),
        None => {
            let mut s = String::new();
            chunks(cur, TEXT, |chunk| {
                s.push_str(utf8(chunk)?);
                Ok(())
            })?;
            Ok(s)
        }
    }
}

/// The content of a byte string whose head announced `len`: a slice of the
/// input when definite, the joined chunks otherwise.
fn bytes<'a>(cur: &mut Cursor<'a>, len: Option<u64>) -> Result<Cow<'a, [u8]>, DecodeError> {
    match len {
        Some(len) => cur.take(len).map(Cow::Borrowed),
        None => chunked(cur, BYTES).map(Cow::Owned),
    }
}

/// The joined chunks of an indefinite-length string of type `major`.
fn chunked(cur: &mut Cursor<'_>, major: u8) -> Result<Vec<u8>, DecodeError> {
    let mut joined = Vec::new();
    chunks(cur, major, |chunk| {
        joined.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(joined)
}

/// Passes each chunk of an indefinite-length string of type `major` to
/// `each`, up to and including the break. Each chunk must be a
/// definite-length string of the same type (RFC 8949 section 3.2.3).
fn chunks<'a>(
    cur: &mut Cursor<'a>,
    major: u8,
    mut each: impl FnMut(&'a [u8]) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    while !cur.eat(BREAK) {
        let at = cur.pos();
        let len = match (head(cur)?, major) {
            (Item::Bytes(Some(len)), BYTES) | (Item::Text(Some(len)), TEXT) => len,
            _ => {
                return Err(cur.err_at(
                    at,
                    "a chunk of an indefinite-length string is not a definite string of its type",
                ));
            }
        };
        each(cur.take(len)?)?;
    }
    Ok(())
}

/// The negative integer `-1 - n`: an [`Value::Int`] down to `i64::MIN`,
/// below that (down to -2^64) the nearest double.
fn negative(n: u64) -> Value {
    match i64::try_from(n) {
        Ok(n) => Value::Int(-1 - n),
        Err(_) => Value::Float(-((u128::from(n) + 1) as f64)),
    }
}

/// Decodes a bignum (tag 2, or tag 3 when `negated`), whose content must
/// be a byte string holding the magnitude `n` (the value is `n` or
/// `-1 - n`).
fn bignum(cur: &mut Cursor<'_>, negated: bool) -> Result<Value, DecodeError> {
    match head(cur)? {
        Item::Bytes(len) => Ok(bignum_value(&bytes(cur, len)?, negated)),
        _ => Err(DecodeError::Value(
            "a CBOR bignum (tag 2 or 3) does not hold a byte string",
        )),
    }
}

/// The value of a bignum with big-endian magnitude `n`: an integer when the
/// value model holds it, else the nearest double (correctly rounded, or an
/// infinity).
fn bignum_value(n: &[u8], negated: bool) -> Value {
    let digits = match n.iter().position(|b| *b != 0) {
        Some(first) => n.get(first..).unwrap_or_default(),
        None => &[],
    };
    let Some((high, low)) = digits
        .split_first_chunk::<8>()
        .filter(|(_, low)| !low.is_empty())
    else {
        // At most 8 bytes: the shifts drop nothing.
        let n = digits.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b));
        return if negated { negative(n) } else { Value::UInt(n) };
    };
    // `high` holds the leading 57 to 64 significant bits; a double keeps
    // 53. Whether the bits below are zero decides rounding, so fold them
    // into the lowest bit ("sticky"). For `-1 - n` add the one to the
    // magnitude: it carries into `high` only when `low` is all ones.
    let mut mantissa = u128::from(u64::from_be_bytes(*high));
    let carries = low.iter().all(|b| *b == 0xff);
    let sticky = if negated && carries {
        mantissa += 1;
        false
    } else {
        negated || low.iter().any(|b| *b != 0)
    };
    mantissa |= u128::from(sticky);
    let magnitude = (mantissa as f64) * pow2(low.len().saturating_mul(8));
    Value::Float(if negated { -magnitude } else { magnitude })
}

/// 2^`exp`, exactly, or infinity when that is no finite double.
fn pow2(exp: usize) -> f64 {
    match u64::try_from(exp) {
        Ok(exp) if exp <= 1023 => f64::from_bits((1023 + exp) << 52),
        _ => f64::INFINITY,
    }
}

/// Decodes an IEEE 754 half-precision float (CBOR's `f9` items).
fn f16_to_f64(bits: u16) -> f64 {
    let exponent = (bits >> 10) & 0x1f;
    let fraction = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Subnormal: fraction * 2^-24.
        0 => fraction / 16_777_216.0,
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        // (1 + fraction / 2^10) * 2^(exponent - 15); every step is exact.
        _ => (fraction + 1024.0) * f64::from(1u32 << exponent) / 33_554_432.0,
    };
    if bits & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Writes an item head of type `major` with argument `n` in its smallest
/// form.
fn write_head(major: u8, n: u64, out: &mut BytesMut) {
    let major = major << 5;
    if let Ok(small) = u8::try_from(n) {
        if small < 24 {
            out.put_u8(major | small);
        } else {
            out.put_slice(&[major | 24, small]);
        }
    } else if let Ok(n) = u16::try_from(n) {
        out.put_u8(major | 25);
        out.put_u16(n);
    } else if let Ok(n) = u32::try_from(n) {
        out.put_u8(major | 26);
        out.put_u32(n);
    } else {
        out.put_u8(major | 27);
        out.put_u64(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::cursor::testing;

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s.replace(' ', "")).unwrap()
    }

    /// A PUBLISH using most types, indefinite lengths, tags and a half float.
    const MESSAGE: &str = "86 10 1a0e49c1af a1 626b31 fb3ff8000000000000 \
        72636f6d2e6d796170702e6d79746f70696331 84 6d48656c6c6f2c20776f726c6421 42 0102 \
        3b 7fffffffffffffff f9 3c00 bf 60 9f f6 ff 7f 61 61 ff c2 41 01 ff";

    fn value(s: &str) -> Result<Value, DecodeError> {
        Cbor::read_value(&hex(s))
    }

    fn encoded(v: &Value) -> String {
        let mut out = BytesMut::new();
        Cbor::write_value(v, &mut out, 0).unwrap();
        ::hex::encode(&out)
    }

    fn dict(pairs: &[(&str, Value)]) -> Value {
        Value::Dict(pairs.iter().cloned().collect())
    }

    #[test]
    fn every_type_and_width_decodes() {
        let cases: &[(&str, Value)] = &[
            ("00", Value::UInt(0)),
            ("17", Value::UInt(23)),
            ("18 18", Value::UInt(24)),
            ("18 ff", Value::UInt(255)),
            ("19 0100", Value::UInt(256)),
            ("1a 00010000", Value::UInt(65536)),
            ("1b ffffffffffffffff", Value::UInt(u64::MAX)),
            ("20", Value::Int(-1)),
            ("37", Value::Int(-24)),
            ("38 18", Value::Int(-25)),
            ("39 0100", Value::Int(-257)),
            ("3a 7fffffff", Value::Int(-(1 << 31))),
            ("3b 7fffffffffffffff", Value::Int(i64::MIN)),
            ("3b 8000000000000000", Value::Float(-9223372036854775809.0)),
            ("3b ffffffffffffffff", Value::Float(-18446744073709551616.0)),
            ("f4", Value::Bool(false)),
            ("f5", Value::Bool(true)),
            ("f6", Value::Null),
            ("f7", Value::Null),
            ("fa 47c35000", Value::Float(100000.0)),
            ("fb 3ff199999999999a", Value::Float(1.1)),
            ("40", Value::Bytes(vec![])),
            ("44 01020304", Value::Bytes(vec![1, 2, 3, 4])),
            ("58 02 0102", Value::Bytes(vec![1, 2])),
            ("5f 42 0102 43 030405 ff", Value::Bytes(vec![1, 2, 3, 4, 5])),
            ("5f ff", Value::Bytes(vec![])),
            ("60", Value::from("")),
            ("62 c3bc", Value::from("ü")),
            ("79 0001 61", Value::from("a")),
            ("7f 65 7374726561 64 6d696e67 ff", Value::from("streaming")),
            ("80", Value::List(vec![])),
            (
                "83 01 02 03",
                Value::List(vec![1u64.into(), 2u64.into(), 3u64.into()]),
            ),
            (
                "9f 01 82 02 03 9f 04 ff ff",
                Value::List(vec![
                    1u64.into(),
                    Value::List(vec![2u64.into(), 3u64.into()]),
                    Value::List(vec![4u64.into()]),
                ]),
            ),
            ("a0", dict(&[])),
            (
                "a2 61 61 01 61 62 82 02 03",
                dict(&[
                    ("a", 1u64.into()),
                    ("b", Value::List(vec![2u64.into(), 3u64.into()])),
                ]),
            ),
            (
                "bf 63 46756e f5 63 416d74 21 ff",
                dict(&[("Fun", true.into()), ("Amt", Value::Int(-2))]),
            ),
            ("bf 7f 61 6b ff 01 ff", dict(&[("k", 1u64.into())])),
        ];
        for (bytes, expected) in cases {
            assert_eq!(value(bytes).as_ref(), Ok(expected), "{bytes}");
        }
    }

    #[test]
    fn half_floats_decode_by_hand() {
        let cases: &[(&str, f64)] = &[
            ("0000", 0.0),
            ("3c00", 1.0),
            ("3e00", 1.5),
            ("c400", -4.0),
            ("7bff", 65504.0),
            ("0001", 5.960464477539063e-8),
            ("03ff", 6.097555160522461e-5),
            ("0400", 6.103515625e-5),
            ("7c00", f64::INFINITY),
            ("fc00", f64::NEG_INFINITY),
        ];
        for (bits, expected) in cases {
            assert_eq!(
                value(&format!("f9{bits}")),
                Ok(Value::Float(*expected)),
                "{bits}"
            );
        }
        let Ok(Value::Float(minus_zero)) = value("f9 8000") else {
            panic!("not a float");
        };
        assert!(minus_zero == 0.0 && minus_zero.is_sign_negative());
        for nan in ["7e00", "7c01", "fe00"] {
            assert!(
                matches!(value(&format!("f9{nan}")), Ok(Value::Float(x)) if x.is_nan()),
                "{nan}"
            );
        }
    }

    #[test]
    fn tags_are_skipped_and_bignums_read_as_numbers() {
        let date = "c0 74 323031332d30332d32315432303a30343a30305a";
        assert_eq!(value(date), Ok(Value::from("2013-03-21T20:04:00Z")));
        assert_eq!(value("c1 1a 514b67b0"), Ok(Value::UInt(1363896240)));
        assert_eq!(value("d9d9f7 d9d9f7 01"), Ok(Value::UInt(1)));
        assert_eq!(value("a1 d820 61 6b 01"), Ok(dict(&[("k", 1u64.into())])));
        let bignums: &[(&str, Value)] = &[
            ("c2 40", Value::UInt(0)),
            ("c2 43 000102", Value::UInt(258)),
            ("c2 48 ffffffffffffffff", Value::UInt(u64::MAX)),
            ("c2 5f 41 01 41 00 ff", Value::UInt(256)),
            ("c3 40", Value::Int(-1)),
            ("c3 48 7fffffffffffffff", Value::Int(i64::MIN)),
            (
                "c3 48 ffffffffffffffff",
                Value::Float(-18446744073709551616.0),
            ),
            (
                "c2 49 010000000000000000",
                Value::Float(18446744073709551616.0),
            ),
            // 2^64 + 2^11 is halfway between two doubles: ties to even.
            (
                "c2 49 010000000000000800",
                Value::Float(18446744073709551616.0),
            ),
            (
                "c2 49 010000000000000801",
                Value::Float(18446744073709555712.0),
            ),
            // -1 - (2^64 + 2^11 - 1) is the same tie, reached by a carry.
            (
                "c3 49 0100000000000007ff",
                Value::Float(-18446744073709551616.0),
            ),
            (
                "c3 49 010000000000000800",
                Value::Float(-18446744073709555712.0),
            ),
        ];
        for (bytes, expected) in bignums {
            assert_eq!(value(bytes).as_ref(), Ok(expected), "{bytes}");
        }
        let huge = [vec![0xc2, 0x59, 0x01, 0x00, 0x01], vec![0; 255]].concat();
        assert_eq!(Cbor::read_value(&huge), Ok(Value::Float(f64::INFINITY)));
        assert!(matches!(value("c2 01"), Err(DecodeError::Value(_))));
        assert!(matches!(value("c2 c2 41 01"), Err(DecodeError::Value(_))));
    }

    #[test]
    fn malformed_and_non_wamp_items_are_rejected() {
        for bytes in ["f0", "f8 20", "f8 ff"] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Value(_))),
                "{bytes}"
            );
        }
        assert_eq!(
            value("a1 01 01"),
            Err(DecodeError::Value("dictionary key is not a string"))
        );
        assert!(matches!(value("61 ff"), Err(DecodeError::Value(_))));
        assert!(matches!(
            value("7f 61 c3 61 bc ff"),
            Err(DecodeError::Value(_))
        ));
        for bytes in [
            "f8 18",
            "1c",
            "fc",
            "1f",
            "3f",
            "df",
            "ff",
            "5f 01 ff",
            "7f 41 00 ff",
            "5f 5f ff ff",
            "9f 01",
            "bf 61 6b ff",
            "f6 f6",
        ] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Syntax { .. })),
                "{bytes}"
            );
        }
    }

    #[test]
    fn writer_uses_the_smallest_forms() {
        let uints: &[(u64, &str)] = &[
            (0, "00"),
            (23, "17"),
            (24, "1818"),
            (255, "18ff"),
            (256, "190100"),
            (65535, "19ffff"),
            (65536, "1a00010000"),
            (u64::from(u32::MAX), "1affffffff"),
            (1 << 32, "1b0000000100000000"),
            (u64::MAX, "1bffffffffffffffff"),
        ];
        for (v, expected) in uints {
            assert_eq!(encoded(&Value::UInt(*v)), *expected, "{v}");
        }
        let negatives: &[(i64, &str)] = &[
            (-1, "20"),
            (-24, "37"),
            (-25, "3818"),
            (-256, "38ff"),
            (-257, "390100"),
            (-65537, "3a00010000"),
            (i64::MIN, "3b7fffffffffffffff"),
        ];
        for (v, expected) in negatives {
            assert_eq!(encoded(&Value::Int(*v)), *expected, "{v}");
        }
        assert_eq!(encoded(&Value::Float(1.5)), "fb3ff8000000000000");
        assert_eq!(encoded(&Value::Null), "f6");
        assert_eq!(encoded(&Value::Bool(false)), "f4");
        assert_eq!(encoded(&Value::from("a")), "6161");
        assert_eq!(encoded(&Value::Bytes(vec![1; 24]))[..4], *"5818");
        assert_eq!(encoded(&Value::Str("x".repeat(256)))[..6], *"790100");
        assert_eq!(encoded(&Value::List(vec![Value::Null; 24]))[..4], *"9818");
        assert_eq!(encoded(&dict(&[("a", Value::List(vec![]))])), "a1616180");
    }

    #[test]
    fn values_round_trip() {
        let v = Value::List(vec![
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::Float(-0.25),
            Value::from("é"),
            Value::Bytes(vec![0, 255]),
            dict(&[("a", Value::List(vec![]))]),
        ]);
        assert_eq!(Cbor::read_value(&hex(&encoded(&v))), Ok(v));
    }

    #[test]
    fn announced_lengths_fail_before_allocating() {
        for bytes in [
            "9a ffffffff",
            "9b ffffffffffffffff",
            "ba ffffffff",
            "bb 8000000000000000",
            "7b ffffffffffffffff",
            "5a ffffffff",
        ] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Syntax { .. })),
                "{bytes}"
            );
        }
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert!(matches!(
            Cbor::split_message(&hex("9a ffffffff"), &mut spans),
            Err(DecodeError::Syntax { .. })
        ));
    }

    #[test]
    fn nesting_is_bounded_and_tags_cost_no_stack() {
        for open in [0x81, 0x9f] {
            let deep = |n: usize| {
                let close = if open == 0x9f { vec![BREAK; n] } else { vec![] };
                [vec![open; n], vec![0xf6], close].concat()
            };
            assert!(Cbor::read_value(&deep(MAX_DEPTH - 1)).is_ok());
            assert_eq!(
                Cbor::read_value(&deep(MAX_DEPTH)),
                Err(DecodeError::TooDeep)
            );
            let mut spans = [(0, 0); MAX_ELEMENTS];
            let msg = [hex("85 10 01 a0 61 74"), deep(MAX_DEPTH)].concat();
            assert_eq!(
                Cbor::split_message(&msg, &mut spans),
                Err(DecodeError::TooDeep)
            );
        }
        let tags = [vec![0xc6; 1 << 20], vec![0x01]].concat();
        assert_eq!(Cbor::read_value(&tags), Ok(Value::UInt(1)));
        let mut spans = [(0, 0); MAX_ELEMENTS];
        let msg = [vec![0x81], tags].concat();
        assert_eq!(Cbor::split_message(&msg, &mut spans), Ok(1));
    }

    #[test]
    fn message_is_split_into_spans() {
        // [16, 239714735, {}, "t", [1], {"k": simple(16)}, null, null]
        let msg = hex("88 10 1a0e49c1af a0 6174 8101 a1616bf0 f6 f6");
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert_eq!(Cbor::split_message(&msg, &mut spans), Ok(8));
        assert_eq!(
            spans,
            [
                (1, 2),
                (2, 7),
                (7, 8),
                (8, 10),
                (10, 12),
                (12, 16),
                (16, 17)
            ]
        );
        let input = Bytes::from(msg);
        assert_eq!(Cbor::read_uint(&input[2..7]), Some(239714735));
        assert_eq!(Cbor::read_uint(&[0x20]), None);
        assert_eq!(Cbor::read_str(&input, (8, 10)), Ok(Some(Str::from("t"))));
        assert_eq!(Cbor::read_str(&input, (1, 2)), Ok(None));
        assert!(Cbor::is_empty_dict(&input[7..8]));
        assert!(Cbor::is_empty_dict(&[0xbf, 0xff]));
        assert!(Cbor::is_list(&input[10..12]));
        assert!(Cbor::is_dict(&input[12..16]));
        assert!(!Cbor::is_empty_dict(&input[12..16]));

        let indefinite = Bytes::from(hex(
            "9f 10 7f 61 61 61 62 ff 5f 41 01 41 02 ff 44 01020304 ff",
        ));
        assert_eq!(Cbor::split_message(&indefinite, &mut spans), Ok(4));
        assert_eq!(
            Cbor::read_str(&indefinite, spans[1]),
            Ok(Some(Str::from("ab")))
        );
        assert_eq!(
            Cbor::read_binary(&indefinite, spans[2]),
            Ok(Some(Bytes::from_static(&[1, 2])))
        );
        let bin = Cbor::read_binary(&indefinite, spans[3]).unwrap().unwrap();
        assert_eq!(bin, Bytes::from_static(&[1, 2, 3, 4]));
        assert_eq!(bin.as_ptr(), indefinite[spans[3].0 + 1..].as_ptr());

        for (bytes, err) in [
            ("", DecodeError::NotAList),
            ("a0", DecodeError::NotAList),
            ("61 78", DecodeError::NotAList),
        ] {
            assert_eq!(Cbor::split_message(&hex(bytes), &mut spans), Err(err));
        }
        assert!(Cbor::split_message(&hex("81 01 01"), &mut spans).is_err());
        assert!(Cbor::split_message(&hex("81 61 ff"), &mut spans).is_err());
        assert!(Cbor::split_message(&hex("9f 01"), &mut spans).is_err());
    }

    testing::format_properties!(Cbor, Value::clone);

    #[test]
    fn every_truncation_fails_without_panic() {
        for msg in [MESSAGE, "9f 10 01 a0 61 74 ff"] {
            testing::every_truncation_fails::<Cbor>(&hex(msg));
        }
    }
}
