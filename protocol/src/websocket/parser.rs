//! The incremental frame parser: read buffer in, whole messages out.

use bytes::{Buf, Bytes, BytesMut};

use super::close::CloseFrame;
use super::config::WebSocketConfig;
use super::deflate::Decompressor;
use super::error::ProtocolError;
use super::fragment::PartialMessage;
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;

/// Which end of the connection this parser sits at; it decides which frames
/// must be masked (RFC 6455 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Accepts connections: every incoming frame must be masked.
    Server,
    /// Opens connections: no incoming frame may be masked.
    Client,
}

/// The opcode of a data message: how to read its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataOpCode {
    /// UTF-8 text, already validated.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl From<DataOpCode> for OpCode {
    fn from(opcode: DataOpCode) -> Self {
        match opcode {
            DataOpCode::Text => Self::Text,
            DataOpCode::Binary => Self::Binary,
        }
    }
}

/// What the peer sent: one complete message or one control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A complete data message, its fragments joined.
    Message {
        /// Text or Binary.
        opcode: DataOpCode,
        /// The unmasked payload. For a single-frame message it points into
        /// the read buffer (no copy).
        payload: Bytes,
    },
    /// A Ping; answer with a Pong carrying the same payload.
    Ping(Bytes),
    /// A Pong.
    Pong(Bytes),
    /// A Close frame, with the peer's code and reason when it sent one.
    /// Answer with a Close frame and close the connection.
    Close(Option<CloseFrame>),
}

/// Turns the bytes read from a connection into [`Incoming`] events.
///
/// Frames are taken whole off the front of the read buffer (`split_to`, no
/// copy) and unmasked in place; only a fragmented message is copied, once,
/// to join its fragments. The parser never reserves memory in the read
/// buffer: a peer that announces a large frame costs nothing until it sends
/// the bytes, which the caller reads as they come.
///
/// With permessage-deflate ([`FrameParser::with_deflate`]) a message whose
/// first frame has RSV1 set is inflated as its frames arrive; the limits then
/// bound the inflated bytes too: a frame inflates to at most
/// `max_frame_bytes`, a message to at most `max_message_bytes`.
///
/// After a Close frame the peer may send nothing more (RFC 6455 §5.5.1), so
/// any later input is discarded and `parse` returns `Ok(None)`: the closing
/// handshake already carries the status.
#[derive(Debug)]
pub struct FrameParser {
    role: Role,
    config: WebSocketConfig,
    partial: Option<PartialMessage>,
    decompressor: Option<Decompressor>,
    closed: bool,
}

impl FrameParser {
    /// A parser for the `role` end of a connection, within the limits of
    /// `config`.
    pub fn new(role: Role, config: WebSocketConfig) -> Self {
        Self {
            role,
            config,
            partial: None,
            decompressor: None,
            closed: false,
        }
    }

    /// The same parser with permessage-deflate negotiated: RSV1 marks a
    /// compressed message, which `decompressor` inflates.
    pub fn with_deflate(mut self, decompressor: Decompressor) -> Self {
        self.decompressor = Some(decompressor);
        self
    }

    /// Whether a Close frame has been received.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes the next event off the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete event yet: read more
    /// bytes into `buf` and call again. Call until `Ok(None)` after every
    /// read, as one read may hold many frames. On `Err`, close the
    /// connection with [`ProtocolError::close_code`].
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            if self.closed {
                buf.clear();
                return Ok(None);
            }
            let rsv1_allowed = self.decompressor.is_some();
            let Some((header, compressed, header_len)) =
                FrameHeader::parse_rsv1(buf, rsv1_allowed)?
            else {
                return Ok(None);
            };
            // RSV1 marks the first frame of a compressed data message only
            // (RFC 7692 §6.1).
            if compressed && !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
                return Err(ProtocolError::ReservedBitsSet);
            }
            let payload_len = self.check(&header)?;
            let frame_len = header_len.saturating_add(payload_len);
            if buf.len() < frame_len {
                return Ok(None);
            }
            let mut payload = buf.split_to(frame_len);
            payload.advance(header_len);
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            if let Some(incoming) = self.on_frame(header, compressed, payload)? {
                return Ok(Some(incoming));
            }
        }
    }

    /// Checks a header against the role, the fragmentation state and the
    /// limits, before any of its payload is buffered; returns the payload
    /// length.
    fn check(&self, header: &FrameHeader) -> Result<usize, ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let buffered = match (header.opcode, &self.partial) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(partial)) => partial.len(),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            _ => 0,
        };
        let max_frame = self.config.max_frame_bytes;
        let payload_len = usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= max_frame)
            .ok_or(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: max_frame,
            })?;
        let message_len = buffered.saturating_add(payload_len);
        if !header.opcode.is_control() && message_len > self.config.max_message_bytes {
            return Err(ProtocolError::MessageTooLarge {
                len: message_len as u64,
                max: self.config.max_message_bytes,
            });
        }
        Ok(payload_len)
    }

    /// Handles the first frame of a data message.
    fn on_data(
        &mut self,
        opcode: DataOpCode,
        fin: bool,
        compressed: bool,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, ProtocolError> {
        if compressed {
            let mut partial = PartialMessage::start_compressed(opcode);
            self.inflate(&mut partial, &payload, fin)?;
            return self.continue_or_finish(partial, fin);
        }
        if fin {
            return whole_message(opcode, payload).map(Some);
        }
        self.partial = Some(PartialMessage::start(opcode, &payload)?);
        Ok(None)
    }

    /// Inflates a frame of a compressed message within the limits.
    fn inflate(
        &mut self,
        partial: &mut PartialMessage,
        frame: &[u8],
        fin: bool,
    ) -> Result<(), ProtocolError> {
        let Some(decompressor) = self.decompressor.as_mut() else {
            return Err(ProtocolError::ReservedBitsSet);
        };
        let max_len = self
            .config
            .max_message_bytes
            .min(partial.len().saturating_add(self.config.max_frame_bytes));
        partial.inflate(decompressor, frame, fin, max_len)
    }

    /// Keeps a message open until its final frame, then hands it out.
    fn continue_or_finish(
        &mut self,
        partial: PartialMessage,
        fin: bool,
    ) -> Result<Option<Incoming>, ProtocolError> {
        if !fin {
            self.partial = Some(partial);
            return Ok(None);
        }
        let (opcode, payload) = partial.finish()?;
        Ok(Some(Incoming::Message { opcode, payload }))
    }

    /// Handles one whole, unmasked frame; `None` when it only advanced a
    /// fragmented message.
    fn on_frame(
        &mut self,
        header: FrameHeader,
        compressed: bool,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, ProtocolError> {
        match header.opcode {
            OpCode::Text => self.on_data(DataOpCode::Text, header.fin, compressed, payload),
            OpCode::Binary => self.on_data(DataOpCode::Binary, header.fin, compressed, payload),
            OpCode::Continuation => {
                let Some(mut partial) = self.partial.take() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if partial.is_compressed() {
                    self.inflate(&mut partial, &payload, header.fin)?;
                } else {
                    partial.push(&payload)?;
                }
                self.continue_or_finish(partial, header.fin)
            }
            OpCode::Ping => Ok(Some(Incoming::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Incoming::Pong(payload.freeze()))),
            OpCode::Close => {
                let close = CloseFrame::parse(&payload)?;
                self.closed = true;
                Ok(Some(Incoming::Close(close)))
            }
        }
    }
}

/// A single-frame message: the payload is handed out as it is.
fn whole_message(opcode: DataOpCode, payload: BytesMut) -> Result<Incoming, ProtocolError> {
    if opcode == DataOpCode::Text && simdutf8::basic::from_utf8(&payload).is_err() {
        return Err(ProtocolError::InvalidUtf8);
    }
    Ok(Incoming::Message {
        opcode,
        payload: payload.freeze(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::frame::encode_frame;

    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8], out: &mut BytesMut) {
        encode_frame(fin, opcode, Some([0xa1, 0xb2, 0xc3, 0xd4]), payload, out);
    }

    #[test]
    fn single_frame_is_zero_copy() {
        let mut buf = BytesMut::with_capacity(64);
        client_frame(true, OpCode::Binary, b"payload", &mut buf);
        let start = buf.as_ptr() as usize;
        let end = start + buf.capacity();
        let mut parser = FrameParser::new(Role::Server, WebSocketConfig::default());
        let Some(Incoming::Message { payload, .. }) = parser.parse(&mut buf).unwrap() else {
            panic!("no message");
        };
        assert_eq!(payload, &b"payload"[..]);
        let at = payload.as_ptr() as usize;
        assert!(start <= at && at + payload.len() <= end);
    }

    #[test]
    fn close_ends_parsing() {
        let mut buf = BytesMut::new();
        client_frame(true, OpCode::Close, b"\x03\xe8", &mut buf);
        client_frame(true, OpCode::Text, b"late", &mut buf);
        let mut parser = FrameParser::new(Role::Server, WebSocketConfig::default());
        assert!(matches!(
            parser.parse(&mut buf),
            Ok(Some(Incoming::Close(Some(_))))
        ));
        assert!(parser.is_closed());
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
}
