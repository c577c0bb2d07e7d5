//! Assembly of a fragmented or compressed message, with UTF-8 checked as
//! fragments arrive.

use bytes::Bytes;

use super::deflate::Decompressor;
use super::error::ProtocolError;
use super::parser::DataOpCode;

/// A message whose final fragment has not arrived yet, or a compressed
/// message being inflated.
#[derive(Debug)]
pub(super) struct PartialMessage {
    opcode: DataOpCode,
    /// Inflated when `compressed`.
    payload: Vec<u8>,
    /// The first frame had RSV1 set (permessage-deflate).
    compressed: bool,
    /// Length of the prefix of `payload` known to be complete UTF-8 (Text
    /// only). The rest, at most 3 bytes, is the start of a code point whose
    /// remaining bytes are in a later fragment.
    utf8_checked: usize,
}

impl PartialMessage {
    /// Opens a message with its first, non-final fragment.
    pub(super) fn start(opcode: DataOpCode, first: &[u8]) -> Result<Self, ProtocolError> {
        let mut message = Self::empty(opcode, false);
        message.push(first)?;
        Ok(message)
    }

    /// Opens a compressed message, before its first frame is inflated.
    pub(super) fn start_compressed(opcode: DataOpCode) -> Self {
        Self::empty(opcode, true)
    }

    fn empty(opcode: DataOpCode, compressed: bool) -> Self {
        Self {
            opcode,
            payload: Vec::new(),
            compressed,
            utf8_checked: 0,
        }
    }

    /// Whether the message is compressed.
    pub(super) fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Bytes received so far (inflated when compressed).
    pub(super) fn len(&self) -> usize {
        self.payload.len()
    }

    /// Appends a continuation fragment, failing as soon as the text so far
    /// cannot be UTF-8 whatever follows.
    pub(super) fn push(&mut self, fragment: &[u8]) -> Result<(), ProtocolError> {
        self.payload.extend_from_slice(fragment);
        self.check_utf8()
    }

    /// Inflates a frame of a compressed message onto the payload, which may
    /// grow to `max_len` bytes.
    pub(super) fn inflate(
        &mut self,
        decompressor: &mut Decompressor,
        frame: &[u8],
        fin: bool,
        max_len: usize,
    ) -> Result<(), ProtocolError> {
        decompressor.inflate(frame, fin, &mut self.payload, max_len)?;
        self.check_utf8()
    }

    /// Closes the message after its final fragment was pushed.
    pub(super) fn finish(self) -> Result<(DataOpCode, Bytes), ProtocolError> {
        if self.opcode == DataOpCode::Text && self.utf8_checked != self.payload.len() {
            // The last code point is cut off.
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok((self.opcode, Bytes::from(self.payload)))
    }

    fn check_utf8(&mut self) -> Result<(), ProtocolError> {
        if self.opcode != DataOpCode::Text {
            return Ok(());
        }
        let unchecked = self.payload.get(self.utf8_checked..).unwrap_or_default();
        match simdutf8::compat::from_utf8(unchecked) {
            Ok(_) => self.utf8_checked = self.payload.len(),
            // An incomplete code point at the end may still be completed.
            Err(error) if error.error_len().is_none() => self.utf8_checked += error.valid_up_to(),
            Err(_) => return Err(ProtocolError::InvalidUtf8),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: &[&[u8]]) -> Result<Bytes, ProtocolError> {
        let (first, rest) = parts.split_first().unwrap();
        let mut message = PartialMessage::start(DataOpCode::Text, first)?;
        for part in rest {
            message.push(part)?;
        }
        message.finish().map(|(_, payload)| payload)
    }

    #[test]
    fn code_point_split_everywhere() {
        let s = "a€𝄞b".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                assert_eq!(text(&[&s[..i], &s[i..j], &s[j..]]).unwrap(), s);
            }
        }
    }

    #[test]
    fn truncated_last_code_point_fails() {
        assert_eq!(text(&[b"ok", b"\xf0\x9d"]), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn invalid_sequence_fails_at_once() {
        let message = PartialMessage::start(DataOpCode::Text, b"ok\xc0\xaf");
        assert_eq!(message.err(), Some(ProtocolError::InvalidUtf8));
        let mut message = PartialMessage::start(DataOpCode::Text, b"\xe2\x82").unwrap();
        assert_eq!(message.push(b"x"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn binary_is_not_checked() {
        let mut message = PartialMessage::start(DataOpCode::Binary, b"\xff").unwrap();
        message.push(b"\xfe").unwrap();
        assert_eq!(message.finish().unwrap().1, &b"\xff\xfe"[..]);
    }
}
