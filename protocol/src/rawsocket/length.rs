//! The handshake's `LENGTH` nibble: a maximum message length of 2^(9+exp).

/// A maximum message length as the handshake carries it: 2^(9 + exponent)
/// octets, exponent 0..=15, so 512 octets to 16 MiB.
///
/// Each peer announces the largest message it is willing to receive; the
/// other side must not send more. Being a power of two is the wire format's
/// constraint, so a configured byte limit is rounded down with [`Self::at_most`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaxMessageLength(u8);

impl MaxMessageLength {
    /// 512 octets (exponent 0), the smallest length the handshake can express.
    pub const MIN: Self = Self(0);
    /// 16 MiB (exponent 15), the largest length the handshake can express.
    pub const MAX: Self = Self(15);

    /// The length for a 4-bit exponent, `None` above 15.
    pub const fn from_exponent(exponent: u8) -> Option<Self> {
        if exponent <= Self::MAX.0 {
            Some(Self(exponent))
        } else {
            None
        }
    }

    /// The 4-bit exponent sent in the handshake.
    pub const fn exponent(self) -> u8 {
        self.0
    }

    /// The length in octets, 2^(9 + exponent).
    pub const fn bytes(self) -> usize {
        1 << (9 + self.0 as u32)
    }

    /// The largest length not above `bytes`, to turn a configured byte limit
    /// into what the handshake can announce; `None` below 512 octets.
    /// Limits above 16 MiB give [`Self::MAX`].
    pub const fn at_most(bytes: usize) -> Option<Self> {
        if bytes < Self::MIN.bytes() {
            return None;
        }
        // bytes >= 512, so ilog2 >= 9.
        let exponent = bytes.ilog2() - 9;
        if exponent >= Self::MAX.0 as u32 {
            Some(Self::MAX)
        } else {
            Some(Self(exponent as u8))
        }
    }

    /// Decodes the high nibble of a handshake's second octet; every nibble
    /// value is a valid length.
    pub(crate) const fn from_high_nibble(octet: u8) -> Self {
        Self(octet >> 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_map_to_spec_lengths() {
        assert_eq!(MaxMessageLength::MIN.bytes(), 512);
        assert_eq!(MaxMessageLength::MAX.bytes(), 16 * 1024 * 1024);
        for exponent in 0..=15u8 {
            let length = MaxMessageLength::from_exponent(exponent).unwrap();
            assert_eq!(length.exponent(), exponent);
            assert_eq!(length.bytes(), 1usize << (9 + exponent));
        }
        assert_eq!(MaxMessageLength::from_exponent(16), None);
    }

    #[test]
    fn at_most_rounds_down() {
        assert_eq!(MaxMessageLength::at_most(0), None);
        assert_eq!(MaxMessageLength::at_most(511), None);
        assert_eq!(MaxMessageLength::at_most(512), Some(MaxMessageLength::MIN));
        assert_eq!(MaxMessageLength::at_most(1023), Some(MaxMessageLength::MIN));
        assert_eq!(
            MaxMessageLength::at_most(1024).map(|l| l.bytes()),
            Some(1024)
        );
        assert_eq!(
            MaxMessageLength::at_most(1 << 24),
            Some(MaxMessageLength::MAX)
        );
        assert_eq!(
            MaxMessageLength::at_most(usize::MAX),
            Some(MaxMessageLength::MAX)
        );
    }
}
