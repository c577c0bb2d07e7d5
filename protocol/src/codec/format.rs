//! [`Format`]: what a serializer must provide so that the message layouts in
//! `decode.rs` and `encode.rs` can be written once for all of them.

use bytes::{Bytes, BytesMut};

use super::{DecodeError, EncodeError, Serializer};
use crate::str::Str;
use crate::value::{Dict, MAX_DEPTH, Value};

/// The most elements any WAMP message has (ERROR: type, request type,
/// request, details, error, arguments, keyword arguments).
pub(crate) const MAX_ELEMENTS: usize = 7;

/// The byte range `start..end` of one element inside a message.
pub(crate) type Span = (usize, usize);

/// One serializer's encoding rules.
pub(crate) trait Format {
    /// The serializer this implements.
    const SERIALIZER: Serializer;

    /// Whether a string starting with NUL means binary (JSON's convention),
    /// so that such a string cannot be written as a string.
    const NUL_STRING_IS_BINARY: bool = false;

    /// Checks that `input` is exactly one list whose elements are all
    /// well-formed, records the first [`MAX_ELEMENTS`] element spans in
    /// `spans`, and returns how many elements the list has.
    fn split_message(input: &[u8], spans: &mut [Span; MAX_ELEMENTS]) -> Result<usize, DecodeError>;

    /// The element as an unsigned integer, if it is one.
    fn read_uint(element: &[u8]) -> Option<u64>;

    /// The element as a string (sharing `input` where the encoding allows),
    /// `Ok(None)` if it is not a string.
    fn read_str(input: &Bytes, span: Span) -> Result<Option<Str>, DecodeError>;

    /// The element as binary data, `Ok(None)` if it is not binary.
    fn read_binary(input: &Bytes, span: Span) -> Result<Option<Bytes>, DecodeError>;

    /// Whether the element is a list.
    fn is_list(element: &[u8]) -> bool;

    /// Whether the element is a dictionary.
    fn is_dict(element: &[u8]) -> bool;

    /// Whether the element is the empty dictionary (the common `{}` of
    /// `Details`/`Options`, read without building anything).
    fn is_empty_dict(element: &[u8]) -> bool;

    /// Decodes one whole value; `input` must hold exactly one.
    fn read_value(input: &[u8]) -> Result<Value, DecodeError>;

    /// Starts a list of `len` elements.
    fn list_start(len: usize, out: &mut BytesMut);
    /// Goes between two list elements.
    fn list_sep(out: &mut BytesMut);
    /// Ends a list.
    fn list_end(out: &mut BytesMut);
    /// Starts a dictionary of `len` pairs.
    fn dict_start(len: usize, out: &mut BytesMut);
    /// Goes between two pairs.
    fn dict_sep(out: &mut BytesMut);
    /// Goes between a key and its value.
    fn dict_colon(out: &mut BytesMut);
    /// Ends a dictionary.
    fn dict_end(out: &mut BytesMut);
    /// Writes null.
    fn write_null(out: &mut BytesMut);
    /// Writes a boolean.
    fn write_bool(v: bool, out: &mut BytesMut);
    /// Writes a non-negative integer.
    fn write_uint(v: u64, out: &mut BytesMut);
    /// Writes a negative integer.
    fn write_negative(v: i64, out: &mut BytesMut);
    /// Writes a float.
    fn write_float(v: f64, out: &mut BytesMut) -> Result<(), EncodeError>;
    /// Writes a string.
    fn write_str(v: &str, out: &mut BytesMut);
    /// Writes binary data.
    fn write_binary(v: &[u8], out: &mut BytesMut);
    /// Writes a dictionary key (a string, unless the format marks keys
    /// differently).
    fn write_key(v: &str, out: &mut BytesMut) {
        Self::write_str(v, out);
    }

    /// Writes a value tree.
    fn write_value(value: &Value, out: &mut BytesMut, depth: usize) -> Result<(), EncodeError> {
        if depth > MAX_DEPTH {
            return Err(EncodeError::TooDeep);
        }
        match value {
            Value::Null => Self::write_null(out),
            Value::Bool(b) => Self::write_bool(*b, out),
            Value::UInt(u) => Self::write_uint(*u, out),
            Value::Int(i) => Self::write_negative(*i, out),
            Value::Float(x) => Self::write_float(*x, out)?,
            Value::Str(s) if Self::NUL_STRING_IS_BINARY && s.starts_with('\0') => {
                return Err(EncodeError::NulString);
            }
            Value::Str(s) => Self::write_str(s, out),
            Value::Bytes(b) => Self::write_binary(b, out),
            Value::List(items) => {
                Self::list_start(items.len(), out);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        Self::list_sep(out);
                    }
                    Self::write_value(item, out, depth + 1)?;
                }
                Self::list_end(out);
            }
            Value::Dict(d) => Self::write_dict(d, out, depth)?,
        }
        Ok(())
    }

    /// Writes a dictionary.
    fn write_dict(dict: &Dict, out: &mut BytesMut, depth: usize) -> Result<(), EncodeError> {
        if depth > MAX_DEPTH {
            return Err(EncodeError::TooDeep);
        }
        Self::dict_start(dict.len(), out);
        for (i, (k, v)) in dict.iter().enumerate() {
            if i > 0 {
                Self::dict_sep(out);
            }
            Self::write_key(k, out);
            Self::dict_colon(out);
            Self::write_value(v, out, depth + 1)?;
        }
        Self::dict_end(out);
        Ok(())
    }
}
