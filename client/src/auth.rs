//! How a session proves who it is: WAMP-cryptosign with an Ed25519 key,
//! WAMP-CRA or WAMP-ticket with a secret, or nothing (anonymous).

use ed25519_dalek::{Signer, SigningKey};
use ringbar_protocol::value::{Dict, Value};

use crate::error::Error;
use crate::router_key::{RouterChallenge, TLS_EXPORTER, xor};
use crate::wampcra;

/// The credentials a session joins with.
#[derive(Clone)]
pub enum Credentials {
    /// No authentication: the router's `anonymous` method.
    Anonymous,
    /// WAMP-cryptosign: the public key goes in `authextra.pubkey`, the
    /// router's challenge is signed with the key. `authid` may be `None`
    /// (the router then identifies the session by its key).
    Cryptosign {
        /// The authid asked for.
        authid: Option<String>,
        /// The Ed25519 key.
        key: SigningKey,
    },
    /// WAMP-ticket: the secret is sent as it is, so only over TLS or
    /// loopback.
    Ticket {
        /// The authid.
        authid: String,
        /// The ticket (a password, a token).
        ticket: String,
    },
    /// WAMP-CRA: the secret never travels; the router's challenge is
    /// signed with it (HMAC-SHA256, salted with PBKDF2 when the router
    /// says so).
    WampCra {
        /// The authid.
        authid: String,
        /// The shared secret.
        secret: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Cryptosign { authid, .. } => write!(f, "Cryptosign({authid:?})"),
            Credentials::Ticket { authid, .. } => write!(f, "Ticket({authid:?})"),
            Credentials::WampCra { authid, .. } => write!(f, "WampCra({authid:?})"),
        }
    }
}

impl Credentials {
    /// What HELLO's details say about authentication: `authmethods`,
    /// `authid`, `authextra` (with the router challenge, for cryptosign).
    pub(crate) fn hello_details(&self, details: &mut Dict, router: Option<&RouterChallenge>) {
        let (method, authid) = match self {
            Credentials::Anonymous => ("anonymous", None),
            Credentials::Cryptosign { authid, key } => {
                let mut extra: Dict = [(
                    "pubkey",
                    Value::from(hex::encode(key.verifying_key().as_bytes())),
                )]
                .into_iter()
                .collect();
                if let Some(router) = router {
                    router.add_to(&mut extra);
                }
                details.insert("authextra", Value::Dict(extra));
                ("cryptosign", authid.clone())
            }
            Credentials::Ticket { authid, .. } => ("ticket", Some(authid.clone())),
            Credentials::WampCra { authid, .. } => ("wampcra", Some(authid.clone())),
        };
        details.insert("authmethods", Value::List(vec![Value::from(method)]));
        if let Some(authid) = authid {
            details.insert("authid", Value::from(authid));
        }
    }

    /// AUTHENTICATE's signature for a CHALLENGE of `authmethod`, on a
    /// connection whose `tls-exporter` channel binding is `tls_exporter`.
    pub(crate) fn answer(
        &self,
        authmethod: &str,
        extra: &Dict,
        tls_exporter: Option<[u8; 32]>,
    ) -> Result<String, Error> {
        match self {
            Credentials::Cryptosign { key, .. } if authmethod == "cryptosign" => {
                let mut challenge = [0u8; 32];
                extra
                    .get("challenge")
                    .and_then(Value::as_str)
                    .and_then(|text| hex::decode_to_slice(text, &mut challenge).ok())
                    .ok_or_else(|| {
                        Error::Protocol(
                            "the cryptosign CHALLENGE has no challenge of 32 bytes in hex"
                                .to_owned(),
                        )
                    })?;
                let message = match extra.get("channel_binding") {
                    None | Some(Value::Null) => challenge,
                    Some(binding) if binding.as_str() == Some(TLS_EXPORTER) => {
                        let Some(exporter) = tls_exporter else {
                            return Err(Error::Protocol(
                                "the router binds the signature to a TLS channel this connection does not have"
                                    .to_owned(),
                            ));
                        };
                        xor(challenge, Some(exporter))
                    }
                    Some(other) => {
                        return Err(Error::Protocol(format!(
                            "the router asks for the channel binding {other:?}, which this client does not do (only {TLS_EXPORTER})"
                        )));
                    }
                };
                // The signature followed by the message signed (Autobahn's form).
                let signature = key.sign(&message);
                Ok(format!(
                    "{}{}",
                    hex::encode(signature.to_bytes()),
                    hex::encode(message)
                ))
            }
            Credentials::Ticket { ticket, .. } if authmethod == "ticket" => Ok(ticket.clone()),
            Credentials::WampCra { secret, .. } if authmethod == "wampcra" => {
                wampcra::signature(secret, extra)
            }
            _ => Err(Error::Protocol(format!(
                "the router challenged with '{authmethod}', which these credentials ({self:?}) cannot answer"
            ))),
        }
    }
}
