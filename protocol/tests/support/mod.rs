//! The fuzz targets and their seed corpora, shared by the corpus replay and
//! the million-input test.

// Test support: a missing or unreadable seed file is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::fuzzing;
/// A fuzz target's entry point.
pub(crate) type Target = fn(&[u8]);

/// The fuzz targets, by name, and the entry point each calls.
pub(crate) const TARGETS: [(&str, Target); 10] = [
    ("websocket_frames", fuzzing::websocket_frames),
    ("websocket_handshake", fuzzing::websocket_handshake),
    ("websocket_extensions", fuzzing::websocket_extensions),
    ("http_request", fuzzing::http_request),
    ("rawsocket_frames", fuzzing::rawsocket_frames),
    ("rawsocket_handshake", fuzzing::rawsocket_handshake),
    ("codec_json", |d| fuzzing::codec(Serializer::Json, d)),
    ("codec_msgpack", |d| fuzzing::codec(Serializer::MsgPack, d)),
    ("codec_cbor", |d| fuzzing::codec(Serializer::Cbor, d)),
    ("codec_ubjson", |d| fuzzing::codec(Serializer::Ubjson, d)),
];

/// The committed seeds of `target`, plus any corpus a local fuzzing run
/// left in `fuzz/corpus/<target>/`.
pub(crate) fn seeds(target: &str) -> Vec<Vec<u8>> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs = Vec::new();
    for dir in [
        fuzz.join("seeds").join(target),
        fuzz.join("corpus").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            inputs.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
    inputs
}
