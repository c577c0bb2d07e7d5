//! The stamp a publisher (or caller) writes into each payload and the
//! receiver finds again without decoding the message: who sent it, its
//! sequence number and when it was sent, on one clock shared by every
//! thread of the process.
//!
//! The stamp is the start of the payload's one string argument:
//! `~LT~` + 4 hex digits of source + 16 of sequence + 16 of send time (ns),
//! padded with `.` to the payload size. A string carries the same bytes in
//! JSON, MessagePack and CBOR, and fixed-width hex can be written over a
//! pre-encoded message in place.

use std::sync::OnceLock;
use std::time::Instant;

/// The bytes that open every stamp.
const MARKER: &[u8; 4] = b"~LT~";
/// Length of a stamp: the smallest payload string.
pub(crate) const STAMP_BYTES: usize = MARKER.len() + 4 + 16 + 16;

/// Who sent a message, its place in that sender's sequence, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The publisher's (or caller's) index.
    pub(crate) source: u16,
    /// 1 for the sender's first message, then up by one.
    pub(crate) seq: u64,
    /// [`now_ns`] when it was sent.
    pub(crate) sent_ns: u64,
}

impl Stamp {
    /// The payload string: this stamp padded with `.` to `payload_bytes`
    /// (at least [`STAMP_BYTES`]).
    pub(crate) fn to_payload(self, payload_bytes: usize) -> String {
        let mut s = String::with_capacity(payload_bytes.max(STAMP_BYTES));
        s.push_str("~LT~");
        s.push_str(&format!(
            "{:04x}{:016x}{:016x}",
            self.source, self.seq, self.sent_ns
        ));
        while s.len() < payload_bytes {
            s.push('.');
        }
        s
    }

    /// Writes this stamp over the one that starts at `at` in `message`.
    pub(crate) fn overwrite(self, message: &mut [u8], at: usize) {
        let Some(digits) = message.get_mut(at + MARKER.len()..at + STAMP_BYTES) else {
            return;
        };
        let (source, rest) = digits.split_at_mut(4);
        let (seq, sent) = rest.split_at_mut(16);
        write_hex(u64::from(self.source), source);
        write_hex(self.seq, seq);
        write_hex(self.sent_ns, sent);
    }

    /// The first stamp in `message` and where it starts.
    pub(crate) fn find(message: &[u8]) -> Option<(Self, usize)> {
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'~', message.get(from..)?) {
            let at = from + offset;
            if message.get(at..at + MARKER.len()) == Some(MARKER.as_slice()) {
                let digits = message.get(at + MARKER.len()..at + STAMP_BYTES)?;
                let stamp = Self {
                    source: u16::try_from(read_hex(digits.get(..4)?)?).ok()?,
                    seq: read_hex(digits.get(4..20)?)?,
                    sent_ns: read_hex(digits.get(20..36)?)?,
                };
                return Some((stamp, at));
            }
            from = at + 1;
        }
        None
    }
}

/// Nanoseconds since the first call in this process: the clock senders
/// stamp with and receivers read, across threads.
pub(crate) fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn write_hex(mut value: u64, into: &mut [u8]) {
    for digit in into.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// Each byte's value as a hex digit, or [`NOT_HEX`]: one load per digit on
/// the receive path.
const HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

fn read_hex(digits: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    let mut bad = 0u8;
    for &d in digits {
        let v = HEX_VALUE[usize::from(d)];
        bad |= v & 0xf0;
        value = value << 4 | u64::from(v & 0x0f);
    }
    (bad == 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_found_again_after_padding() {
        let stamp = Stamp {
            source: 7,
            seq: 123_456_789,
            sent_ns: u64::MAX - 3,
        };
        let payload = stamp.to_payload(64);
        assert_eq!(payload.len(), 64);
        let message = format!("[36,1,2,{{\"topic\":\"a~b\"}},[\"{payload}\"]]");
        let (found, at) = Stamp::find(message.as_bytes()).unwrap();
        assert_eq!(found, stamp);
        assert_eq!(&message[at..at + 4], "~LT~");
    }

    #[test]
    fn a_short_payload_still_holds_the_whole_stamp() {
        assert_eq!(
            Stamp {
                source: 0,
                seq: 1,
                sent_ns: 2
            }
            .to_payload(8)
            .len(),
            STAMP_BYTES
        );
    }

    #[test]
    fn overwrite_replaces_the_stamp_in_place() {
        let mut message = format!(
            "xx{}yy",
            Stamp {
                source: 1,
                seq: 1,
                sent_ns: 1
            }
            .to_payload(50)
        )
        .into_bytes();
        let next = Stamp {
            source: 0xffff,
            seq: 0xdead_beef,
            sent_ns: 42,
        };
        next.overwrite(&mut message, 2);
        assert_eq!(Stamp::find(&message), Some((next, 2)));
        assert!(message.ends_with(b"..yy"));
    }

    #[test]
    fn truncated_or_damaged_stamps_are_not_found() {
        let payload = Stamp {
            source: 1,
            seq: 2,
            sent_ns: 3,
        }
        .to_payload(40);
        assert!(Stamp::find(&payload.as_bytes()[..39]).is_none());
        assert!(Stamp::find(payload.replace('2', "g").as_bytes()).is_none());
        assert!(Stamp::find(b"no stamp ~ here ~L").is_none());
    }

    #[test]
    fn the_clock_moves_forward() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
    }
}
