//! Entry points of the SRDP fuzz targets (`fuzz/fuzz_targets/srdp_*.rs`),
//! also replayed from their seeds by `bridges/tests/fuzz_corpus.rs`.

use bytes::BytesMut;

use super::decoder::StreamDecoder;
use super::eds::{EdsDatabase, value};
use super::frame::{DEFAULT_MAX_DATA_BYTES, Frame};

/// The frame parsers on any bytes: as a datagram (a frame that decodes
/// encodes to the same bytes), and as a stream fed in pieces of the size
/// the first byte picks (every frame found is a valid frame, and the
/// buffer stays bounded).
pub fn frames(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if let Ok(frame) = Frame::decode(rest, DEFAULT_MAX_DATA_BYTES) {
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(
            &out[..],
            &rest[..out.len()],
            "a decoded frame re-encodes to its bytes"
        );
    }
    let mut decoder = StreamDecoder::new(DEFAULT_MAX_DATA_BYTES);
    for piece in rest.chunks(usize::from(first % 32) + 1) {
        decoder.push(piece);
        while let Some(frame) = decoder.next_frame() {
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            assert_eq!(
                Frame::decode(&out, DEFAULT_MAX_DATA_BYTES).ok(),
                Some(frame)
            );
        }
    }
    decoder.flush_stalled();
    assert!(!decoder.is_partial());
}

/// An EDS file, then every register of every EDS it defines against the
/// bytes after the first NUL: decoded, and a value that decodes encodes.
pub fn eds(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (text, bytes) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(database) = EdsDatabase::from_texts(&[("fuzz.json".to_owned(), text.to_owned())]) else {
        return;
    };
    let bytes = bytes.get(1..).unwrap_or_default();
    for eds in database.all() {
        for register in &eds.registers {
            if let Ok(decoded) = value::decode(&register.ty, bytes) {
                let _ = value::encode(&register.ty, &decoded);
            }
        }
    }
}
