//! The RawSocket opening handshake: 4 octets from the client, 4 back.
//!
//! Both messages are `0x7F, <second octet>, 0, 0`. In a request and an
//! accepting reply the second octet is `LLLL SSSS` (maximum length exponent,
//! serializer id); in an error reply it is `EEEE 0000` (error code).

use thiserror::Error;

use super::frame::{FrameEncoder, FrameParser};
use super::length::MaxMessageLength;
use crate::codec::Serializer;

/// The first octet of every handshake message. No HTTP request can start
/// with it, which lets RawSocket share a port with WebSocket.
pub const MAGIC: u8 = 0x7F;

/// Octets in a handshake request and in a handshake reply.
pub const HANDSHAKE_LEN: usize = 4;

/// The client's handshake request: which serializer it wants, and the
/// largest message it is willing to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HandshakeRequest {
    /// The serializer both sides will use if the router accepts.
    pub serializer: Serializer,
    /// The largest message the router may send to this client.
    pub max_message_length: MaxMessageLength,
}

/// The router's handshake reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeReply {
    /// The router speaks the requested serializer.
    Accepted {
        /// Echo of the requested serializer.
        serializer: Serializer,
        /// The largest message the client may send to the router.
        max_message_length: MaxMessageLength,
    },
    /// The router refuses the connection and closes it after this reply.
    Rejected(HandshakeErrorCode),
}

/// The error codes of a rejecting reply (code 0 is illegal and has no
/// variant, so it cannot be sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeErrorCode {
    /// 1: the router does not speak the requested serializer.
    SerializerUnsupported,
    /// 2: the client's maximum message length is not acceptable.
    MaxMessageLengthUnacceptable,
    /// 3: the request set reserved bits (an unsupported feature).
    ReservedBitsUsed,
    /// 4: the router is at its connection limit.
    MaxConnectionCountReached,
}

/// Why a client's handshake request is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The first octet is not [`MAGIC`]: not a RawSocket client. Close without
    /// a reply.
    #[error("not a RawSocket handshake: first octet {octet:#04x}, expected 0x7f")]
    BadMagic {
        /// The first octet received.
        octet: u8,
    },
    /// Serializer id 0, which the spec makes illegal.
    #[error("illegal serializer id 0")]
    IllegalSerializer,
    /// A serializer id that ringbar does not speak (4..=15).
    #[error("unknown serializer id {id}")]
    UnknownSerializer {
        /// The requested id.
        id: u8,
    },
    /// The reserved third and fourth octets are not zero.
    #[error("reserved handshake octets are not zero: {octets:02x?}")]
    ReservedBitsUsed {
        /// The third and fourth octets received.
        octets: [u8; 2],
    },
}

/// Why a router's handshake reply is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The first octet is not [`MAGIC`]: the server is not a RawSocket router.
    #[error("not a RawSocket handshake reply: first octet {octet:#04x}, expected 0x7f")]
    BadMagic {
        /// The first octet received.
        octet: u8,
    },
    /// An error reply with code 0, which the spec forbids.
    #[error("illegal handshake error code 0")]
    IllegalErrorCode,
    /// An error reply with a code the spec reserves (5..=15).
    #[error("unknown handshake error code {code}")]
    UnknownErrorCode {
        /// The code received.
        code: u8,
    },
    /// An accepting reply naming a serializer ringbar does not speak.
    #[error("unknown serializer id {id} in handshake reply")]
    UnknownSerializer {
        /// The id received.
        id: u8,
    },
    /// The reserved third and fourth octets are not zero.
    #[error("reserved handshake octets are not zero: {octets:02x?}")]
    ReservedBitsUsed {
        /// The third and fourth octets received.
        octets: [u8; 2],
    },
}

/// Why a client's handshake did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ClientHandshakeError {
    /// The reply is malformed.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The router refused the connection.
    #[error("router rejected the RawSocket handshake: {0:?}")]
    Rejected(HandshakeErrorCode),
    /// The router accepted with another serializer than the one requested.
    #[error("router replied serializer {replied:?}, requested {requested:?}")]
    SerializerMismatch {
        /// What the client asked for.
        requested: Serializer,
        /// What the router answered.
        replied: Serializer,
    },
}

/// The outcome of a completed handshake, from either side: what to speak and
/// how long a message may be in each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Negotiated {
    /// The serializer both sides use.
    pub serializer: Serializer,
    /// The peer's announced maximum: the largest message we may send.
    pub send_max: MaxMessageLength,
    /// Our announced maximum: the largest message we accept.
    pub receive_max: MaxMessageLength,
}

impl HandshakeRequest {
    /// Decodes a client's request; the error says which reply to send.
    pub fn parse(octets: [u8; HANDSHAKE_LEN]) -> Result<Self, RequestError> {
        let [magic, second, r0, r1] = octets;
        if magic != MAGIC {
            return Err(RequestError::BadMagic { octet: magic });
        }
        if r0 != 0 || r1 != 0 {
            return Err(RequestError::ReservedBitsUsed { octets: [r0, r1] });
        }
        let id = second & 0x0F;
        let serializer = match Serializer::from_rawsocket_id(id) {
            Some(serializer) => serializer,
            None if id == 0 => return Err(RequestError::IllegalSerializer),
            None => return Err(RequestError::UnknownSerializer { id }),
        };
        Ok(Self {
            serializer,
            max_message_length: MaxMessageLength::from_high_nibble(second),
        })
    }

    /// The 4 octets the client sends.
    pub const fn to_bytes(self) -> [u8; HANDSHAKE_LEN] {
        [
            MAGIC,
            self.max_message_length.exponent() << 4 | self.serializer.rawsocket_id(),
            0,
            0,
        ]
    }

    /// Client side: checks the router's reply to this request and yields the
    /// connection's parameters.
    pub fn complete(self, reply: [u8; HANDSHAKE_LEN]) -> Result<Negotiated, ClientHandshakeError> {
        match HandshakeReply::parse(reply)? {
            HandshakeReply::Rejected(code) => Err(ClientHandshakeError::Rejected(code)),
            HandshakeReply::Accepted {
                serializer,
                max_message_length,
            } if serializer == self.serializer => Ok(Negotiated {
                serializer,
                send_max: max_message_length,
                receive_max: self.max_message_length,
            }),
            HandshakeReply::Accepted { serializer, .. } => {
                Err(ClientHandshakeError::SerializerMismatch {
                    requested: self.serializer,
                    replied: serializer,
                })
            }
        }
    }
}

impl HandshakeReply {
    /// Decodes a router's reply.
    pub fn parse(octets: [u8; HANDSHAKE_LEN]) -> Result<Self, ReplyError> {
        let [magic, second, r0, r1] = octets;
        if magic != MAGIC {
            return Err(ReplyError::BadMagic { octet: magic });
        }
        if r0 != 0 || r1 != 0 {
            return Err(ReplyError::ReservedBitsUsed { octets: [r0, r1] });
        }
        let id = second & 0x0F;
        if id == 0 {
            let code = second >> 4;
            return match HandshakeErrorCode::from_code(code) {
                Some(code) => Ok(Self::Rejected(code)),
                None if code == 0 => Err(ReplyError::IllegalErrorCode),
                None => Err(ReplyError::UnknownErrorCode { code }),
            };
        }
        match Serializer::from_rawsocket_id(id) {
            Some(serializer) => Ok(Self::Accepted {
                serializer,
                max_message_length: MaxMessageLength::from_high_nibble(second),
            }),
            None => Err(ReplyError::UnknownSerializer { id }),
        }
    }

    /// The 4 octets the router sends.
    pub const fn to_bytes(self) -> [u8; HANDSHAKE_LEN] {
        let second = match self {
            Self::Accepted {
                serializer,
                max_message_length,
            } => max_message_length.exponent() << 4 | serializer.rawsocket_id(),
            Self::Rejected(code) => code.code() << 4,
        };
        [MAGIC, second, 0, 0]
    }
}

impl HandshakeErrorCode {
    /// The 4-bit code sent in an error reply.
    pub const fn code(self) -> u8 {
        match self {
            Self::SerializerUnsupported => 1,
            Self::MaxMessageLengthUnacceptable => 2,
            Self::ReservedBitsUsed => 3,
            Self::MaxConnectionCountReached => 4,
        }
    }

    /// The error for a 4-bit code; `None` for 0 (illegal) and reserved codes.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::SerializerUnsupported),
            2 => Some(Self::MaxMessageLengthUnacceptable),
            3 => Some(Self::ReservedBitsUsed),
            4 => Some(Self::MaxConnectionCountReached),
            _ => None,
        }
    }

    /// The 4 octets of the error reply, e.g. for a connection refused at the
    /// connection limit before its request is even read.
    pub const fn reply(self) -> [u8; HANDSHAKE_LEN] {
        HandshakeReply::Rejected(self).to_bytes()
    }
}

impl RequestError {
    /// The error reply to send before closing, `None` when the connection is
    /// closed without a reply (bad magic: the peer is not RawSocket).
    pub const fn reply_code(self) -> Option<HandshakeErrorCode> {
        match self {
            Self::BadMagic { .. } => None,
            Self::IllegalSerializer | Self::UnknownSerializer { .. } => {
                Some(HandshakeErrorCode::SerializerUnsupported)
            }
            Self::ReservedBitsUsed { .. } => Some(HandshakeErrorCode::ReservedBitsUsed),
        }
    }
}

impl Negotiated {
    /// A parser for incoming frames, held to our announced maximum.
    pub const fn frame_parser(&self) -> FrameParser {
        FrameParser::new(self.receive_max)
    }

    /// An encoder for outgoing frames, held to the peer's announced maximum.
    pub const fn frame_encoder(&self) -> FrameEncoder {
        FrameEncoder::new(self.send_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(exponent: u8) -> MaxMessageLength {
        MaxMessageLength::from_exponent(exponent).unwrap()
    }

    #[test]
    fn request_octets_follow_the_spec() {
        let request = HandshakeRequest {
            serializer: Serializer::MsgPack,
            max_message_length: length(15),
        };
        assert_eq!(request.to_bytes(), [0x7F, 0xF2, 0, 0]);
        assert_eq!(HandshakeRequest::parse([0x7F, 0xF2, 0, 0]), Ok(request));
    }

    #[test]
    fn request_errors_name_their_reply() {
        let bad_magic = HandshakeRequest::parse([b'G', 0x11, 0, 0]).unwrap_err();
        assert_eq!(bad_magic, RequestError::BadMagic { octet: b'G' });
        assert_eq!(bad_magic.reply_code(), None);

        let illegal = HandshakeRequest::parse([0x7F, 0x10, 0, 0]).unwrap_err();
        assert_eq!(illegal, RequestError::IllegalSerializer);
        assert_eq!(
            illegal.reply_code(),
            Some(HandshakeErrorCode::SerializerUnsupported)
        );

        let flatbuffers = HandshakeRequest::parse([0x7F, 0x15, 0, 0]).unwrap_err();
        assert_eq!(flatbuffers, RequestError::UnknownSerializer { id: 5 });

        let reserved = HandshakeRequest::parse([0x7F, 0x11, 0, 1]).unwrap_err();
        assert_eq!(reserved, RequestError::ReservedBitsUsed { octets: [0, 1] });
        assert_eq!(
            reserved.reply_code(),
            Some(HandshakeErrorCode::ReservedBitsUsed)
        );
    }

    #[test]
    fn error_reply_octets() {
        assert_eq!(
            HandshakeErrorCode::SerializerUnsupported.reply(),
            [0x7F, 0x10, 0, 0]
        );
        assert_eq!(
            HandshakeErrorCode::MaxConnectionCountReached.reply(),
            [0x7F, 0x40, 0, 0]
        );
        assert_eq!(
            HandshakeReply::parse([0x7F, 0x00, 0, 0]),
            Err(ReplyError::IllegalErrorCode)
        );
        assert_eq!(
            HandshakeReply::parse([0x7F, 0x50, 0, 0]),
            Err(ReplyError::UnknownErrorCode { code: 5 })
        );
    }
}
