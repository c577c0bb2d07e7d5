//! `wamp.2.ubjson`: UBJSON (Universal Binary JSON, draft 12, ubjson.org),
//! as `py-ubjson` writes it.
//!
//! Decoding checks the structure of the whole message and that every string
//! is UTF-8. It reads both container forms of the draft: plain (`[` ... `]`)
//! and optimized (`#` count, optionally `$` type), and no-op markers (`N`)
//! between the elements of plain containers. A strongly-typed array of
//! `uint8` (`[$U#`) is binary, as in `py-ubjson`. Every count is checked
//! against the bytes left before anything is allocated; for containers of a
//! type without data (`[$Z#`, `[$T#`, `[$F#`) that means a count may not
//! exceed the bytes that follow, so a few bytes cannot claim a huge list.
//! A high-precision number (`H`) is a JSON number in text and reads as one
//! (an integer in the value model's range, else a double). A WAMP message
//! itself must be a plain or counted array, not a strongly-typed one: its
//! elements need their markers.
//!
//! Encoding matches `py-ubjson`: the smallest integer marker (`U` for 0 to
//! 255, `i` for -128 to -1, then `I`, `l`, `L`, and `H` above 2^63 - 1),
//! floats as `D` (zero as `d`, and the draft's null for NaN and infinities),
//! one-byte strings as `C`, plain containers, binary as `[$U#`.

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::{Cursor, shared_body, shared_utf8, utf8};
use super::format::{Format, MAX_ELEMENTS, Span};
use super::json::Json;
use super::{DecodeError, EncodeError, Serializer};
use crate::str::Str;
use crate::value::{Dict, MAX_DEPTH, Value};

/// The UBJSON serializer.
pub(crate) struct Ubjson;

impl Format for Ubjson {
    const SERIALIZER: Serializer = Serializer::Ubjson;

    fn split_message(input: &[u8], spans: &mut [Span; MAX_ELEMENTS]) -> Result<usize, DecodeError> {
        if input.first() != Some(&ARRAY_START) {
            return Err(DecodeError::NotAList);
        }
        let mut cur = Cursor::new(input, NAME);
        let Head::Array(container) = head(&mut cur)? else {
            return Err(DecodeError::NotAList);
        };
        if container.ty.is_some() {
            return Err(cur.err("a WAMP message must not be a strongly-typed array"));
        }
        let mut count = 0;
        elements(&mut cur, container, ARRAY_END, 1, |cur, _| {
            cur.element(count, spans, |cur| skip(cur, 1))?;
            count += 1;
            Ok(())
        })?;
        cur.finish()?;
        Ok(count)
    }

    fn read_uint(element: &[u8]) -> Option<u64> {
        let mut cur = Cursor::new(element, NAME);
        let v = match head(&mut cur).ok()? {
            Head::Int(i) => u64::try_from(i).ok()?,
            // Above int64 an integer is high-precision text.
            Head::HighPrecision(len) => match high_precision(cur.take(len).ok()?) {
                Ok(Value::UInt(u)) => u,
                _ => return None,
            },
            _ => return None,
        };
        cur.at_end().then_some(v)
    }

    fn read_str(input: &Bytes, span: Span) -> Result<Option<Str>, DecodeError> {
        let text = shared_body(input, span, NAME, |cur| match head(cur) {
            Ok(Head::Str(len)) => Some(len),
            Ok(Head::Char) => Some(1),
            _ => None,
        })?;
        text.map(shared_utf8).transpose()
    }

    fn read_binary(input: &Bytes, span: Span) -> Result<Option<Bytes>, DecodeError> {
        shared_body(input, span, NAME, |cur| match head(cur) {
            Ok(Head::Array(container)) => container.binary_len(),
            _ => None,
        })
    }

    fn is_list(element: &[u8]) -> bool {
        element.first() == Some(&ARRAY_START) && !element.starts_with(BINARY_PREFIX)
    }

    fn is_dict(element: &[u8]) -> bool {
        element.first() == Some(&OBJECT_START)
    }

    fn is_empty_dict(element: &[u8]) -> bool {
        let mut cur = Cursor::new(element, NAME);
        match head(&mut cur) {
            Ok(Head::Object(Container { count: Some(0), .. })) => cur.at_end(),
            Ok(Head::Object(Container { count: None, .. })) => cur.eat(OBJECT_END) && cur.at_end(),
            _ => false,
        }
    }

    fn read_value(input: &[u8]) -> Result<Value, DecodeError> {
        let mut cur = Cursor::new(input, NAME);
        let v = value(&mut cur, None, 1)?;
        cur.finish()?;
        Ok(v)
    }

    fn list_start(_len: usize, out: &mut BytesMut) {
        out.put_u8(ARRAY_START);
    }
    fn list_sep(_out: &mut BytesMut) {}
    fn list_end(out: &mut BytesMut) {
        out.put_u8(ARRAY_END);
    }
    fn dict_start(_len: usize, out: &mut BytesMut) {
        out.put_u8(OBJECT_START);
    }
    fn dict_sep(_out: &mut BytesMut) {}
    fn dict_colon(_out: &mut BytesMut) {}
    fn dict_end(out: &mut BytesMut) {
        out.put_u8(OBJECT_END);
    }
    fn write_null(out: &mut BytesMut) {
        out.put_u8(NULL);
    }
    fn write_bool(v: bool, out: &mut BytesMut) {
        out.put_u8(if v { TRUE } else { FALSE });
    }
    fn write_uint(v: u64, out: &mut BytesMut) {
        match i64::try_from(v) {
            Ok(v) => write_int(v, out),
            // Above int64 the draft has only the high-precision number.
            Err(_) => {
                let digits = v.to_string();
                out.put_u8(HIGH_PRECISION);
                write_length(digits.len(), out);
                out.put_slice(digits.as_bytes());
            }
        }
    }
    fn write_negative(v: i64, out: &mut BytesMut) {
        write_int(v, out);
    }
    fn write_float(v: f64, out: &mut BytesMut) -> Result<(), EncodeError> {
        if v == 0.0 {
            // The cast is exact for both zeros and keeps the sign.
            out.put_u8(FLOAT32);
            out.put_f32(v as f32);
        } else if v.is_finite() {
            out.put_u8(FLOAT64);
            out.put_f64(v);
        } else {
            // The draft: "infinity and NaN are converted to null".
            out.put_u8(NULL);
        }
        Ok(())
    }
    fn write_str(v: &str, out: &mut BytesMut) {
        out.reserve(v.len() + 10);
        if v.len() == 1 {
            out.put_u8(CHAR);
        } else {
            out.put_u8(STRING);
            write_length(v.len(), out);
        }
        out.put_slice(v.as_bytes());
    }
    fn write_key(v: &str, out: &mut BytesMut) {
        out.reserve(v.len() + 9);
        write_length(v.len(), out);
        out.put_slice(v.as_bytes());
    }
    fn write_binary(v: &[u8], out: &mut BytesMut) {
        out.reserve(v.len() + 13);
        out.put_slice(BINARY_PREFIX);
        write_length(v.len(), out);
        out.put_slice(v);
    }
}

/// The serializer's name in errors.
const NAME: &str = "UBJSON";

/// Value markers (draft 12).
const NULL: u8 = b'Z';
const NOOP: u8 = b'N';
const TRUE: u8 = b'T';
const FALSE: u8 = b'F';
const INT8: u8 = b'i';
const UINT8: u8 = b'U';
const INT16: u8 = b'I';
const INT32: u8 = b'l';
const INT64: u8 = b'L';
const FLOAT32: u8 = b'd';
const FLOAT64: u8 = b'D';
const HIGH_PRECISION: u8 = b'H';
const CHAR: u8 = b'C';
const STRING: u8 = b'S';

/// Container markers.
const ARRAY_START: u8 = b'[';
const ARRAY_END: u8 = b']';
const OBJECT_START: u8 = b'{';
const OBJECT_END: u8 = b'}';
const CONTAINER_TYPE: u8 = b'$';
const CONTAINER_COUNT: u8 = b'#';

/// How binary data starts: a strongly-typed array of `uint8`, its count next.
const BINARY_PREFIX: &[u8] = b"[$U#";

/// A container's optimized header: the type of every element (then they
/// carry no marker) and the count (then there is no end marker).
#[derive(Clone, Copy)]
struct Container {
    ty: Option<u8>,
    count: Option<u64>,
}

impl Container {
    /// The byte count when this is binary (a typed `uint8` array).
    fn binary_len(self) -> Option<u64> {
        match self {
            Container {
                ty: Some(UINT8),
                count,
            } => count,
            _ => None,
        }
    }
}

/// One value's marker and what its header announces.
enum Head {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A high-precision number: this many bytes of JSON number text.
    HighPrecision(u64),
    /// A string of one byte.
    Char,
    /// A string of this many bytes.
    Str(u64),
    Array(Container),
    Object(Container),
}

/// Reads one value's marker and header, leaving the cursor on its body.
fn head(cur: &mut Cursor<'_>) -> Result<Head, DecodeError> {
    let marker = cur.byte()?;
    head_of(cur, marker)
}

/// Reads the header of a value with `marker` (read, or implied by a typed
/// container).
fn head_of(cur: &mut Cursor<'_>, marker: u8) -> Result<Head, DecodeError> {
    let at = cur.pos().saturating_sub(1);
    Ok(match marker {
        NULL => Head::Null,
        TRUE => Head::Bool(true),
        FALSE => Head::Bool(false),
        INT8 | UINT8 | INT16 | INT32 | INT64 => Head::Int(int_body(cur, marker)?),
        // The widths were read exactly, so the casts keep every bit.
        FLOAT32 => Head::Float(f64::from(f32::from_bits(cur.uint_be(4)? as u32))),
        FLOAT64 => Head::Float(f64::from_bits(cur.uint_be(8)?)),
        HIGH_PRECISION => Head::HighPrecision(length(cur)?),
        CHAR => Head::Char,
        STRING => Head::Str(length(cur)?),
        ARRAY_START => Head::Array(container(cur)?),
        OBJECT_START => Head::Object(container(cur)?),
        NOOP => return Err(cur.err_at(at, "no-op marker where a value must be")),
        _ => return Err(cur.err_at(at, "not a UBJSON value marker")),
    })
}

/// The value of an integer with `marker`, big-endian as the draft says.
fn int_body(cur: &mut Cursor<'_>, marker: u8) -> Result<i64, DecodeError> {
    // Two's complement: the casts reinterpret bytes read at this width.
    Ok(match marker {
        INT8 => i64::from(cur.uint_be(1)? as u8 as i8),
        UINT8 => i64::from(cur.uint_be(1)? as u8),
        INT16 => i64::from(cur.uint_be(2)? as u16 as i16),
        INT32 => i64::from(cur.uint_be(4)? as u32 as i32),
        _ => cur.uint_be(8)? as i64,
    })
}

/// Reads a length or count: an integer with its marker, not negative.
fn length(cur: &mut Cursor<'_>) -> Result<u64, DecodeError> {
    let at = cur.pos();
    let marker = cur.byte()?;
    if !matches!(marker, INT8 | UINT8 | INT16 | INT32 | INT64) {
        return Err(cur.err_at(at, "a length must be an integer"));
    }
    u64::try_from(int_body(cur, marker)?).map_err(|_| cur.err_at(at, "negative length"))
}

/// Reads the optimized header after `[` or `{`, if there is one.
fn container(cur: &mut Cursor<'_>) -> Result<Container, DecodeError> {
    let ty = if cur.eat(CONTAINER_TYPE) {
        let at = cur.pos();
        match cur.byte()? {
            NOOP | ARRAY_END | OBJECT_END | CONTAINER_TYPE | CONTAINER_COUNT => {
                return Err(cur.err_at(at, "not a container element type"));
            }
            ty => Some(ty),
        }
    } else {
        None
    };
    let count = if cur.eat(CONTAINER_COUNT) {
        Some(length(cur)?)
    } else if ty.is_some() {
        return Err(cur.err("a typed container must have a count"));
    } else {
        None
    };
    Ok(Container { ty, count })
}

/// Walks the elements of a container whose header was just read, calling
/// `each` with the marker every element is typed with (`None`: it carries
/// its own). A plain container ends at `end`; no-op markers before an
/// element of an untyped container are skipped. A count must fit in the
/// input at `min_bytes` per element (at least one).
fn elements<'a>(
    cur: &mut Cursor<'a>,
    container: Container,
    end: u8,
    min_bytes: u64,
    mut each: impl FnMut(&mut Cursor<'a>, Option<u8>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let skip_noops = |cur: &mut Cursor<'a>| {
        if container.ty.is_none() {
            while cur.eat(NOOP) {}
        }
    };
    match container.count {
        Some(count) => {
            for _ in 0..cur.items(count, min_bytes.max(1))? {
                skip_noops(cur);
                each(cur, container.ty)?;
            }
        }
        None => loop {
            skip_noops(cur);
            if cur.eat(end) {
                break;
            }
            each(cur, None)?;
        },
    }
    Ok(())
}

/// Checks one value's structure (and its strings' UTF-8) and moves past it.
fn skip(cur: &mut Cursor<'_>, depth: usize) -> Result<(), DecodeError> {
    skip_typed(cur, None, depth)
}

/// [`skip`] for a value whose marker is `marker` when given (typed).
fn skip_typed(cur: &mut Cursor<'_>, marker: Option<u8>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let head = match marker {
        Some(marker) => head_of(cur, marker)?,
        None => head(cur)?,
    };
    match head {
        Head::Null | Head::Bool(_) | Head::Int(_) | Head::Float(_) => {}
        Head::HighPrecision(len) => {
            high_precision(cur.take(len)?)?;
        }
        Head::Char => {
            utf8(cur.take(1)?)?;
        }
        Head::Str(len) => {
            utf8(cur.take(len)?)?;
        }
        Head::Array(c) => match c.binary_len() {
            Some(len) => {
                cur.take(len)?;
            }
            None => elements(cur, c, ARRAY_END, element_bytes(c), |cur, ty| {
                skip_typed(cur, ty, depth + 1)
            })?,
        },
        Head::Object(c) => elements(cur, c, OBJECT_END, 2 + element_bytes(c), |cur, ty| {
            key(cur)?;
            skip_typed(cur, ty, depth + 1)
        })?,
    }
    Ok(())
}

/// Decodes one value (with marker `marker` when typed).
fn value(cur: &mut Cursor<'_>, marker: Option<u8>, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let head = match marker {
        Some(marker) => head_of(cur, marker)?,
        None => head(cur)?,
    };
    Ok(match head {
        Head::Null => Value::Null,
        Head::Bool(b) => Value::Bool(b),
        Head::Int(i) => Value::from_i64(i),
        Head::Float(x) => Value::Float(x),
        Head::HighPrecision(len) => high_precision(cur.take(len)?)?,
        Head::Char => Value::Str(utf8(cur.take(1)?)?.to_owned()),
        Head::Str(len) => Value::Str(utf8(cur.take(len)?)?.to_owned()),
        Head::Array(c) => match c.binary_len() {
            Some(len) => Value::Bytes(cur.take(len)?.to_vec()),
            None => {
                let mut items = Vec::new();
                elements(cur, c, ARRAY_END, element_bytes(c), |cur, ty| {
                    items.push(value(cur, ty, depth + 1)?);
                    Ok(())
                })?;
                Value::List(items)
            }
        },
        Head::Object(c) => {
            let mut dict = Dict::new();
            elements(cur, c, OBJECT_END, 2 + element_bytes(c), |cur, ty| {
                let key = key(cur)?.to_owned();
                dict.push(key, value(cur, ty, depth + 1)?);
                Ok(())
            })?;
            Value::Dict(dict)
        }
    })
}

/// The fewest bytes an element of container `c` takes: its marker, unless
/// the container is typed.
fn element_bytes(c: Container) -> u64 {
    u64::from(c.ty.is_none())
}

/// Reads an object key: a length and UTF-8 bytes, no marker.
fn key<'a>(cur: &mut Cursor<'a>) -> Result<&'a str, DecodeError> {
    let len = length(cur)?;
    utf8(cur.take(len)?)
}

/// The value of a high-precision number, whose text must be a JSON number.
fn high_precision(text: &[u8]) -> Result<Value, DecodeError> {
    match Json::read_value(text) {
        Ok(v @ (Value::UInt(_) | Value::Int(_) | Value::Float(_))) => Ok(v),
        _ => Err(DecodeError::Value(
            "a UBJSON high-precision number is not a JSON number",
        )),
    }
}

/// Writes an integer with the smallest marker, as `py-ubjson` does.
fn write_int(v: i64, out: &mut BytesMut) {
    if let Ok(small) = u8::try_from(v) {
        out.put_slice(&[UINT8, small]);
    } else if let Ok(small) = i8::try_from(v) {
        out.put_u8(INT8);
        out.put_i8(small);
    } else if let Ok(v) = i16::try_from(v) {
        out.put_u8(INT16);
        out.put_i16(v);
    } else if let Ok(v) = i32::try_from(v) {
        out.put_u8(INT32);
        out.put_i32(v);
    } else {
        out.put_u8(INT64);
        out.put_i64(v);
    }
}

/// Writes a length or count. Lengths beyond `i64::MAX` cannot occur:
/// messages are bounded far below that by the transports' size limits.
fn write_length(len: usize, out: &mut BytesMut) {
    write_int(i64::try_from(len).unwrap_or(i64::MAX), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::cursor::testing;

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s.replace(' ', "")).unwrap()
    }

    /// A PUBLISH as `py-ubjson` writes it, with a binary, a high-precision
    /// number, a float, a negative integer and a char.
    const MESSAGE: &str = "5b 5510 6c0e49c1af 7b 5501 6b 44 3ff8000000000000 7d \
        5355 12 636f6d2e6d796170702e6d79746f70696331 \
        5b 53550d48656c6c6f2c20776f726c6421 5b2455235502 0102 \
        4855 14 3138343436373434303733373039353531363135 69fb 4378 5d \
        7b 5501 61 5b5d 7d 5d";

    fn value(s: &str) -> Result<Value, DecodeError> {
        Ubjson::read_value(&hex(s))
    }

    fn encoded(v: &Value) -> String {
        let mut out = BytesMut::new();
        Ubjson::write_value(v, &mut out, 0).unwrap();
        ::hex::encode(&out)
    }

    fn dict(pairs: &[(&str, Value)]) -> Value {
        Value::Dict(pairs.iter().cloned().collect())
    }

    #[test]
    fn every_type_and_form_decodes() {
        let abc = Value::from("abc");
        let cases: &[(&str, Value)] = &[
            ("5a", Value::Null),
            ("54", Value::Bool(true)),
            ("46", Value::Bool(false)),
            ("69 80", Value::Int(-128)),
            ("69 05", Value::UInt(5)),
            ("55 ff", Value::UInt(255)),
            ("49 8000", Value::Int(-32768)),
            ("6c 7fffffff", Value::UInt(i32::MAX as u64)),
            ("4c 8000000000000000", Value::Int(i64::MIN)),
            ("64 3fc00000", Value::Float(1.5)),
            ("44 3ff8000000000000", Value::Float(1.5)),
            ("48 55 03 312e35", Value::Float(1.5)),
            ("48 55 02 2d37", Value::Int(-7)),
            (
                "48 55 14 3138343436373434303733373039353531363135",
                Value::UInt(u64::MAX),
            ),
            ("43 78", Value::from("x")),
            ("53 55 03 616263", abc.clone()),
            ("53 49 0003 616263", abc.clone()),
            ("53 4c 0000000000000003 616263", abc.clone()),
            ("5b 24 55 23 55 02 0102", Value::Bytes(vec![1, 2])),
            ("5b 24 55 23 49 0002 0102", Value::Bytes(vec![1, 2])),
            ("5b 5d", Value::List(vec![])),
            (
                "5b 4e 55 01 4e 43 78 4e 5d",
                Value::List(vec![1u64.into(), "x".into()]),
            ),
            (
                "5b 23 55 02 55 01 43 78",
                Value::List(vec![1u64.into(), "x".into()]),
            ),
            (
                "5b 24 69 23 55 02 ff 01",
                Value::List(vec![Value::Int(-1), 1u64.into()]),
            ),
            (
                "5b 5b245a235501 5a 5d",
                Value::List(vec![Value::List(vec![Value::Null]), Value::Null]),
            ),
            ("7b 7d", dict(&[])),
            ("7b 55 01 6b 55 01 7d", dict(&[("k", 1u64.into())])),
            ("7b 4e 55 01 6b 55 01 4e 7d", dict(&[("k", 1u64.into())])),
            ("7b 23 55 01 55 01 6b 55 01", dict(&[("k", 1u64.into())])),
            ("7b 24 55 23 55 01 55 01 6b 01", dict(&[("k", 1u64.into())])),
            ("7b 24 54 23 55 01 55 01 6b", dict(&[("k", true.into())])),
        ];
        for (bytes, expected) in cases {
            assert_eq!(value(bytes).as_ref(), Ok(expected), "{bytes}");
        }
    }

    #[test]
    fn non_values_are_rejected_naming_the_problem() {
        for (bytes, reason) in [
            ("4e", "no-op marker"),
            ("78", "not a UBJSON value marker"),
            ("53 44 3ff8000000000000", "a length must be an integer"),
            ("53 69 ff", "negative length"),
            ("5b 24 55 01", "a typed container must have a count"),
            ("5b 24 23 55 01", "not a container element type"),
            (
                "5b 24 5a 23 4c 7fffffffffffffff",
                "length exceeds the remaining input",
            ),
            ("5a 5a", "unexpected bytes after the value"),
        ] {
            let err = value(bytes).unwrap_err().to_string();
            assert!(err.contains(reason), "{bytes}: {err}");
        }
        assert!(matches!(value("53 55 01 ff"), Err(DecodeError::Value(_))));
        assert!(matches!(value("43 ff"), Err(DecodeError::Value(_))));
        assert!(matches!(
            value("48 55 03 4e614e"),
            Err(DecodeError::Value(_))
        ));
    }

    #[test]
    fn writer_matches_py_ubjson() {
        let cases: &[(Value, &str)] = &[
            (Value::UInt(0), "5500"),
            (Value::UInt(255), "55ff"),
            (Value::UInt(256), "490100"),
            (Value::UInt(32767), "497fff"),
            (Value::UInt(32768), "6c00008000"),
            (Value::UInt(1 << 31), "4c0000000080000000"),
            (Value::UInt(i64::MAX as u64), "4c7fffffffffffffff"),
            (
                Value::UInt(1 << 63),
                "48551339323233333732303336383534373735383038",
            ),
            (Value::Int(-1), "69ff"),
            (Value::Int(-128), "6980"),
            (Value::Int(-129), "49ff7f"),
            (Value::Int(i64::MIN), "4c8000000000000000"),
            (Value::Float(1.5), "443ff8000000000000"),
            (Value::Float(0.0), "6400000000"),
            (Value::Float(-0.0), "6480000000"),
            (Value::Float(f64::INFINITY), "5a"),
            (Value::Float(f64::NAN), "5a"),
            (Value::from("x"), "4378"),
            (Value::from("é"), "535502c3a9"),
            (Value::from(""), "535500"),
            (Value::Bytes(vec![1, 2]), "5b2455235502 0102"),
            (Value::List(vec![Value::Null]), "5b5a5d"),
            (dict(&[("k", Value::Bool(true))]), "7b55016b547d"),
            (dict(&[("", Value::Null)]), "7b55005a7d"),
        ];
        for (v, expected) in cases {
            assert_eq!(encoded(v), expected.replace(' ', ""), "{v:?}");
        }
        let long = encoded(&Value::Str("x".repeat(256)));
        assert!(long.starts_with("53490100"));
    }

    #[test]
    fn announced_lengths_fail_before_allocating() {
        for bytes in [
            "5b 23 4c 7fffffffffffffff",
            "7b 23 6c 7fffffff",
            "53 6c 7fffffff",
            "5b 24 55 23 6c 7fffffff",
            "5b 24 54 23 6c 7fffffff",
        ] {
            assert!(
                matches!(value(bytes), Err(DecodeError::Syntax { .. })),
                "{bytes}"
            );
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| [vec![b'['; n], vec![b'Z'], vec![b']'; n]].concat();
        assert!(Ubjson::read_value(&deep(MAX_DEPTH - 1)).is_ok());
        assert_eq!(
            Ubjson::read_value(&deep(MAX_DEPTH)),
            Err(DecodeError::TooDeep)
        );
        let mut spans = [(0, 0); MAX_ELEMENTS];
        let msg = [hex("5b 5510 5501 7b7d 4374"), deep(MAX_DEPTH), hex("5d")].concat();
        assert_eq!(
            Ubjson::split_message(&msg, &mut spans),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn message_is_split_into_spans() {
        let input = Bytes::from(hex(MESSAGE));
        let mut spans = [(0, 0); MAX_ELEMENTS];
        assert_eq!(Ubjson::split_message(&input, &mut spans), Ok(6));
        assert_eq!(Ubjson::read_uint(&input[spans[0].0..spans[0].1]), Some(16));
        assert_eq!(
            Ubjson::read_uint(&input[spans[1].0..spans[1].1]),
            Some(239714735)
        );
        assert_eq!(
            Ubjson::read_str(&input, spans[3]),
            Ok(Some(Str::from("com.myapp.mytopic1")))
        );
        assert_eq!(Ubjson::read_str(&input, spans[0]), Ok(None));
        assert_eq!(Ubjson::read_uint(&hex("69 ff")), None);
        let max = hex("4855 14 3138343436373434303733373039353531363135");
        assert_eq!(Ubjson::read_uint(&max), Some(u64::MAX));
        assert_eq!(Ubjson::read_uint(&hex("4855 03 312e35")), None);
        assert!(Ubjson::is_dict(&input[spans[2].0..spans[2].1]));
        assert!(!Ubjson::is_empty_dict(&input[spans[2].0..spans[2].1]));
        assert!(Ubjson::is_list(&input[spans[4].0..spans[4].1]));
        assert!(Ubjson::is_dict(&input[spans[5].0..spans[5].1]));
        for empty in ["7b7d", "7b235500", "7b24542355 00"] {
            assert!(Ubjson::is_empty_dict(&hex(empty)), "{empty}");
        }

        let bin = Bytes::from(hex("5b 5510 5b2455235502 0102 5d"));
        assert_eq!(Ubjson::split_message(&bin, &mut spans), Ok(2));
        assert!(!Ubjson::is_list(&bin[spans[1].0..spans[1].1]));
        assert_eq!(
            Ubjson::read_binary(&bin, spans[1]),
            Ok(Some(Bytes::from_static(&[1, 2])))
        );
        let counted = hex("5b 2355 02 5510 4e 4378");
        assert_eq!(Ubjson::split_message(&counted, &mut spans), Ok(2));
        assert_eq!(spans[1], (7, 9));

        for (bytes, err) in [
            ("", DecodeError::NotAList),
            ("7b7d", DecodeError::NotAList),
            ("4378", DecodeError::NotAList),
        ] {
            assert_eq!(Ubjson::split_message(&hex(bytes), &mut spans), Err(err));
        }
        let typed = Ubjson::split_message(&hex("5b 2469 2355 02 10 01"), &mut spans);
        assert!(typed.unwrap_err().to_string().contains("strongly-typed"));
        assert!(Ubjson::split_message(&hex("5b 5510 5d 5a"), &mut spans).is_err());
        assert!(Ubjson::split_message(&hex("5b 53 55 01 ff 5d"), &mut spans).is_err());
    }

    testing::format_properties!(Ubjson, finite);

    /// `v` with infinities as null, as the writer stores them.
    fn finite(v: &Value) -> Value {
        match v {
            Value::Float(x) if !x.is_finite() => Value::Null,
            Value::List(items) => Value::List(items.iter().map(finite).collect()),
            Value::Dict(d) => {
                // Pushed one by one: the dictionary may repeat a key.
                let mut out = Dict::new();
                for (k, v) in d.iter() {
                    out.push(k.to_owned(), finite(v));
                }
                Value::Dict(out)
            }
            other => other.clone(),
        }
    }

    #[test]
    fn every_truncation_fails_without_panic() {
        testing::every_truncation_fails::<Ubjson>(&hex(MESSAGE));
    }
}
