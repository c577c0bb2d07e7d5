//! [`Value`]: the value tree of WAMP's data model.
//!
//! `Details` and `Options` are small dictionaries the router reads, so they
//! are decoded into a [`Dict`]. Application payloads (`Arguments`,
//! `ArgumentsKw`) are not: they stay raw bytes and become a `Value` only when
//! transcoded between serializers.
//!
//! The model is the union of what JSON, MessagePack and CBOR can carry in
//! WAMP: integers from -2^63 to 2^64-1, doubles, UTF-8 strings, binary,
//! lists and string-keyed dictionaries.

use std::fmt;

/// How deep lists and dictionaries may nest in anything decoded from a peer.
/// Bounds recursion, so that no input can exhaust a core's stack.
pub const MAX_DEPTH: usize = 64;

/// One WAMP value.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// JSON `null`, MessagePack `nil`, CBOR `null`/`undefined`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A non-negative integer (0 ..= 2^64-1).
    UInt(u64),
    /// A negative integer (-2^63 ..= -1). Non-negative values are always
    /// [`Value::UInt`], so each integer has one representation.
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Binary data (JSON carries it as a string `"\u0000" + base64`).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A dictionary with string keys.
    Dict(Dict),
}

impl Value {
    /// An integer from a signed value, normalised to [`Value::UInt`] when
    /// non-negative.
    pub fn from_i64(v: i64) -> Self {
        match u64::try_from(v) {
            Ok(u) => Value::UInt(u),
            Err(_) => Value::Int(v),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The non-negative integer, if this is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::UInt(u) => Some(*u),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::UInt(_) | Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "binary",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "b{b:02x?}"),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Dict(d) => fmt::Debug::fmt(d, f),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::UInt(u)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Dict> for Value {
    fn from(d: Dict) -> Self {
        Value::Dict(d)
    }
}

/// A WAMP dictionary: string keys in the order they arrived.
///
/// A vector of pairs, not a hash map: `Details` and `Options` hold a handful
/// of keys, where a linear scan beats hashing, and keeping the order makes
/// re-encoding reproduce the peer's bytes.
#[derive(Clone, Default, PartialEq)]
pub struct Dict(Vec<(String, Value)>);

impl Dict {
    /// An empty dictionary.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an earlier value in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// Appends a pair as decoded; a repeated key keeps its first value on
    /// lookup (decoders call this, so a peer cannot make decoding quadratic).
    pub(crate) fn push(&mut self, key: String, value: Value) {
        self.0.push((key, value));
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Dict {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_keeps_order_and_replaces_in_place() {
        let mut d = Dict::new();
        d.insert("b", 1u64);
        d.insert("a", 2u64);
        d.insert("b", 3u64);
        let keys: Vec<_> = d.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(d.get("b"), Some(&Value::UInt(3)));
        assert_eq!(d.remove("a"), Some(Value::UInt(2)));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn integers_have_one_representation() {
        assert_eq!(Value::from_i64(5), Value::UInt(5));
        assert_eq!(Value::from_i64(-5), Value::Int(-5));
    }
}
