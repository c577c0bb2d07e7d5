//! Replays every fuzz target's seed corpus (`fuzz/seeds/<target>/`) through
//! the same entry points the fuzz targets call, so CI exercises them on the
//! stable toolchain.

use std::path::PathBuf;

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::fuzzing;

/// The fuzz targets, by name, and the entry point each calls.
pub const TARGETS: [(&str, fn(&[u8])); 7] = [
    ("websocket_frames", fuzzing::websocket_frames),
    ("websocket_handshake", fuzzing::websocket_handshake),
    ("rawsocket_frames", fuzzing::rawsocket_frames),
    ("rawsocket_handshake", fuzzing::rawsocket_handshake),
    ("codec_json", |d| fuzzing::codec(Serializer::Json, d)),
    ("codec_msgpack", |d| fuzzing::codec(Serializer::MsgPack, d)),
    ("codec_cbor", |d| fuzzing::codec(Serializer::Cbor, d)),
];

/// The committed seeds of `target`, plus any corpus a local fuzzing run
/// left in `fuzz/corpus/<target>/`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
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

#[test]
fn every_target_has_seeds_and_survives_them() {
    for (target, run) in TARGETS {
        let inputs = seeds(target);
        assert!(
            inputs.len() >= 2,
            "fuzz/seeds/{target} has {} seeds",
            inputs.len()
        );
        for input in &inputs {
            run(input);
        }
    }
}

#[test]
fn fuzz_crate_lists_every_target() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml");
    let manifest = std::fs::read_to_string(manifest).unwrap();
    for (target, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} not in fuzz/Cargo.toml"
        );
    }
}
