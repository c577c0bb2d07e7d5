//! What a peer can do wrong after the handshake, and the close code for it.

use super::close::CloseCode;

/// A framing or message violation by the peer.
///
/// Each variant names the rule that was broken and maps to the close code the
/// connection must be closed with ([`ProtocolError::close_code`]); its
/// `Display` text is the one-line reason for the log and the Close frame.
/// After an error the parser's state is unspecified: close the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// RSV1, RSV2 or RSV3 is set where no negotiated extension allows it
    /// (permessage-deflate allows RSV1 on the first frame of a data
    /// message only).
    #[error("reserved bits set without a negotiated extension")]
    ReservedBitsSet,
    /// A compressed message does not inflate (permessage-deflate).
    #[error("compressed message is not valid deflate data")]
    InvalidCompressedData,
    /// The opcode is one of the reserved values.
    #[error("unknown opcode {0:#x}")]
    UnknownOpCode(u8),
    /// A control frame (Close, Ping, Pong) without FIN.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame whose payload is longer than 125 bytes.
    #[error("control frame payload of {0} bytes exceeds 125")]
    ControlFrameTooLong(u64),
    /// A 64-bit payload length with its most significant bit set.
    #[error("64-bit payload length has its most significant bit set")]
    InvalidPayloadLength,
    /// A client sent an unmasked frame to a server.
    #[error("frame from client is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame to a client.
    #[error("frame from server is masked")]
    MaskedFrame,
    /// A continuation frame arrived while no fragmented message was open.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new Text or Binary frame arrived while a fragmented message was
    /// still open.
    #[error("new data frame while a fragmented message is open")]
    ExpectedContinuation,
    /// A Close frame with a one-byte payload (a code takes two).
    #[error("close frame payload of 1 byte")]
    InvalidCloseLength,
    /// A Close frame with a code that may not be sent on the wire.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// The reason in a Close frame is not UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A Text message is not UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A frame announces more payload than `max_frame_bytes`.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced payload length.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message grows beyond `max_message_bytes`, or a compressed one
    /// inflates beyond it (or beyond `max_frame_bytes` from one frame).
    #[error("message of at least {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Message length including the announced frame.
        len: u64,
        /// The configured limit.
        max: usize,
    },
}

impl ProtocolError {
    /// The close code to send when closing the connection for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                CloseCode::INVALID_FRAME_PAYLOAD_DATA
            }
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::ReservedBitsSet
            | Self::UnknownOpCode(_)
            | Self::FragmentedControlFrame
            | Self::ControlFrameTooLong(_)
            | Self::InvalidPayloadLength
            | Self::UnmaskedFrame
            | Self::MaskedFrame
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::InvalidCloseLength
            | Self::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert_eq!(ProtocolError::InvalidUtf8.close_code().as_u16(), 1007);
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code().as_u16(),
            1007
        );
        let too_big = ProtocolError::MessageTooLarge { len: 2, max: 1 };
        assert_eq!(too_big.close_code().as_u16(), 1009);
        assert_eq!(ProtocolError::UnmaskedFrame.close_code().as_u16(), 1002);
        assert_eq!(
            ProtocolError::InvalidCloseCode(1005).close_code().as_u16(),
            1002
        );
    }
}
