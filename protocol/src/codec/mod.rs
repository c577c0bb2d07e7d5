//! The WAMP serializers `wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor` and
//! `wamp.2.ubjson`, and the batched WebSocket framing of them.
//!
//! Decoding reads a message's header fields and keeps the payload elements as
//! slices of the input [`Bytes`] (no copy, no value tree). Encoding writes
//! the header fields and splices payload bytes unchanged when they are in the
//! target serializer already, or transcodes them once otherwise.
//!
//! The message layouts live once, in `decode.rs` and `encode.rs`; each
//! serializer only implements the [`format::Format`] trait: split a list into
//! element spans, read and write scalars and value trees.

pub mod batch;
mod cbor;
mod cursor;
mod decode;
mod encode;
mod error;
mod format;
mod json;
mod msgpack;
mod ubjson;

use bytes::{Bytes, BytesMut};

pub use error::{DecodeError, EncodeError};

use crate::message::{Message, Payload};
use crate::value::Value;
use format::Format;

/// A WAMP serializer, as negotiated by WebSocket subprotocol or RawSocket id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Serializer {
    /// `wamp.2.json`.
    Json,
    /// `wamp.2.msgpack`.
    MsgPack,
    /// `wamp.2.cbor`.
    Cbor,
    /// `wamp.2.ubjson`.
    Ubjson,
}

impl Serializer {
    /// Every serializer, in ringbar's order of preference.
    pub const ALL: [Serializer; 4] = [
        Serializer::MsgPack,
        Serializer::Cbor,
        Serializer::Ubjson,
        Serializer::Json,
    ];

    /// The WebSocket subprotocol name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Serializer::Json => "wamp.2.json",
            Serializer::MsgPack => "wamp.2.msgpack",
            Serializer::Cbor => "wamp.2.cbor",
            Serializer::Ubjson => "wamp.2.ubjson",
        }
    }

    /// The serializer of a WebSocket subprotocol name.
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.subprotocol() == name)
    }

    /// The name used in Crossbar.io configs (`"json"`, `"msgpack"`, `"cbor"`,
    /// `"ubjson"`).
    pub fn name(self) -> &'static str {
        match self {
            Serializer::Json => "json",
            Serializer::MsgPack => "msgpack",
            Serializer::Cbor => "cbor",
            Serializer::Ubjson => "ubjson",
        }
    }

    /// The serializer of a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The id in a RawSocket handshake's serializer nibble.
    pub const fn rawsocket_id(self) -> u8 {
        match self {
            Serializer::Json => 1,
            Serializer::MsgPack => 2,
            Serializer::Cbor => 3,
            Serializer::Ubjson => 4,
        }
    }

    /// The serializer of a RawSocket handshake id; `None` for 0 (illegal),
    /// for ids the spec reserves, and for FlatBuffers (5), which ringbar
    /// does not speak.
    pub const fn from_rawsocket_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Serializer::Json),
            2 => Some(Serializer::MsgPack),
            3 => Some(Serializer::Cbor),
            4 => Some(Serializer::Ubjson),
            _ => None,
        }
    }

    /// Whether WebSocket messages of this serializer are text frames.
    pub fn is_text(self) -> bool {
        self == Serializer::Json
    }
}

/// Decodes one WAMP message.
///
/// `input` is one whole message (one WebSocket message or RawSocket frame).
/// The payload of the result shares `input`'s buffer.
pub fn decode(serializer: Serializer, input: Bytes) -> Result<Message, DecodeError> {
    match serializer {
        Serializer::Json => decode::message::<json::Json>(input),
        Serializer::MsgPack => decode::message::<msgpack::MsgPack>(input),
        Serializer::Cbor => decode::message::<cbor::Cbor>(input),
        Serializer::Ubjson => decode::message::<ubjson::Ubjson>(input),
    }
}

/// Encodes one WAMP message, appending it to `out`.
///
/// Fails only when a payload in another serializer holds a value this one
/// cannot carry (a non-finite float for JSON, a non-string dictionary key).
/// `out` is left as it was on failure.
pub fn encode(
    serializer: Serializer,
    message: &Message,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = match serializer {
        Serializer::Json => encode::message::<json::Json>(message, out),
        Serializer::MsgPack => encode::message::<msgpack::MsgPack>(message, out),
        Serializer::Cbor => encode::message::<cbor::Cbor>(message, out),
        Serializer::Ubjson => encode::message::<ubjson::Ubjson>(message, out),
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decodes one whole encoded value (for example a raw `Arguments` list).
pub fn decode_value(serializer: Serializer, input: &[u8]) -> Result<Value, DecodeError> {
    match serializer {
        Serializer::Json => json::Json::read_value(input),
        Serializer::MsgPack => msgpack::MsgPack::read_value(input),
        Serializer::Cbor => cbor::Cbor::read_value(input),
        Serializer::Ubjson => ubjson::Ubjson::read_value(input),
    }
}

/// Encodes one value, appending it to `out`.
pub fn encode_value(
    serializer: Serializer,
    value: &Value,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    match serializer {
        Serializer::Json => json::Json::write_value(value, out, 0),
        Serializer::MsgPack => msgpack::MsgPack::write_value(value, out, 0),
        Serializer::Cbor => cbor::Cbor::write_value(value, out, 0),
        Serializer::Ubjson => ubjson::Ubjson::write_value(value, out, 0),
    }
}

/// Re-encodes one encoded value from one serializer into another.
pub fn transcode(from: Serializer, to: Serializer, input: &[u8]) -> Result<Bytes, EncodeError> {
    if from == to {
        return Ok(Bytes::copy_from_slice(input));
    }
    let value = decode_value(from, input).map_err(EncodeError::Transcode)?;
    let mut out = BytesMut::with_capacity(input.len() + input.len() / 4 + 8);
    encode_value(to, &value, &mut out)?;
    Ok(out.freeze())
}

impl Payload {
    /// A payload of `args` (and `kwargs`, when given) encoded in `serializer`:
    /// how the router builds payloads of its own (meta API results, errors).
    pub fn from_values(
        serializer: Serializer,
        args: &[Value],
        kwargs: Option<&crate::value::Dict>,
    ) -> Result<Self, EncodeError> {
        let mut buf = BytesMut::new();
        encode_value(serializer, &Value::List(args.to_vec()), &mut buf)?;
        let args = buf.split().freeze();
        let kwargs = match kwargs {
            Some(d) => {
                encode_value(serializer, &Value::Dict(d.clone()), &mut buf)?;
                Some(buf.split().freeze())
            }
            None => None,
        };
        Ok(Payload::Arguments(crate::message::Arguments {
            serializer,
            args,
            kwargs,
        }))
    }

    /// This payload re-encoded for `serializer` (shared, not copied, when it
    /// already is in `serializer`).
    pub fn to_serializer(&self, serializer: Serializer) -> Result<Self, EncodeError> {
        match self {
            Payload::Arguments(a) if a.serializer != serializer => {
                let args = transcode(a.serializer, serializer, &a.args)?;
                let kwargs = match &a.kwargs {
                    Some(k) => Some(transcode(a.serializer, serializer, k)?),
                    None => None,
                };
                Ok(Payload::Arguments(crate::message::Arguments {
                    serializer,
                    args,
                    kwargs,
                }))
            }
            other => Ok(other.clone()),
        }
    }
}
