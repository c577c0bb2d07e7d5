//! The router's side of the handshake: which requests it accepts, and what
//! to send back.

use super::handshake::{
    HANDSHAKE_LEN, HandshakeErrorCode, HandshakeReply, HandshakeRequest, Negotiated,
};
use super::length::MaxMessageLength;
use super::serializer::SerializerSet;

/// What the router accepts: its serializers and its length limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerPolicy {
    /// Serializers the router speaks; any other request gets
    /// [`HandshakeErrorCode::SerializerUnsupported`].
    pub serializers: SerializerSet,
    /// The router's announced maximum: the largest message it accepts.
    pub max_message_length: MaxMessageLength,
    /// The smallest maximum a client may announce; a client that cannot take
    /// messages this long gets [`HandshakeErrorCode::MaxMessageLengthUnacceptable`].
    /// [`MaxMessageLength::MIN`] accepts every client.
    pub min_client_max_message_length: MaxMessageLength,
}

/// What the router does with a client's 4 handshake octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerHandshake {
    /// Send `reply`, then exchange frames as `negotiated` says.
    Accepted {
        /// Serializer and limits for the connection.
        negotiated: Negotiated,
        /// The 4 octets to send.
        reply: [u8; HANDSHAKE_LEN],
    },
    /// Send `reply`, then close the connection.
    Rejected {
        /// Why, for the one log line.
        code: HandshakeErrorCode,
        /// The 4 octets to send.
        reply: [u8; HANDSHAKE_LEN],
    },
    /// Close without a reply: the peer does not speak RawSocket.
    NotRawSocket {
        /// The first octet received, for the log line.
        octet: u8,
    },
}

impl ServerPolicy {
    /// A policy accepting `serializers`, announcing `max_message_length`, and
    /// accepting any client maximum.
    pub const fn new(serializers: SerializerSet, max_message_length: MaxMessageLength) -> Self {
        Self {
            serializers,
            max_message_length,
            min_client_max_message_length: MaxMessageLength::MIN,
        }
    }

    /// The router's reply to a well-formed request.
    pub const fn reply_to(&self, request: HandshakeRequest) -> HandshakeReply {
        if !self.serializers.contains(request.serializer) {
            return HandshakeReply::Rejected(HandshakeErrorCode::SerializerUnsupported);
        }
        if request.max_message_length.exponent() < self.min_client_max_message_length.exponent() {
            return HandshakeReply::Rejected(HandshakeErrorCode::MaxMessageLengthUnacceptable);
        }
        HandshakeReply::Accepted {
            serializer: request.serializer,
            max_message_length: self.max_message_length,
        }
    }

    /// The whole router side of the handshake: decode the client's octets,
    /// apply the policy, and say what to send and whether to go on.
    pub fn accept(&self, octets: [u8; HANDSHAKE_LEN]) -> ServerHandshake {
        let request = match HandshakeRequest::parse(octets) {
            Ok(request) => request,
            Err(error) => {
                return match error.reply_code() {
                    Some(code) => ServerHandshake::Rejected {
                        code,
                        reply: code.reply(),
                    },
                    None => ServerHandshake::NotRawSocket { octet: octets[0] },
                };
            }
        };
        match self.reply_to(request) {
            reply @ HandshakeReply::Accepted { .. } => ServerHandshake::Accepted {
                negotiated: Negotiated {
                    serializer: request.serializer,
                    send_max: request.max_message_length,
                    receive_max: self.max_message_length,
                },
                reply: reply.to_bytes(),
            },
            HandshakeReply::Rejected(code) => ServerHandshake::Rejected {
                code,
                reply: code.reply(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Serializer;

    #[test]
    fn json_only_router() {
        let policy = ServerPolicy::new(
            SerializerSet::EMPTY.with(Serializer::Json),
            MaxMessageLength::MIN,
        );
        let json = HandshakeRequest {
            serializer: Serializer::Json,
            max_message_length: MaxMessageLength::MAX,
        };
        assert_eq!(
            policy.reply_to(json),
            HandshakeReply::Accepted {
                serializer: Serializer::Json,
                max_message_length: MaxMessageLength::MIN,
            }
        );
        let cbor_only = ServerPolicy::new(
            SerializerSet::EMPTY.with(Serializer::Cbor),
            MaxMessageLength::MIN,
        );
        assert_eq!(
            cbor_only.reply_to(json),
            HandshakeReply::Rejected(HandshakeErrorCode::SerializerUnsupported)
        );
        assert_eq!(
            cbor_only.accept(json.to_bytes()),
            ServerHandshake::Rejected {
                code: HandshakeErrorCode::SerializerUnsupported,
                reply: [0x7F, 0x10, 0, 0],
            }
        );
    }
}
