//! Fuzz target: `ringbar_bridges::srdp::fuzzing::eds`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_bridges::srdp::fuzzing::eds(data));
