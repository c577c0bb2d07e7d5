//! CRC-16/XMODEM, the checksum of every SRDP frame: polynomial 0x1021,
//! initial value 0, no reflection, no final XOR (check value 0x31C3 for
//! "123456789").

/// The CRC of `parts` taken as one byte string.
pub fn crc16_xmodem(parts: &[&[u8]]) -> u16 {
    let mut crc: u16 = 0;
    for part in parts {
        for &byte in *part {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_is_xmodems() {
        assert_eq!(crc16_xmodem(&[b"123456789"]), 0x31C3);
        assert_eq!(crc16_xmodem(&[b"1234", b"", b"56789"]), 0x31C3);
        assert_eq!(crc16_xmodem(&[]), 0);
    }
}
