//! Fuzz target: what nodes of a cluster send each other over NATS
//! (`ringbar_router::cluster::wire`): any bytes decode to a message or an
//! error, and a decoded message encodes to bytes that decode to it again.
#![no_main]

use ringbar_router::cluster::wire::ClusterMessage;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ClusterMessage::decode(bytes::Bytes::copy_from_slice(data)) {
        let again = ClusterMessage::decode(message.encode());
        assert_eq!(again.as_ref(), Ok(&message));
    }
});
