//! Fuzz target: `ringbar_protocol::fuzzing::websocket_extensions`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_protocol::fuzzing::websocket_extensions(data));
