//! JSON between PostgreSQL and WAMP: the bridge has PostgreSQL render
//! every value as JSON text (`to_jsonb(...)::text`, so the type mapping is
//! PostgreSQL's own, documented in docs/BRIDGES.md) and reads it with the
//! protocol's JSON codec, and sends WAMP payloads to SQL as JSON text cast
//! to `jsonb`.

use bytes::BytesMut;
use ringbar_client::{Dict, Value};
use ringbar_protocol::codec::{self, Serializer};

/// The value of JSON `text`, or why it is not one.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    codec::decode_value(Serializer::Json, text.as_bytes()).map_err(|e| e.to_string())
}

/// `args` of a jsonb column: a list, or none for SQL NULL / JSON null.
pub(crate) fn args(text: Option<&str>) -> Result<Vec<Value>, String> {
    match text.map(parse).transpose()? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(list)) => Ok(list),
        Some(other) => Err(format!("args is a {}, not a list", other.type_name())),
    }
}

/// `kwargs` or `options` of a jsonb column: a dict, or an empty one for
/// SQL NULL / JSON null.
pub(crate) fn dict(text: Option<&str>, what: &str) -> Result<Dict, String> {
    match text.map(parse).transpose()? {
        None | Some(Value::Null) => Ok(Dict::new()),
        Some(Value::Dict(dict)) => Ok(dict),
        Some(other) => Err(format!("{what} is a {}, not an object", other.type_name())),
    }
}

/// `value` as JSON text.
pub(crate) fn text(value: &Value) -> Result<String, String> {
    let mut out = BytesMut::new();
    codec::encode_value(Serializer::Json, value, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out.to_vec()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn columns_read_as_payloads() {
        assert_eq!(args(None).unwrap(), Vec::<Value>::new());
        assert_eq!(args(Some("null")).unwrap(), Vec::<Value>::new());
        assert_eq!(
            args(Some("[1, \"a\"]")).unwrap(),
            vec![Value::from(1u64), Value::from("a")]
        );
        assert!(args(Some("{}")).is_err());
        let kwargs = dict(Some("{\"a\": [true]}"), "kwargs").unwrap();
        assert_eq!(kwargs.get("a"), Some(&Value::List(vec![Value::Bool(true)])));
        assert!(dict(Some("[]"), "kwargs").unwrap_err().contains("kwargs"));
        assert_eq!(
            text(&Value::List(kwargs.get("a").into_iter().cloned().collect())).unwrap(),
            "[[true]]"
        );
    }
}
