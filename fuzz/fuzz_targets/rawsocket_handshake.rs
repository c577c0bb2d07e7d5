//! Fuzz target: `ringbar_protocol::fuzzing::rawsocket_handshake`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_protocol::fuzzing::rawsocket_handshake(data));
