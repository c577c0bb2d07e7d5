//! Replays the SRDP fuzz targets' seeds (`fuzz/seeds/srdp_*/`) through the
//! entry points the targets call, so CI runs them on the stable toolchain.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use ringbar_bridges::srdp::fuzzing;

/// A fuzz target's entry point.
type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 2] = [("srdp_frames", fuzzing::frames), ("srdp_eds", fuzzing::eds)];

#[test]
fn every_srdp_target_has_seeds_and_survives_them() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    for (target, run) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} not in fuzz/Cargo.toml"
        );
        let mut inputs = 0;
        for dir in [
            fuzz.join("seeds").join(target),
            fuzz.join("corpus").join(target),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                run(&std::fs::read(entry.unwrap().path()).unwrap());
                inputs += 1;
            }
        }
        assert!(inputs >= 2, "fuzz/seeds/{target} has {inputs} seeds");
    }
}
