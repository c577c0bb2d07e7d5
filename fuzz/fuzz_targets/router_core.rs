//! Fuzz target: `ringbar_engine::fuzzing::router_core`, one router's cores
//! driven by scripts of WAMP messages from several clients.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_engine::fuzzing::router_core(data));
