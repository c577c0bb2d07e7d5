//! WAMP-cryptosign router authentication: the client sends a fresh random
//! challenge in HELLO (`authextra.challenge`); the router answers in
//! CHALLENGE with its public key (`extra.pubkey`) and its signature of the
//! challenge (`extra.signature`: 64 bytes of signature, then the 32 bytes
//! signed, in hex), as Crossbar.io does. The client checks it before it
//! signs anything itself.
//!
//! On `wss://` with TLS 1.3 the client also asks for the `tls-exporter`
//! channel binding (RFC 9266): the router signs the challenge XOR the TLS
//! connection's exporter value. A man in the middle that relays the
//! handshake over a TLS connection of its own gets the real router's
//! signature of a different value, which the client refuses; a signature
//! recorded earlier is of another challenge.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ringbar_protocol::value::{Dict, Value};

use crate::error::Error;

/// `channel_binding`'s value for RFC 9266 channel bindings.
pub(crate) const TLS_EXPORTER: &str = "tls-exporter";

/// Which Ed25519 key the router must prove it holds when a session joins
/// with WAMP-cryptosign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouterKey {
    /// No proof is asked for.
    #[default]
    Unchecked,
    /// Any key, which the router must prove: the caller learns it from
    /// [`crate::Session::router_key`] (trust on first use).
    Any,
    /// This public key and no other.
    Pinned([u8; 32]),
}

/// A router challenge sent in HELLO, waiting for the router's signature.
pub(crate) struct RouterChallenge {
    expected: RouterKey,
    /// What the router must sign: the challenge, XOR the channel's
    /// exporter value when bound.
    message: [u8; 32],
    challenge: [u8; 32],
    bound: bool,
}

impl RouterChallenge {
    /// A fresh challenge when `expected` asks for a proof; bound to the
    /// TLS connection when `tls_exporter` is given.
    pub(crate) fn new(
        expected: RouterKey,
        tls_exporter: Option<[u8; 32]>,
    ) -> Result<Option<Self>, Error> {
        if expected == RouterKey::Unchecked {
            return Ok(None);
        }
        let mut challenge = [0u8; 32];
        getrandom::fill(&mut challenge).map_err(|e| Error::Io {
            what: "reading random bytes for the router challenge".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(Some(RouterChallenge {
            expected,
            message: xor(challenge, tls_exporter),
            challenge,
            bound: tls_exporter.is_some(),
        }))
    }

    /// Adds the challenge (and the channel binding asked for) to HELLO's
    /// `authextra`.
    pub(crate) fn add_to(&self, authextra: &mut Dict) {
        authextra.insert("challenge", hex::encode(self.challenge));
        if self.bound {
            authextra.insert("channel_binding", TLS_EXPORTER);
        }
    }

    /// The key the router proved in CHALLENGE's `extra`, or why it did not.
    pub(crate) fn verify(&self, url: &str, extra: &Dict) -> Result<[u8; 32], Error> {
        let not_proven = |reason: &str| Error::RouterNotProven {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let text = |key: &str| extra.get(key).and_then(Value::as_str);
        let (Some(pubkey), Some(signed)) = (text("pubkey"), text("signature")) else {
            return Err(not_proven(
                "its CHALLENGE has no router signature (extra.pubkey, extra.signature): it does not support WAMP-cryptosign router authentication",
            ));
        };
        let mut offered = [0u8; 32];
        hex::decode_to_slice(pubkey, &mut offered)
            .map_err(|_| not_proven("extra.pubkey is not 64 hex digits"))?;
        if let RouterKey::Pinned(expected) = self.expected
            && expected != offered
        {
            return Err(Error::RouterKeyMismatch {
                url: url.to_owned(),
                expected: hex::encode(expected),
                offered: hex::encode(offered),
            });
        }
        let mut bytes = [0u8; 96];
        hex::decode_to_slice(signed, &mut bytes).map_err(|_| {
            not_proven("extra.signature is not 96 bytes in hex (signature, then the message)")
        })?;
        let (signature, message) = bytes.split_at(64);
        if message != self.message {
            return Err(not_proven(if self.bound {
                "it signed another message than this connection's challenge (a relay over another TLS connection, or a replay)"
            } else {
                "it signed another message than this session's challenge (a replay)"
            }));
        }
        let valid = VerifyingKey::from_bytes(&offered).is_ok_and(|key| {
            Signature::from_slice(signature).is_ok_and(|s| key.verify(message, &s).is_ok())
        });
        if !valid {
            return Err(not_proven(
                "its signature does not verify with the key it offered",
            ));
        }
        Ok(offered)
    }
}

/// `challenge` XOR `channel`, when bound to a channel.
pub(crate) fn xor(mut challenge: [u8; 32], channel: Option<[u8; 32]>) -> [u8; 32] {
    if let Some(channel) = channel {
        for (byte, id) in challenge.iter_mut().zip(channel) {
            *byte ^= id;
        }
    }
    challenge
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    /// The CHALLENGE extra a router holding `key` sends for `message`.
    fn answer(key: &SigningKey, message: &[u8; 32]) -> Dict {
        let mut signed = key.sign(message).to_bytes().to_vec();
        signed.extend_from_slice(message);
        [
            (
                "pubkey",
                Value::from(hex::encode(key.verifying_key().to_bytes())),
            ),
            ("signature", Value::from(hex::encode(signed))),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn the_pinned_key_passes_and_another_is_named() {
        let (service, stranger) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let pinned = RouterKey::Pinned(service.verifying_key().to_bytes());
        let sent = RouterChallenge::new(pinned, None).unwrap().unwrap();
        let proved = sent
            .verify("ws://m", &answer(&service, &sent.message))
            .unwrap();
        assert_eq!(proved, service.verifying_key().to_bytes());
        let error = sent
            .verify("ws://m", &answer(&stranger, &sent.message))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&hex::encode(stranger.verifying_key().to_bytes())),
            "{error}"
        );
        assert!(
            error.contains(&hex::encode(service.verifying_key().to_bytes())),
            "{error}"
        );
        // any key, when none is pinned yet, but a proven one
        let any = RouterChallenge::new(RouterKey::Any, None).unwrap().unwrap();
        assert!(
            any.verify("ws://m", &answer(&stranger, &any.message))
                .is_ok()
        );
        assert!(
            RouterChallenge::new(RouterKey::Unchecked, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn replays_relays_forgeries_and_silence_are_refused() {
        let service = SigningKey::from_bytes(&[1; 32]);
        let pinned = RouterKey::Pinned(service.verifying_key().to_bytes());
        let exporter = Some([7; 32]);
        let sent = RouterChallenge::new(pinned, exporter).unwrap().unwrap();
        let mut extra = Dict::new();
        sent.add_to(&mut extra);
        assert_eq!(
            extra.get("channel_binding").and_then(Value::as_str),
            Some(TLS_EXPORTER)
        );
        // the real service's signature of the challenge over another TLS
        // connection (a relay), or of an earlier challenge (a replay)
        let relayed = xor(sent.challenge, Some([8; 32]));
        for other in [relayed, sent.challenge, [0; 32]] {
            let error = sent
                .verify("wss://m", &answer(&service, &other))
                .unwrap_err();
            assert!(matches!(error, Error::RouterNotProven { .. }), "{error}");
        }
        // the right message, signed by another key that claims the pinned one
        let mut forged = answer(&SigningKey::from_bytes(&[3; 32]), &sent.message);
        forged.insert("pubkey", hex::encode(service.verifying_key().to_bytes()));
        let error = sent.verify("wss://m", &forged).unwrap_err().to_string();
        assert!(error.contains("does not verify"), "{error}");
        let error = sent
            .verify("wss://m", &Dict::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("router authentication"), "{error}");
        assert!(
            sent.verify("wss://m", &answer(&service, &sent.message))
                .is_ok()
        );
    }
}
