//! Decode and encode errors: every way a message can be malformed has its
//! own variant, and the text names the message and field.

use crate::message::MessageType;

/// Why bytes are not a WAMP message. The router answers any of these with
/// `wamp.error.protocol_violation` (ABORT before the session is open, else
/// a GOODBYE/close).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid in the serializer at all.
    #[error("malformed {serializer} at byte {offset}: {reason}")]
    Syntax {
        /// The serializer's name.
        serializer: &'static str,
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Lists or dictionaries nest deeper than [`crate::value::MAX_DEPTH`].
    #[error("value nests deeper than {} levels", crate::value::MAX_DEPTH)]
    TooDeep,
    /// A message is a list; this is something else.
    #[error("a WAMP message must be a list")]
    NotAList,
    /// The list is empty or does not start with an integer type code.
    #[error("a WAMP message must start with its integer type code")]
    NoType,
    /// The type code is not one of the spec's.
    #[error("unknown WAMP message type {0}")]
    UnknownType(u64),
    /// The message has the wrong number of elements.
    #[error("{name} has {len} elements, expected {expected}", name = .message.name())]
    Length {
        /// The message type.
        message: MessageType,
        /// How many elements it had.
        len: usize,
        /// What the spec allows.
        expected: &'static str,
    },
    /// A field has the wrong type.
    #[error("{}.{field} must be {expected}", .message.name())]
    Field {
        /// The message type.
        message: MessageType,
        /// The field's name in the spec.
        field: &'static str,
        /// The type the spec requires.
        expected: &'static str,
    },
    /// An id is above 2^53.
    #[error("{}.{field} = {value} is not an id (0 ..= 2^53)", .message.name())]
    IdRange {
        /// The message type.
        message: MessageType,
        /// The field's name in the spec.
        field: &'static str,
        /// The value received.
        value: u64,
    },
    /// A value is well-formed in the serializer but not a WAMP value (a
    /// dictionary key that is no string, a string that is no UTF-8, binary
    /// in JSON that is not base64).
    #[error("{0}")]
    Value(&'static str),
}

/// Why a message cannot be encoded in the requested serializer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// JSON has no NaN or infinity.
    #[error("a non-finite float cannot be encoded as JSON")]
    NonFiniteFloat,
    /// A string starting with NUL: JSON reads that as binary (`"\u0000" +
    /// base64`), so it cannot carry such a string.
    #[error("a string starting with NUL cannot be encoded as JSON (it would read as binary)")]
    NulString,
    /// Values nest deeper than [`crate::value::MAX_DEPTH`].
    #[error("value nests deeper than {} levels", crate::value::MAX_DEPTH)]
    TooDeep,
    /// A payload could not be read in its own serializer.
    #[error("payload cannot be transcoded: {0}")]
    Transcode(DecodeError),
}
