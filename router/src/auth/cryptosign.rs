//! WAMP-Cryptosign: the client announces its Ed25519 public key in
//! `authextra.pubkey`, the router sends 32 random bytes, the client answers
//! with its signature of them followed by them (96 bytes, hex). A client
//! that sends no authid is identified by its key, as Crossbar.io does.
//!
//! TLS channel binding: with `channel_binding: "tls-exporter"` (RFC 9266,
//! TLS 1.3) the client signs the challenge XOR the connection's exporter
//! value, so a signature cannot be replayed over another TLS connection.
//! `tls-unique` is refused with the reason: rustls does not expose the
//! Finished message it is made of.
//!
//! Router authentication: a client that sends its own challenge in
//! `authextra.challenge` gets the router's public key (`pubkey`) and
//! signature (`signature`: the signature, then the message signed) in the
//! CHALLENGE, as Crossbar.io sends them, when a dynamic authenticator holds
//! a router key; bound to the channel like the client's.

use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use ringbar_protocol::value::{Dict, Value};

use super::{
    Accepted, Channel, HelloInfo, Opening, Pending as AnyPending, Refusal, constant_time_eq,
    extra_str, provider_name, random_bytes, realm_allowed,
};
use crate::auth::config::{CryptosignPrincipal, Grant, Provider};

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "cryptosign";

/// The message of every failed signature check.
const INVALID: &str = "invalid cryptosign signature";

/// A cryptosign challenge sent.
pub struct Pending {
    /// The key that must have signed; `None` when the authid is unknown or
    /// the key is not one of its authorized keys (which fails like a wrong
    /// signature).
    key: Option<VerifyingKey>,
    /// What the client must sign: the challenge, XOR the channel id when
    /// the session is bound to its TLS channel.
    message: [u8; 32],
    accepted: Accepted,
}

/// `channel_binding`'s value for RFC 9266 channel bindings.
const TLS_EXPORTER: &str = "tls-exporter";

/// Starts WAMP-Cryptosign.
pub(super) fn open(
    provider: &Provider<CryptosignPrincipal>,
    hello: &HelloInfo<'_>,
    channel: &Channel,
) -> Opening {
    match start(provider, hello, channel) {
        Ok((extra, pending)) => Opening::Challenge {
            authmethod: AUTHMETHOD,
            extra,
            pending: AnyPending::Cryptosign(Box::new(pending)),
        },
        Err(refusal) => Opening::Refuse(refusal),
    }
}

fn start(
    provider: &Provider<CryptosignPrincipal>,
    hello: &HelloInfo<'_>,
    channel: &Channel,
) -> Result<(Dict, Pending), Refusal> {
    let channel_id = channel_binding(hello, channel)?;
    let Some(pubkey) = extra_str(hello, "pubkey") else {
        return Err(Refusal::not_authorized(
            "cryptosign authentication needs the client's public key in authextra.pubkey",
        ));
    };
    let key_bytes = parse_key(pubkey).ok_or_else(|| {
        Refusal::not_authorized("authextra.pubkey is not an Ed25519 public key (64 hex digits)")
    })?;
    let (authid, grant) = lookup(provider, hello, &key_bytes)?;
    if let Some(grant) = &grant {
        realm_allowed(grant, hello.realm)?;
    }
    let challenge = random_bytes::<32>()?;
    let binding = channel_id.map_or(Value::Null, |_| Value::from(TLS_EXPORTER));
    let mut extra: Dict = [
        ("challenge", Value::from(hex::encode(challenge))),
        ("channel_binding", binding),
    ]
    .into_iter()
    .collect();
    if let Some((pubkey, signature)) = router_signature(provider, hello, channel_id)? {
        extra.insert("pubkey", hex::encode(pubkey));
        extra.insert("signature", signature);
    }
    let message = bound(challenge, channel_id);
    let pending = Pending {
        key: grant
            .as_ref()
            .and_then(|_| VerifyingKey::from_bytes(&key_bytes).ok()),
        message,
        accepted: Accepted {
            authid,
            authrole: grant.map(|g| g.role).unwrap_or_default(),
            authmethod: AUTHMETHOD,
            authprovider: provider_name(provider),
        },
    };
    Ok((extra, pending))
}

/// The router's key and signature (hex of the signature, then the message
/// signed) of the client's `authextra.challenge`, when the client sent one
/// and the authenticator holds a router key.
fn router_signature(
    provider: &Provider<CryptosignPrincipal>,
    hello: &HelloInfo<'_>,
    channel_id: Option<[u8; 32]>,
) -> Result<Option<([u8; 32], String)>, Refusal> {
    let (Some(text), Provider::Dynamic(authenticator)) = (extra_str(hello, "challenge"), provider)
    else {
        return Ok(None);
    };
    let mut challenge = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut challenge).map_err(|_| {
        Refusal::not_authorized("authextra.challenge is not 32 bytes in hex (64 hex digits)")
    })?;
    let message = bound(challenge, channel_id);
    Ok(authenticator.router_key(hello.realm).map(|key| {
        let mut signed = key.sign(&message).to_bytes().to_vec();
        signed.extend_from_slice(&message);
        (key.verifying_key().to_bytes(), hex::encode(signed))
    }))
}

/// `challenge` XOR the channel id, when the session is bound to its TLS
/// channel.
fn bound(mut challenge: [u8; 32], channel_id: Option<[u8; 32]>) -> [u8; 32] {
    if let Some(channel_id) = channel_id {
        for (byte, id) in challenge.iter_mut().zip(channel_id) {
            *byte ^= id;
        }
    }
    challenge
}

/// The channel id the client asks to bind to with `channel_binding`:
/// `None` when it asks for none; a refusal naming the reason when the
/// binding is unknown or this connection cannot give it.
fn channel_binding(hello: &HelloInfo<'_>, channel: &Channel) -> Result<Option<[u8; 32]>, Refusal> {
    let Some(binding) = hello
        .authextra
        .and_then(|e| e.get("channel_binding"))
        .filter(|v| !matches!(v, Value::Null))
    else {
        return Ok(None);
    };
    let unavailable = |why: &str| {
        Refusal::not_authorized(format!(
            "channel binding {} is not available: {why}",
            binding.as_str().unwrap_or("(not a string)")
        ))
    };
    match binding.as_str() {
        Some(TLS_EXPORTER) if !channel.is_tls => Err(unavailable(
            "this transport is not TLS; connect without channel_binding",
        )),
        Some(TLS_EXPORTER) => channel.tls_exporter.map(Some).ok_or_else(|| {
            unavailable(
                "the connection is not TLS 1.3; use TLS 1.3 or connect without channel_binding",
            )
        }),
        Some("tls-unique") => Err(unavailable(
            "ringbar's TLS (rustls) does not expose tls-unique; use tls-exporter or connect without channel_binding",
        )),
        _ => Err(unavailable("use tls-exporter or no channel_binding")),
    }
}

/// The authid the client authenticates as, and the grant of its principal
/// when that principal has the announced key (`None` fails at
/// AUTHENTICATE, like a wrong signature).
fn lookup(
    provider: &Provider<CryptosignPrincipal>,
    hello: &HelloInfo<'_>,
    key: &[u8; 32],
) -> Result<(String, Option<Grant>), Refusal> {
    let unknown_key = || {
        Refusal::failed("no principal has this public key; send an authid or use an authorized key")
    };
    match provider {
        Provider::Static(principals) => {
            let authid = match hello.authid {
                Some(authid) => authid.to_owned(),
                None => {
                    let mut owners = principals
                        .iter()
                        .filter(|(_, p)| p.authorized_keys.contains(key));
                    match (owners.next(), owners.next()) {
                        (Some((authid, _)), None) => authid.clone(),
                        (Some(_), Some(_)) => {
                            return Err(Refusal::not_authorized(
                                "cannot identify the client by its key: several principals have it; send an authid",
                            ));
                        }
                        (None, _) => return Err(unknown_key()),
                    }
                }
            };
            let grant = principals
                .get(&authid)
                .filter(|p| p.authorized_keys.contains(key))
                .map(|p| p.grant.clone());
            Ok((authid, grant))
        }
        Provider::Dynamic(authenticator) => {
            let found = authenticator
                .principal(hello.realm, hello.authid, Some(key))
                .filter(|(authid, p)| {
                    p.authorized_keys.contains(key) && hello.authid.is_none_or(|a| a == authid)
                });
            match (found, hello.authid) {
                (Some((authid, p)), _) => Ok((authid, Some(p.grant))),
                (None, Some(authid)) => Ok((authid.to_owned(), None)),
                (None, None) => Err(unknown_key()),
            }
        }
        // Asked of the procedure before any lookup (see `procedure`).
        Provider::Procedure(_) => Err(unknown_key()),
    }
}

/// A hex Ed25519 public key.
fn parse_key(text: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).ok()?;
    Some(key)
}

impl Pending {
    /// Checks the signed challenge (hex of the signature, then the message
    /// signed: the challenge, XOR the channel id when bound).
    pub fn authenticate(self, signed: &str) -> Result<Accepted, Refusal> {
        let mut bytes = [0u8; 96];
        if hex::decode_to_slice(signed.trim(), &mut bytes).is_err() {
            return Err(Refusal::failed(
                "the signed challenge is not 96 bytes in hex (signature, then challenge)",
            ));
        }
        let (signature, message) = bytes.split_at(64);
        let valid = self.key.is_some_and(|key| {
            Signature::from_slice(signature).is_ok_and(|s| key.verify(message, &s).is_ok())
        }) && constant_time_eq(message, &self.message);
        if valid {
            Ok(self.accepted)
        } else {
            Err(Refusal::failed(INVALID))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::auth::AbortReason;
    use crate::auth::config::Authenticator;
    use crate::error::RoutingError;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn provider() -> Provider<CryptosignPrincipal> {
        let alice = CryptosignPrincipal {
            authorized_keys: vec![key(1).verifying_key().to_bytes()],
            grant: Grant {
                role: "user".into(),
                realm: None,
            },
        };
        let shared = CryptosignPrincipal {
            authorized_keys: vec![key(3).verifying_key().to_bytes()],
            grant: Grant {
                role: "user".into(),
                realm: None,
            },
        };
        Provider::Static(BTreeMap::from([
            ("alice".into(), alice),
            ("s1".into(), shared.clone()),
            ("s2".into(), shared),
        ]))
    }

    /// Signs as Autobahn does, with `signer`, after announcing `announced`.
    fn join(
        authid: Option<&str>,
        announced: &SigningKey,
        signer: &SigningKey,
    ) -> Result<Accepted, Refusal> {
        join_with(&provider(), "realm1", authid, announced, signer)
    }

    /// [`join`] with `provider`, to `realm`.
    fn join_with(
        provider: &Provider<CryptosignPrincipal>,
        realm: &str,
        authid: Option<&str>,
        announced: &SigningKey,
        signer: &SigningKey,
    ) -> Result<Accepted, Refusal> {
        let hello = Hello::new(realm, authid, announced, None);
        let (challenge, pending) = hello.challenge(provider, &Channel::default())?;
        pending.authenticate(&signed(signer, &challenge))
    }

    /// A HELLO's authextra, kept for [`HelloInfo`] to borrow.
    struct Hello<'a> {
        realm: &'a str,
        authid: Option<&'a str>,
        extra: Dict,
    }

    impl<'a> Hello<'a> {
        fn new(
            realm: &'a str,
            authid: Option<&'a str>,
            announced: &SigningKey,
            binding: Option<&str>,
        ) -> Self {
            let mut extra: Dict = [(
                "pubkey",
                Value::from(hex::encode(announced.verifying_key().to_bytes())),
            )]
            .into_iter()
            .collect();
            if let Some(binding) = binding {
                extra.insert("channel_binding", binding);
            }
            Self {
                realm,
                authid,
                extra,
            }
        }

        /// The router's opening: the challenge's bytes and what checks the
        /// answer, or the refusal.
        fn challenge(
            &self,
            provider: &Provider<CryptosignPrincipal>,
            channel: &Channel,
        ) -> Result<(Vec<u8>, Pending), Refusal> {
            let hello = HelloInfo {
                realm: self.realm,
                authid: self.authid,
                authextra: Some(&self.extra),
                session: 1,
                now: std::time::SystemTime::now(),
            };
            match open(provider, &hello, channel) {
                Opening::Challenge {
                    extra,
                    pending: AnyPending::Cryptosign(pending),
                    ..
                } => {
                    let challenge = extra.get("challenge").and_then(Value::as_str).unwrap();
                    Ok((hex::decode(challenge).unwrap(), *pending))
                }
                Opening::Refuse(refusal) => Err(refusal),
                _ => panic!("expected a cryptosign challenge"),
            }
        }
    }

    /// The AUTHENTICATE signature of `message` by `signer`, as Autobahn
    /// sends it.
    fn signed(signer: &SigningKey, message: &[u8]) -> String {
        let mut signed = signer.sign(message).to_bytes().to_vec();
        signed.extend_from_slice(message);
        hex::encode(signed)
    }

    #[test]
    fn the_key_owner_joins_with_or_without_authid() {
        let accepted = join(Some("alice"), &key(1), &key(1)).unwrap();
        assert_eq!(
            (accepted.authid.as_str(), accepted.authrole.as_str()),
            ("alice", "user")
        );
        assert_eq!(join(None, &key(1), &key(1)).unwrap().authid, "alice");
    }

    /// A dynamic authenticator: any key joins `realm1` as its own hex,
    /// with role `pairing`; `admin` is the principal of key 1.
    #[derive(Debug)]
    struct EveryKey;

    impl Authenticator<CryptosignPrincipal> for EveryKey {
        fn principal(
            &self,
            realm: &str,
            authid: Option<&str>,
            credential: Option<&[u8]>,
        ) -> Option<(String, CryptosignPrincipal)> {
            let announced: [u8; 32] = credential?.try_into().ok()?;
            let (authid, keys, role) = match authid {
                Some("admin") => (
                    "admin".to_owned(),
                    vec![key(1).verifying_key().to_bytes()],
                    "admin",
                ),
                _ => (hex::encode(announced), vec![announced], "pairing"),
            };
            (realm == "realm1").then(|| {
                let grant = Grant {
                    role: role.into(),
                    realm: Some("realm1".into()),
                };
                (
                    authid,
                    CryptosignPrincipal {
                        authorized_keys: keys,
                        grant,
                    },
                )
            })
        }
    }

    #[test]
    fn a_dynamic_authenticator_names_the_principal_and_the_signature_decides() {
        let dynamic = Provider::Dynamic(std::sync::Arc::new(EveryKey));
        let accepted = join_with(&dynamic, "realm1", None, &key(4), &key(4)).unwrap();
        assert_eq!(
            accepted.authid,
            hex::encode(key(4).verifying_key().to_bytes())
        );
        assert_eq!(accepted.authrole, "pairing");
        assert_eq!(accepted.authprovider, "dynamic");
        let admin = join_with(&dynamic, "realm1", Some("admin"), &key(1), &key(1)).unwrap();
        assert_eq!(
            (admin.authid.as_str(), admin.authrole.as_str()),
            ("admin", "admin")
        );
        // signed by another key than announced
        assert!(join_with(&dynamic, "realm1", None, &key(4), &key(5)).is_err());
        // a key the principal does not have
        assert!(join_with(&dynamic, "realm1", Some("admin"), &key(4), &key(4)).is_err());
        // an authid other than the one the authenticator returns
        assert!(join_with(&dynamic, "realm1", Some("bob"), &key(4), &key(4)).is_err());
        // nothing in another realm, with or without an authid
        assert!(join_with(&dynamic, "realm2", None, &key(4), &key(4)).is_err());
        assert!(join_with(&dynamic, "realm2", Some("admin"), &key(1), &key(1)).is_err());
    }

    #[test]
    fn wrong_keys_fail() {
        // signed by another key than announced
        assert!(join(Some("alice"), &key(1), &key(2)).is_err());
        // a key alice does not have
        assert!(join(Some("alice"), &key(2), &key(2)).is_err());
        // an unknown key without authid
        assert!(join(None, &key(2), &key(2)).is_err());
        // an unknown authid
        assert!(join(Some("bob"), &key(1), &key(1)).is_err());
        // a key two principals share cannot identify a client
        assert!(join(None, &key(3), &key(3)).is_err());
        assert_eq!(join(Some("s2"), &key(3), &key(3)).unwrap().authid, "s2");
    }

    #[test]
    fn a_replayed_or_malformed_answer_fails() {
        let extra: Dict = [(
            "pubkey",
            Value::from(hex::encode(key(1).verifying_key().to_bytes())),
        )]
        .into_iter()
        .collect();
        let hello = HelloInfo {
            realm: "realm1",
            authid: Some("alice"),
            authextra: Some(&extra),
            session: 1,
            now: std::time::SystemTime::now(),
        };
        let Opening::Challenge { pending, .. } = open(&provider(), &hello, &Channel::default())
        else {
            panic!("expected a challenge");
        };
        // a valid signature of another challenge
        let other = [9u8; 32];
        let mut signed = key(1).sign(&other).to_bytes().to_vec();
        signed.extend_from_slice(&other);
        assert!(pending.authenticate(&hex::encode(signed)).is_err());
        let Opening::Challenge { pending, .. } = open(&provider(), &hello, &Channel::default())
        else {
            panic!("expected a challenge");
        };
        assert!(pending.authenticate("zz").is_err());
    }

    #[test]
    fn tls_unique_and_unknown_bindings_are_refused_clearly() {
        let tls13 = Channel {
            is_tls: true,
            tls_exporter: Some([7; 32]),
            ..Channel::default()
        };
        for (binding, channel, says) in [
            ("tls-unique", &tls13, "use tls-exporter"),
            ("tls-server-end-point", &tls13, "use tls-exporter"),
            ("tls-exporter", &Channel::default(), "not TLS"),
            (
                "tls-exporter",
                &Channel {
                    is_tls: true,
                    ..Channel::default()
                },
                "not TLS 1.3",
            ),
        ] {
            let hello = Hello::new("realm1", Some("alice"), &key(1), Some(binding));
            let Err(refusal) = hello.challenge(&provider(), channel) else {
                panic!("{binding} was not refused");
            };
            assert_eq!(
                refusal.reason,
                AbortReason::Router(RoutingError::NotAuthorized)
            );
            assert!(
                refusal.message.contains(binding) && refusal.message.contains(says),
                "{binding}: {}",
                refusal.message
            );
        }
    }

    #[test]
    fn a_tls_exporter_binding_needs_the_challenge_xor_the_channel_id() {
        let channel_id = [0x5a; 32];
        let channel = Channel {
            is_tls: true,
            tls_exporter: Some(channel_id),
            ..Channel::default()
        };
        let hello = Hello::new("realm1", Some("alice"), &key(1), Some("tls-exporter"));
        let bound = |challenge: &[u8]| -> Vec<u8> {
            challenge
                .iter()
                .zip(channel_id)
                .map(|(c, id)| c ^ id)
                .collect()
        };

        let (challenge, pending) = hello.challenge(&provider(), &channel).unwrap();
        let accepted = pending.authenticate(&signed(&key(1), &bound(&challenge)));
        assert_eq!(accepted.unwrap().authid, "alice");

        // the bare challenge (a signature made for another connection) fails
        let (challenge, pending) = hello.challenge(&provider(), &channel).unwrap();
        let refusal = pending
            .authenticate(&signed(&key(1), &challenge))
            .unwrap_err();
        assert_eq!(refusal.message, INVALID);
    }

    #[test]
    fn the_challenge_names_the_binding_in_force() {
        let channel = Channel {
            is_tls: true,
            tls_exporter: Some([1; 32]),
            ..Channel::default()
        };
        let binding = |requested: Option<&str>| {
            let hello = Hello::new("realm1", Some("alice"), &key(1), requested);
            let info = HelloInfo {
                realm: hello.realm,
                authid: hello.authid,
                authextra: Some(&hello.extra),
                session: 1,
                now: std::time::SystemTime::now(),
            };
            match open(&provider(), &info, &channel) {
                Opening::Challenge { extra, .. } => extra.get("channel_binding").cloned(),
                _ => panic!("expected a challenge"),
            }
        };
        assert_eq!(
            binding(Some("tls-exporter")),
            Some(Value::from("tls-exporter"))
        );
        assert_eq!(binding(None), Some(Value::Null));
    }

    /// [`EveryKey`] with a router key that proves the router.
    #[derive(Debug)]
    struct ProvingRouter(SigningKey);

    impl Authenticator<CryptosignPrincipal> for ProvingRouter {
        fn principal(
            &self,
            realm: &str,
            authid: Option<&str>,
            credential: Option<&[u8]>,
        ) -> Option<(String, CryptosignPrincipal)> {
            EveryKey.principal(realm, authid, credential)
        }

        fn router_key(&self, _realm: &str) -> Option<&SigningKey> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_router_key_signs_the_client_challenge_bound_to_the_channel() {
        let channel_id = [0x33; 32];
        let plain = Channel::default();
        let tls = Channel {
            is_tls: true,
            tls_exporter: Some(channel_id),
            ..Channel::default()
        };
        let proving = Provider::Dynamic(std::sync::Arc::new(ProvingRouter(key(9))));
        let opening = |provider: &Provider<CryptosignPrincipal>, channel, binding, challenge| {
            let mut hello = Hello::new("realm1", None, &key(1), binding);
            hello.extra.insert("challenge", challenge);
            let info = HelloInfo {
                realm: hello.realm,
                authid: hello.authid,
                authextra: Some(&hello.extra),
                session: 1,
                now: std::time::SystemTime::now(),
            };
            match open(provider, &info, channel) {
                Opening::Challenge { extra, .. } => Ok(extra),
                Opening::Refuse(refusal) => Err(refusal),
                _ => panic!("expected a challenge or a refusal"),
            }
        };
        let challenge = [0x11; 32];
        for (channel, binding, message) in [
            (&plain, None, challenge),
            (
                &tls,
                Some("tls-exporter"),
                bound(challenge, Some(channel_id)),
            ),
        ] {
            let extra = opening(&proving, channel, binding, hex::encode(challenge)).unwrap();
            let text = |k: &str| extra.get(k).and_then(Value::as_str).unwrap().to_owned();
            assert_eq!(
                text("pubkey"),
                hex::encode(key(9).verifying_key().to_bytes())
            );
            let signed = hex::decode(text("signature")).unwrap();
            assert_eq!(&signed[64..], &message, "{binding:?}");
            let signature = Signature::from_slice(&signed[..64]).unwrap();
            assert!(key(9).verifying_key().verify(&message, &signature).is_ok());
        }
        // no router key, no proof; a malformed challenge is refused
        let extra = opening(&provider(), &plain, None, hex::encode(challenge));
        assert!(extra.unwrap().get("signature").is_none());
        let refusal = opening(&proving, &plain, None, "xyz".into()).unwrap_err();
        assert!(
            refusal.message.contains("authextra.challenge"),
            "{}",
            refusal.message
        );
    }
}
