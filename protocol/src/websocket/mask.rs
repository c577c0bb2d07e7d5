//! Payload masking (RFC 6455 §5.3), word at a time.

/// XORs `buf` with the masking key `key`, in place.
///
/// Masking and unmasking are the same operation. `offset` is the position of
/// `buf[0]` within the frame's payload, so a payload that arrives in several
/// reads can be unmasked piece by piece: pass the number of payload bytes
/// already unmasked.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Byte `i` of the payload is XORed with `key[i % 4]`; rotating the key
    // by the offset makes `buf[0]` line up with `key[0]`.
    let key = rotate_key(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // Each chunk is a multiple of 4 bytes long, so the key phase is unchanged.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

fn rotate_key(mut key: [u8; 4], offset: usize) -> [u8; 4] {
    key.rotate_left(offset % 4);
    key
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn matches_naive_for_every_length_alignment_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..320u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..=300 {
            for align in 0..8 {
                for offset in 0..8 {
                    let mut fast = data.clone();
                    let mut slow = data.clone();
                    apply_mask(&mut fast[align..align + len], key, offset);
                    naive(&mut slow[align..align + len], key, offset);
                    assert_eq!(fast, slow, "len {len} align {align} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn split_application_equals_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..=255).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole, "split at {split}");
        }
    }

    #[test]
    fn twice_is_identity() {
        let data: Vec<u8> = (0..100).collect();
        let mut buf = data.clone();
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_ne!(buf, data);
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_eq!(buf, data);
    }
}
