//! Fuzz target: `ringbar_protocol::fuzzing::http_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_protocol::fuzzing::http_request(data));
