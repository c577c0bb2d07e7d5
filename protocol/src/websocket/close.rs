//! Close codes and the Close frame's payload (RFC 6455 §5.5.1, §7.4).

use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;

/// A status code that may appear in a Close frame on the wire.
///
/// Only codes that may appear on the wire can be built: RFC 6455 §7.4's
/// 1000-1003, 1007-1011 and 3000-4999, plus 1012-1014 (service restart, try
/// again later, bad gateway), registered with IANA after the RFC and sent by
/// real servers. Codes 1004-1006 and 1015 are reserved for local use, 0-999
/// and 2000-2999 are not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL_CLOSURE: Self = Self(1000);
    /// 1001: the endpoint goes away (server shutdown, page left).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. text only).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1007: message data inconsistent with its type (non-UTF-8 text).
    pub const INVALID_FRAME_PAYLOAD_DATA: Self = Self(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);

    /// The code, if it may be sent on the wire.
    pub const fn new(code: u16) -> Option<Self> {
        match code {
            1000..=1003 | 1007..=1014 | 3000..=4999 => Some(Self(code)),
            _ => None,
        }
    }

    /// The code as a number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

/// The body of a received Close frame: why the peer closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The peer's status code.
    pub code: CloseCode,
    /// The peer's reason, possibly empty.
    pub reason: String,
}

/// Longest reason that fits a Close frame: 125 bytes of control frame
/// payload minus the two-byte code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

impl CloseFrame {
    /// Reads a Close frame's payload: `None` when it is empty (no code).
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, ProtocolError> {
        let Some((code, reason)) = payload.split_first_chunk::<2>() else {
            return if payload.is_empty() {
                Ok(None)
            } else {
                Err(ProtocolError::InvalidCloseLength)
            };
        };
        let code = u16::from_be_bytes(*code);
        let code = CloseCode::new(code).ok_or(ProtocolError::InvalidCloseCode(code))?;
        let reason =
            simdutf8::basic::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
        Ok(Some(Self {
            code,
            reason: reason.to_owned(),
        }))
    }
}

/// Appends a Close frame payload (code, then `reason` cut to
/// [`MAX_CLOSE_REASON_BYTES`] on a character boundary) to `out`.
///
/// Frame it with [`encode_frame`](super::encode_frame) and
/// [`OpCode::Close`](super::OpCode::Close).
pub fn encode_close_payload(code: CloseCode, reason: &str, out: &mut BytesMut) {
    let reason = truncate_on_char_boundary(reason, MAX_CLOSE_REASON_BYTES);
    out.reserve(2 + reason.len());
    out.put_u16(code.as_u16());
    out.put_slice(reason.as_bytes());
}

fn truncate_on_char_boundary(s: &str, max_bytes: usize) -> &str {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes() {
        for code in 0..=u16::MAX {
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode::new(code).is_some(), valid, "code {code}");
        }
        for code in [1004, 1005, 1006, 1015, 999, 2999, 5000] {
            assert!(CloseCode::new(code).is_none(), "code {code}");
        }
    }

    #[test]
    fn parse_payloads() {
        assert_eq!(CloseFrame::parse(b""), Ok(None));
        assert_eq!(
            CloseFrame::parse(&[0x03]),
            Err(ProtocolError::InvalidCloseLength)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidCloseReason)
        );
        let frame = CloseFrame::parse(b"\x03\xe9bye").unwrap().unwrap();
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert_eq!(frame.reason, "bye");
    }

    #[test]
    fn encode_truncates_on_char_boundary() {
        // 61 two-byte characters plus one more: 124 bytes, cut to 122.
        let reason = "é".repeat(62);
        let mut out = BytesMut::new();
        encode_close_payload(CloseCode::NORMAL_CLOSURE, &reason, &mut out);
        assert_eq!(out.len(), 2 + 122);
        let parsed = CloseFrame::parse(&out).unwrap().unwrap();
        assert_eq!(parsed.reason, "é".repeat(61));

        let mut out = BytesMut::new();
        encode_close_payload(CloseCode::MESSAGE_TOO_BIG, &"a".repeat(200), &mut out);
        assert_eq!(out.len(), 125);
        assert_eq!(&out[..2], &[0x03, 0xf1]);
    }
}
