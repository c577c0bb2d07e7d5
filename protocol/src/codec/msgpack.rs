//! `wamp.2.msgpack`: MessagePack (spec 2.0, with the `str8` and `bin` types).
//!
//! Decoding checks the structure of the whole message and that every string
//! is UTF-8; extension types are well-formed MessagePack, so they may travel
//! inside a payload spliced between MessagePack peers, but they are no WAMP
//! value: [`Format::read_value`] (and so transcoding) rejects them.
//!
//! Encoding uses the smallest form of every integer and length (`fixstr` for
//! strings under 32 bytes, as other WAMP implementations do) and writes
//! floats as `float64`.

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::{Cursor, shared_body, shared_utf8, utf8};
use super::format::{Format, MAX_ELEMENTS, Span};
use super::{DecodeError, EncodeError, Serializer};
use crate::str::Str;
use crate::value::{Dict, MAX_DEPTH, Value};

/// The MessagePack serializer.
pub(crate) struct MsgPack;

impl Format for MsgPack {
    const SERIALIZER: Serializer = Serializer::MsgPack;

    fn split_message(input: &[u8], spans: &mut [Span; MAX_ELEMENTS]) -> Result<usize, DecodeError> {
        if !input.first().is_some_and(|b| is_array_marker(*b)) {
            return Err(DecodeError::NotAList);
        }
        let mut cur = Cursor::new(input, NAME);
        let Head::Array(len) = head(&mut cur)? else {
            return Err(DecodeError::NotAList);
        };
        let len = cur.items(len, 1)?;
        for i in 0..len {
            cur.element(i, spans, |cur| skip(cur, 1))?;
        }
        cur.finish()?;
        Ok(len)
    }

    fn read_uint(element: &[u8]) -> Option<u64> {
        let mut cur = Cursor::new(element, NAME);
        let v = match head(&mut cur).ok()? {
            Head::UInt(u) => u,
            Head::Int(i) => u64::try_from(i).ok()?,
            _ => return None,
        };
        cur.at_end().then_some(v)
    }

    fn read_str(input: &Bytes, span: Span) -> Result<Option<Str>, DecodeError> {
        let text = shared_body(input, span, NAME, |cur| match head(cur) {
            Ok(Head::Str(len)) => Some(len),
            _ => None,
        })?;
        text.map(shared_utf8).transpose()
    }

    fn read_binary(input: &Bytes, span: Span) -> Result<Option<Bytes>, DecodeError> {
        shared_body(input, span, NAME, |cur| match head(cur) {
            Ok(Head::Bin(len)) => Some(len),
            _ => None,
        })
    }

    fn is_list(element: &[u8]) -> bool {
        element.first().is_some_and(|b| is_array_marker(*b))
    }

    fn is_dict(element: &[u8]) -> bool {
        matches!(element.first(), Some(0x80..=0x8f | 0xde | 0xdf))
    }

    fn is_empty_dict(element: &[u8]) -> bool {
        matches!(element, [0x80] | [0xde, 0, 0] | [0xdf, 0, 0, 0, 0])
    }

    fn read_value(input: &[u8]) -> Result<Value, DecodeError> {
        let mut cur = Cursor::new(input, NAME);
        let v = value(&mut cur, 1)?;
        cur.finish()?;
        Ok(v)
    }

    fn list_start(len: usize, out: &mut BytesMut) {
        write_len(len, 0x90, 16, [0xdc, 0xdc, 0xdd], out);
    }
    fn list_sep(_out: &mut BytesMut) {}
    fn list_end(_out: &mut BytesMut) {}
    fn dict_start(len: usize, out: &mut BytesMut) {
        write_len(len, 0x80, 16, [0xde, 0xde, 0xdf], out);
    }
    fn dict_sep(_out: &mut BytesMut) {}
    fn dict_colon(_out: &mut BytesMut) {}
    fn dict_end(_out: &mut BytesMut) {}
    fn write_null(out: &mut BytesMut) {
        out.put_u8(0xc0);
    }
    fn write_bool(v: bool, out: &mut BytesMut) {
        out.put_u8(if v { 0xc3 } else { 0xc2 });
    }
    fn write_uint(v: u64, out: &mut BytesMut) {
        if let Ok(small) = u8::try_from(v) {
            if small < 0x80 {
                out.put_u8(small);
            } else {
                out.put_slice(&[0xcc, small]);
            }
        } else if let Ok(v) = u16::try_from(v) {
            out.put_u8(0xcd);
            out.put_u16(v);
        } else if let Ok(v) = u32::try_from(v) {
            out.put_u8(0xce);
            out.put_u32(v);
        } else {
            out.put_u8(0xcf);
            out.put_u64(v);
        }
    }
    fn write_negative(v: i64, out: &mut BytesMut) {
        if let Ok(small) = i8::try_from(v) {
            if small >= -32 {
                out.put_i8(small);
            } else {
                out.put_u8(0xd0);
                out.put_i8(small);
            }
        } else if let Ok(v) = i16::try_from(v) {
            out.put_u8(0xd1);
            out.put_i16(v);
        } else if let Ok(v) = i32::try_from(v) {
            out.put_u8(0xd2);
            out.put_i32(v);
        } else {
            out.put_u8(0xd3);
            out.put_i64(v);
        }
    }
    fn write_float(v: f64, out: &mut BytesMut) -> Result<(), EncodeError> {
        out.put_u8(0xcb);
        out.put_f64(v);
        Ok(())
    }
    fn write_str(v: &str, out: &mut BytesMut) {
        out.reserve(v.len() + 5);
        write_len(v.len(), 0xa0, 32, [0xd9, 0xda, 0xdb], out);
        out.put_slice(v.as_bytes());
    }
    fn write_binary(v: &[u8], out: &mut BytesMut) {
        out.reserve(v.len() + 5);
        write_len(v.len(), 0, 0, [0xc4, 0xc5, 0xc6], out);
        out.put_slice(v);
    }
}

/// The serializer's name in errors.
const NAME: &str = "MessagePack";

/// The type byte of one value and what its header announces.
enum Head {
    Nil,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    /// A string of this many bytes.
    Str(u64),
    /// Binary data of this many bytes.
    Bin(u64),
    /// An array of this many values.
    Array(u64),
    /// A map of this many key-value pairs.
    Map(u64),
    /// An extension value: this many bytes (the type byte and the data).
    Ext(u64),
}

fn is_array_marker(b: u8) -> bool {
    matches!(b, 0x90..=0x9f | 0xdc | 0xdd)
}

/// Reads one value's header: the type byte and its length or scalar bytes,
/// leaving the cursor on the value's body (if it has one).
fn head(cur: &mut Cursor<'_>) -> Result<Head, DecodeError> {
    let at = cur.pos();
    let b = cur.byte()?;
    Ok(match b {
        0x00..=0x7f => Head::UInt(u64::from(b)),
        0x80..=0x8f => Head::Map(u64::from(b & 0x0f)),
        0x90..=0x9f => Head::Array(u64::from(b & 0x0f)),
        0xa0..=0xbf => Head::Str(u64::from(b & 0x1f)),
        0xc0 => Head::Nil,
        0xc1 => return Err(cur.err_at(at, "0xc1 is not a MessagePack type")),
        0xc2 => Head::Bool(false),
        0xc3 => Head::Bool(true),
        0xc4 => Head::Bin(cur.uint_be(1)?),
        0xc5 => Head::Bin(cur.uint_be(2)?),
        0xc6 => Head::Bin(cur.uint_be(4)?),
        0xc7 => Head::Ext(cur.uint_be(1)? + 1),
        0xc8 => Head::Ext(cur.uint_be(2)? + 1),
        0xc9 => Head::Ext(cur.uint_be(4)? + 1),
        // The 4 bytes were read as a u32, so the cast keeps them all.
        0xca => Head::Float(f64::from(f32::from_bits(cur.uint_be(4)? as u32))),
        0xcb => Head::Float(f64::from_bits(cur.uint_be(8)?)),
        0xcc => Head::UInt(cur.uint_be(1)?),
        0xcd => Head::UInt(cur.uint_be(2)?),
        0xce => Head::UInt(cur.uint_be(4)?),
        0xcf => Head::UInt(cur.uint_be(8)?),
        // Two's complement: the casts reinterpret bytes read at this width.
        0xd0 => Head::Int(i64::from(cur.uint_be(1)? as u8 as i8)),
        0xd1 => Head::Int(i64::from(cur.uint_be(2)? as u16 as i16)),
        0xd2 => Head::Int(i64::from(cur.uint_be(4)? as u32 as i32)),
        0xd3 => Head::Int(cur.uint_be(8)? as i64),
        0xd4 => Head::Ext(2),
        0xd5 => Head::Ext(3),
        0xd6 => Head::Ext(5),
        0xd7 => Head::Ext(9),
        0xd8 => Head::Ext(17),
        0xd9 => Head::Str(cur.uint_be(1)?),
        0xda => Head::Str(cur.uint_be(2)?),
        0xdb => Head::Str(cur.uint_be(4)?),
        0xdc => Head::Array(cur.uint_be(2)?),
        0xdd => Head::Array(cur.uint_be(4)?),
        0xde => Head::Map(cur.uint_be(2)?),
        0xdf => Head::Map(cur.uint_be(4)?),
        0xe0..=0xff => Head::Int(i64::from(b as i8)),
    })
}

/// Checks one value's structure (and its strings' UTF-8) and moves past it.
fn skip(cur: &mut Cursor<'_>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    match head(cur)? {
        Head::Str(len) => {
            utf8(cur.take(len)?)?;
        }
        Head::Bin(len) | Head::Ext(len) => {
            cur.take(len)?;
        }
        Head::Array(len) => {
            for _ in 0..cur.items(len, 1)? {
                skip(cur, depth + 1)?;
            }
        }
        Head::Map(len) => {
            for _ in 0..cur.items(len, 2)? {
                skip(cur, depth + 1)?;
                skip(cur, depth + 1)?;
            }
        }
        Head::Nil | Head::Bool(_) | Head::UInt(_) | Head::Int(_) | Head::Float(_) => {}
    }
    Ok(())
}

/// Decodes one value.
fn value(cur: &mut Cursor<'_>, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    Ok(match head(cur)? {
        Head::Nil => Value::Null,
        Head::Bool(b) => Value::Bool(b),
        Head::UInt(u) => Value::UInt(u),
        Head::Int(i) => Value::from_i64(i),
        Head::Float(x) => Value::Float(x),
        Head::Str(len) => Value::Str(utf8(cur.take(len)?)?.to_owned()),
        Head::Bin(len) => Value::Bytes(cur.take(len)?.to_vec()),
        Head::Array(len) => {
            let len = cur.items(len, 1)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(value(cur, depth + 1)?);
            }
            Value::List(items)
        }
        Head::Map(len) => {
            let mut dict = Dict::new();
            for _ in 0..cur.items(len, 2)? {
                let Head::Str(key_len) = head(cur)? else {
                    return Err(DecodeError::Value("dictionary key is not a string"));
                };
                let key = utf8(cur.take(key_len)?)?.to_owned();
                dict.push(key, value(cur, depth + 1)?);
            }
            Value::Dict(dict)
        }
        Head::Ext(_) => {
            return Err(DecodeError::Value(
                "a MessagePack extension type is not a WAMP value",
            ));
        }
    })
}

/// Writes a length header: `fix | len` below `fix_limit`, else the 8-, 16-
/// or 32-bit form from `markers`.
///
/// Lengths above `u32::MAX` cannot be expressed in MessagePack; they are
/// written as `u32::MAX`. Nothing that large reaches the writer, since
/// messages are bounded far below 4 GiB by the transports' size limits.
fn write_len(len: usize, fix: u8, fix_limit: u8, markers: [u8; 3], out: &mut BytesMut) {
    let [m8, m16, m32] = markers;
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(small), _) if small < fix_limit => out.put_u8(fix | small),
        (Ok(small), _) if m8 != m16 => out.put_slice(&[m8, small]),
        (_, Ok(len)) => {
            out.put_u8(m16);
            out.put_u16(len);
        }
        _ => {
            out.put_u8(m32);
            out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::cursor::testing;

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s.replace(' ', "")).unwrap()
    }

    /// A PUBLISH using most types, some in wider forms than needed.
    const MESSAGE: &str = "96 10 ce0e49c1af 81 a26b31 cb3ff8000000000000 \
        b2636f6d2e6d796170702e6d79746f70696331 93 ad48656c6c6f2c20776f726c6421 c4 02 0102 \
        d3 8000000000000000 81 a0 dc 0001 c0";

    fn value(s: &str) -> Result<Value, DecodeError> {
        MsgPack::read_value(&hex(s))
    }

    fn encoded(v: &Value) -> String {
        let mut out = BytesMut::new();
        MsgPack::write_value(v, &mut out, 0).unwrap();
        ::hex::encode(&out)
    }

    #[test]
    fn every_type_and_width_decodes() {
        let cases: &[(&str, Value)] = &[
            ("c0", Value::Null),
            ("c2", Value::Bool(false)),
            ("c3", Value::Bool(true)),
            ("00", Value::UInt(0)),
            ("7f", Value::UInt(127)),
            ("cc ff", Value::UInt(255)),
            ("cd ffff", Value::UInt(65535)),
            ("ce ffffffff", Value::UInt(u64::from(u32::MAX))),
            ("cf ffffffffffffffff", Value::UInt(u64::MAX)),
            ("ff", Value::Int(-1)),
            ("e0", Value::Int(-32)),
            ("d0 80", Value::Int(-128)),
            ("d0 05", Value::UInt(5)),
            ("d1 8000", Value::Int(-32768)),
            ("d2 80000000", Value::Int(i64::from(i32::MIN))),
            ("d3 8000000000000000", Value::Int(i64::MIN)),
            ("d3 7fffffffffffffff", Value::UInt(i64::MAX as u64)),
            ("ca 3fc00000", Value::Float(1.5)),
            ("cb 3ff8000000000000", Value::Float(1.5)),
            ("a3 616263", Value::from("abc")),
            ("d9 03 616263", Value::from("abc")),
            ("da 0003 616263", Value::from("abc")),
            ("db 00000003 616263", Value::from("abc")),
            ("c4 02 0102", Value::Bytes(vec![1, 2])),
            ("c5 0002 0102", Value::Bytes(vec![1, 2])),
            ("c6 00000002 0102", Value::Bytes(vec![1, 2])),
            ("92 01 a1 78", Value::List(vec![1u64.into(), "x".into()])),
            ("dc 0001 c0", Value::List(vec![Value::Null])),
            ("dd 00000001 c0", Value::List(vec![Value::Null])),
            (
                "81 a1 6b 01",
                Value::Dict([("k", 1u64)].into_iter().collect()),
            ),
            (
                "de 0001 a1 6b 01",
                Value::Dict([("k", 1u64)].into_iter().collect()),
            ),
            ("df 00000000", Value::Dict(Dict::new())),
        ];
        for (bytes, expected) in cases {
            assert_eq!(value(bytes).as_ref(), Ok(expected), "{bytes}");
        }
    }

    #[test]
    fn non_wamp_values_are_rejected() {
        for bytes in [
            "d4 01 00",
            "c7 01 05 00",
            "d8 01 00000000000000000000000000000000",
        ] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Value(_))),
                "{bytes}"
            );
        }
        assert_eq!(
            value("81 01 01"),
            Err(DecodeError::Value("dictionary key is not a string"))
        );
        assert!(matches!(value("a1 ff"), Err(DecodeError::Value(_))));
        assert!(matches!(value("c1"), Err(DecodeError::Syntax { .. })));
        assert!(matches!(
            value("c0 c0"),
            Err(DecodeError::Syntax { offset: 1, .. })
        ));
    }

    #[test]
    fn writer_uses_the_smallest_forms() {
        let uints: &[(u64, &str)] = &[
            (0, "00"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65535, "cdffff"),
            (65536, "ce00010000"),
            (u64::from(u32::MAX), "ceffffffff"),
            (1 << 32, "cf0000000100000000"),
        ];
        for (v, expected) in uints {
            assert_eq!(encoded(&Value::UInt(*v)), *expected, "{v}");
        }
        let negatives: &[(i64, &str)] = &[
            (-1, "ff"),
            (-32, "e0"),
            (-33, "d0df"),
            (-128, "d080"),
            (-129, "d1ff7f"),
            (-32768, "d18000"),
            (-32769, "d2ffff7fff"),
            (i64::from(i32::MIN), "d280000000"),
            (i64::from(i32::MIN) - 1, "d3ffffffff7fffffff"),
            (i64::MIN, "d38000000000000000"),
        ];
        for (v, expected) in negatives {
            assert_eq!(encoded(&Value::Int(*v)), *expected, "{v}");
        }
        assert_eq!(encoded(&Value::Float(1.5)), "cb3ff8000000000000");
        assert_eq!(encoded(&Value::Null), "c0");
        assert_eq!(encoded(&Value::Bool(true)), "c3");
        for (len, prefix) in [
            (31, "bf".to_owned()),
            (32, "d920".to_owned()),
            (255, "d9ff".to_owned()),
            (256, "da0100".to_owned()),
            (65536, "db00010000".to_owned()),
        ] {
            let out = encoded(&Value::Str("x".repeat(len)));
            assert!(out.starts_with(&prefix), "{len}");
            assert_eq!(out.len(), prefix.len() + 2 * len);
        }
        for (len, prefix) in [
            (0, "c400"),
            (255, "c4ff"),
            (256, "c50100"),
            (65536, "c600010000"),
        ] {
            let out = encoded(&Value::Bytes(vec![0; len]));
            assert!(out.starts_with(prefix), "{len}");
        }
        for (len, list, dict) in [
            (15, "9f", "8f"),
            (16, "dc0010", "de0010"),
            (65535, "dcffff", "deffff"),
            (65536, "dd00010000", "df00010000"),
        ] {
            assert!(encoded(&Value::List(vec![Value::Null; len])).starts_with(list));
            let mut d = Dict::new();
            for i in 0..len {
                d.push(i.to_string(), Value::Null);
            }
            assert!(encoded(&Value::Dict(d)).starts_with(dict));
        }
    }

    #[test]
    fn values_round_trip() {
        let v = Value::List(vec![
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::Float(-0.25),
            Value::from("é"),
            Value::Bytes(vec![0, 255]),
            Value::Dict([("a", Value::List(vec![]))].into_iter().collect()),
        ]);
        assert_eq!(MsgPack::read_value(&hex(&encoded(&v))), Ok(v));
    }

    #[test]
    fn announced_lengths_fail_before_allocating() {
        for bytes in ["dd ffffffff", "df ffffffff", "db ffffffff", "c6 ffffffff"] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Syntax { .. })),
                "{bytes}"
            );
        }
        let mut spans = [(0, 0); MAX_ELEMENTS];
        let huge = hex("dd ffffffff 00");
        assert!(matches!(
            MsgPack::split_message(&huge, &mut spans),
            Err(DecodeError::Syntax { .. })
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| [vec![0x91; n], vec![0xc0]].concat();
        assert!(MsgPack::read_value(&deep(MAX_DEPTH - 1)).is_ok());
        assert_eq!(
            MsgPack::read_value(&deep(MAX_DEPTH)),
            Err(DecodeError::TooDeep)
        );
        let mut spans = [(0, 0); MAX_ELEMENTS];
        let msg = [hex("95 10 01 80 a1 74"), deep(MAX_DEPTH)].concat();
        assert_eq!(
            MsgPack::split_message(&msg, &mut spans),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn message_is_split_into_spans() {
        // [16, 239714735, {}, "t", [1], {"k": <ext>}, null, null]
        let msg = hex("98 10 ce0e49c1af 80 a174 9101 81a16b d40100 c0 c0");
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert_eq!(MsgPack::split_message(&msg, &mut spans), Ok(8));
        assert_eq!(
            spans,
            [
                (1, 2),
                (2, 7),
                (7, 8),
                (8, 10),
                (10, 12),
                (12, 18),
                (18, 19)
            ]
        );
        let input = Bytes::from(msg);
        assert_eq!(MsgPack::read_uint(&input[2..7]), Some(239714735));
        assert_eq!(MsgPack::read_uint(&[0xd0, 0xff]), None);
        assert_eq!(MsgPack::read_uint(&[0xd1, 0, 7]), Some(7));
        assert_eq!(MsgPack::read_str(&input, (8, 10)), Ok(Some(Str::from("t"))));
        assert_eq!(MsgPack::read_str(&input, (1, 2)), Ok(None));
        assert!(MsgPack::is_empty_dict(&input[7..8]));
        assert!(MsgPack::is_list(&input[10..12]));
        assert!(MsgPack::is_dict(&input[12..18]));
        assert!(!MsgPack::is_empty_dict(&input[12..18]));
        let bin = Bytes::from(hex("92 10 c4 02 0102"));
        assert_eq!(MsgPack::split_message(&bin, &mut spans), Ok(2));
        assert_eq!(
            MsgPack::read_binary(&bin, spans[1]),
            Ok(Some(Bytes::from_static(&[1, 2])))
        );

        for (bytes, err) in [
            ("", DecodeError::NotAList),
            ("80", DecodeError::NotAList),
            ("a1 78", DecodeError::NotAList),
        ] {
            assert_eq!(MsgPack::split_message(&hex(bytes), &mut spans), Err(err));
        }
        assert!(MsgPack::split_message(&hex("91 01 01"), &mut spans).is_err());
        assert!(MsgPack::split_message(&hex("91 a1 ff"), &mut spans).is_err());
    }

    testing::format_properties!(MsgPack, Value::clone);

    #[test]
    fn every_truncation_fails_without_panic() {
        let msg = hex(MESSAGE);
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert_eq!(MsgPack::split_message(&msg, &mut spans), Ok(6));
        testing::every_truncation_fails::<MsgPack>(&msg);
    }
}
