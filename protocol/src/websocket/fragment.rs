//! Assembly of a fragmented message, with UTF-8 checked as fragments arrive.

use bytes::{Bytes, BytesMut};

use super::error::ProtocolError;
use super::parser::DataOpCode;

/// A message whose final fragment has not arrived yet.
#[derive(Debug)]
pub(super) struct PartialMessage {
    opcode: DataOpCode,
    payload: BytesMut,
    /// Length of the prefix of `payload` known to be complete UTF-8 (Text
    /// only). The rest, at most 3 bytes, is the start of a code point whose
    /// remaining bytes are in a later fragment.
    utf8_checked: usize,
}

impl PartialMessage {
    /// Opens a message with its first, non-final fragment. The fragment is
    /// kept as it is; the copy happens when the next fragment is appended.
    pub(super) fn start(opcode: DataOpCode, first: BytesMut) -> Result<Self, ProtocolError> {
        let mut message = Self {
            opcode,
            payload: first,
            utf8_checked: 0,
        };
        message.check_utf8()?;
        Ok(message)
    }

    /// Bytes received so far.
    pub(super) fn len(&self) -> usize {
        self.payload.len()
    }

    /// Appends a continuation fragment, failing as soon as the text so far
    /// cannot be UTF-8 whatever follows.
    pub(super) fn push(&mut self, fragment: &[u8]) -> Result<(), ProtocolError> {
        self.payload.extend_from_slice(fragment);
        self.check_utf8()
    }

    /// Closes the message after its final fragment was pushed.
    pub(super) fn finish(self) -> Result<(DataOpCode, Bytes), ProtocolError> {
        if self.opcode == DataOpCode::Text && self.utf8_checked != self.payload.len() {
            // The last code point is cut off.
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok((self.opcode, self.payload.freeze()))
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
        let mut message = PartialMessage::start(DataOpCode::Text, BytesMut::from(*first))?;
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
        let message = PartialMessage::start(DataOpCode::Text, BytesMut::from(&b"ok\xc0\xaf"[..]));
        assert_eq!(message.err(), Some(ProtocolError::InvalidUtf8));
        let mut message =
            PartialMessage::start(DataOpCode::Text, BytesMut::from(&b"\xe2\x82"[..])).unwrap();
        assert_eq!(message.push(b"x"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn binary_is_not_checked() {
        let mut message =
            PartialMessage::start(DataOpCode::Binary, BytesMut::from(&b"\xff"[..])).unwrap();
        message.push(b"\xfe").unwrap();
        assert_eq!(message.finish().unwrap().1, &b"\xff\xfe"[..]);
    }
}
