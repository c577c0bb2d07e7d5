//! One PUBLISH of [`crate::Session::publish_all`], its payload encoded
//! once when it is made: from values, or from JSON text that goes out as
//! it is (a database's `jsonb` column, say), never read into values.

use bytes::{BufMut, BytesMut};
use ringbar_protocol::codec::{self, DecodeError, Serializer};
use ringbar_protocol::message::{Message, Payload, Yield};
use ringbar_protocol::value::{Dict, Value};

use crate::error::Error;
use crate::session::payload;

/// One PUBLISH of [`crate::Session::publish_all`] (`acknowledge` is set
/// when it goes out).
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub(crate) topic: String,
    pub(crate) payload: Payload,
    pub(crate) options: Dict,
}

/// The head of the message [`Publication::from_json`] has the protocol's
/// decoder check: a YIELD, the shortest message carrying a payload.
const CHECKED_HEAD: &[u8] = b"[70,1,{},";

impl Publication {
    /// A publication of `args` and `kwargs` to `topic` with PUBLISH
    /// `options`; an error when they cannot be encoded (e.g. NaN in JSON).
    pub fn new(topic: String, args: &[Value], kwargs: &Dict, options: Dict) -> Result<Self, Error> {
        Ok(Publication {
            payload: payload(args, kwargs)?,
            topic,
            options,
        })
    }

    /// A publication whose `args` (a JSON array) and `kwargs` (a JSON
    /// object) are JSON text, each `None` or `null` for none. The text
    /// goes out unchanged on a JSON connection (transcoded once on
    /// another), so it is checked here with the decoder the router runs:
    /// text the router would refuse fails this publication, not the
    /// session that sends it.
    pub fn from_json(
        topic: String,
        args: Option<&str>,
        kwargs: Option<&str>,
        options: Dict,
    ) -> Result<Self, Error> {
        let args = present(args, "args", b'[', "array")?;
        let kwargs = present(kwargs, "kwargs", b'{', "object")?;
        let payload = match (args, kwargs) {
            (None, None) => Payload::Empty,
            (args, kwargs) => checked(args.unwrap_or("[]"), kwargs)?,
        };
        Ok(Publication {
            topic,
            payload,
            options,
        })
    }
}

/// `text` unless it is absent or JSON `null`; an error naming `what` when
/// it is not `kind` (whose first character is `opening`).
fn present<'a>(
    text: Option<&'a str>,
    what: &str,
    opening: u8,
    kind: &str,
) -> Result<Option<&'a str>, Error> {
    let Some(text) = text.map(str::trim) else {
        return Ok(None);
    };
    match text.as_bytes().first() {
        _ if text == "null" => Ok(None),
        Some(&first) if first == opening => Ok(Some(text)),
        first => Err(Error::Arguments(format!(
            "{what} must be a JSON {kind}, not {}",
            match first {
                None => "empty text",
                Some(b'[') => "an array",
                Some(b'{') => "an object",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'-' | b'0'..=b'9') => "a number",
                Some(_) => "malformed JSON",
            }
        ))),
    }
}

/// The payload of JSON `args` and `kwargs`, checked by decoding a message
/// that carries them, as the router will: its syntax, nesting depth and
/// UTF-8. The payload shares that message's buffer.
fn checked(args: &str, kwargs: Option<&str>) -> Result<Payload, Error> {
    let kwargs_len = kwargs.map_or(0, |kwargs| kwargs.len() + 1);
    let mut message = BytesMut::with_capacity(CHECKED_HEAD.len() + args.len() + kwargs_len + 1);
    message.put_slice(CHECKED_HEAD);
    message.put_slice(args.as_bytes());
    if let Some(kwargs) = kwargs {
        message.put_u8(b',');
        message.put_slice(kwargs.as_bytes());
    }
    message.put_u8(b']');
    let kwargs_at = CHECKED_HEAD.len() + args.len() + 1;
    match codec::decode(Serializer::Json, message.freeze()) {
        // Each text must be one value: `[1],{}` as args is not a list.
        Ok(Message::Yield(Yield {
            payload: Payload::Arguments(decoded),
            ..
        })) if decoded.args.len() == args.len()
            && decoded.kwargs.as_ref().map(|k| k.len()) == kwargs.map(str::len) =>
        {
            Ok(Payload::Arguments(decoded))
        }
        Ok(_) => Err(Error::Arguments(
            "args and kwargs must be one JSON value each".to_owned(),
        )),
        Err(DecodeError::Syntax { offset, reason, .. }) => {
            Err(Error::Arguments(if offset < kwargs_at {
                format!(
                    "args is malformed JSON at byte {}: {reason}",
                    offset.saturating_sub(CHECKED_HEAD.len())
                )
            } else {
                format!(
                    "kwargs is malformed JSON at byte {}: {reason}",
                    offset - kwargs_at
                )
            }))
        }
        Err(error) => Err(Error::Arguments(format!(
            "args or kwargs cannot be sent: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ringbar_protocol::message::Arguments;

    fn json(args: Option<&str>, kwargs: Option<&str>) -> Result<Payload, String> {
        Publication::from_json("com.example.t".to_owned(), args, kwargs, Dict::new())
            .map(|publication| publication.payload)
            .map_err(|e| e.to_string())
    }

    fn arguments(args: &str, kwargs: Option<&str>) -> Payload {
        Payload::Arguments(Arguments {
            serializer: Serializer::Json,
            args: bytes::Bytes::copy_from_slice(args.as_bytes()),
            kwargs: kwargs.map(|k| bytes::Bytes::copy_from_slice(k.as_bytes())),
        })
    }

    #[test]
    fn json_text_goes_out_unchanged() {
        assert_eq!(json(None, None).unwrap(), Payload::Empty);
        assert_eq!(json(Some("null"), Some("null")).unwrap(), Payload::Empty);
        assert_eq!(
            json(Some("[1, \"a\", {\"b\": [true]}]"), None).unwrap(),
            arguments("[1, \"a\", {\"b\": [true]}]", None)
        );
        assert_eq!(
            json(None, Some("{\"k\": 1.5e300}")).unwrap(),
            arguments("[]", Some("{\"k\": 1.5e300}"))
        );
        assert_eq!(
            json(Some("[]"), Some("{}")).unwrap(),
            arguments("[]", Some("{}"))
        );
    }

    #[test]
    fn json_the_router_would_refuse_is_named() {
        let error = json(Some("{\"a\": 1}"), None).unwrap_err();
        assert!(
            error.contains("args must be a JSON array, not an object"),
            "{error}"
        );
        let error = json(None, Some("[1]")).unwrap_err();
        assert!(
            error.contains("kwargs must be a JSON object, not an array"),
            "{error}"
        );
        assert!(json(Some("\"s\""), None).unwrap_err().contains("a string"));
        assert!(json(Some("7"), None).unwrap_err().contains("a number"));
        assert!(json(Some(""), None).unwrap_err().contains("empty text"));
        let error = json(Some("[1,]"), None).unwrap_err();
        assert!(
            error.contains("args is malformed JSON at byte 3"),
            "{error}"
        );
        let error = json(Some("[1]"), Some("{\"a\" 1}")).unwrap_err();
        assert!(
            error.contains("kwargs is malformed JSON at byte 6: expected ':'"),
            "{error}"
        );
        let error = json(Some("[1] [2]"), None).unwrap_err();
        assert!(error.contains("args is malformed JSON"), "{error}");
        let error = json(Some("[1],{}"), None).unwrap_err();
        assert!(error.contains("one JSON value each"), "{error}");
        let error = json(Some("[1],[2]"), None).unwrap_err();
        assert!(error.contains("cannot be sent"), "{error}");
        let deep = "[".repeat(70) + &"]".repeat(70);
        let error = json(Some(&deep), None).unwrap_err();
        assert!(error.contains("nests deeper"), "{error}");
    }

    #[test]
    fn values_are_encoded_once() {
        let publication = Publication::new(
            "com.example.t".to_owned(),
            &[Value::from(1u64)],
            &Dict::new(),
            Dict::new(),
        )
        .unwrap();
        assert_eq!(publication.payload, arguments("[1]", None));
        assert!(
            Publication::new(
                "com.example.t".to_owned(),
                &[Value::Float(f64::NAN)],
                &Dict::new(),
                Dict::new()
            )
            .is_err()
        );
    }
}
