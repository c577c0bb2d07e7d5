//! Fuzz target: the `wamp.2.ubjson` decoder (`ringbar_protocol::fuzzing::codec`).
#![no_main]

use ringbar_protocol::codec::Serializer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringbar_protocol::fuzzing::codec(Serializer::Ubjson, data));
