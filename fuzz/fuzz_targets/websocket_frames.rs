//! Fuzz target: `ringbar_protocol::fuzzing::websocket_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_protocol::fuzzing::websocket_frames(data));
