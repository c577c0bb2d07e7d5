//! Replays every fuzz target's seed corpus (`fuzz/seeds/<target>/`) through
//! the same entry points the fuzz targets call, so CI exercises them on the
//! stable toolchain.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

mod support;

use support::{TARGETS, seeds};

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
