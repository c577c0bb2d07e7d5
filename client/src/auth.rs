//! How a session proves who it is: WAMP-cryptosign with an Ed25519 key,
//! WAMP-ticket with a secret, or nothing (anonymous).

use ed25519_dalek::{Signer, SigningKey};
use ringbar_protocol::value::{Dict, Value};

use crate::error::Error;

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
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Cryptosign { authid, .. } => write!(f, "Cryptosign({authid:?})"),
            Credentials::Ticket { authid, .. } => write!(f, "Ticket({authid:?})"),
        }
    }
}

impl Credentials {
    /// What HELLO's details say about authentication: `authmethods`,
    /// `authid`, `authextra`.
    pub(crate) fn hello_details(&self, details: &mut Dict) {
        let (method, authid) = match self {
            Credentials::Anonymous => ("anonymous", None),
            Credentials::Cryptosign { authid, key } => {
                let extra: Dict = [(
                    "pubkey",
                    Value::from(hex::encode(key.verifying_key().as_bytes())),
                )]
                .into_iter()
                .collect();
                details.insert("authextra", Value::Dict(extra));
                ("cryptosign", authid.clone())
            }
            Credentials::Ticket { authid, .. } => ("ticket", Some(authid.clone())),
        };
        details.insert("authmethods", Value::List(vec![Value::from(method)]));
        if let Some(authid) = authid {
            details.insert("authid", Value::from(authid));
        }
    }

    /// AUTHENTICATE's signature for a CHALLENGE of `authmethod`.
    pub(crate) fn answer(&self, authmethod: &str, extra: &Dict) -> Result<String, Error> {
        match self {
            Credentials::Cryptosign { key, .. } if authmethod == "cryptosign" => {
                let challenge = extra
                    .get("challenge")
                    .and_then(Value::as_str)
                    .and_then(|text| hex::decode(text).ok())
                    .ok_or_else(|| {
                        Error::Protocol("the cryptosign CHALLENGE has no hex challenge".to_owned())
                    })?;
                if extra
                    .get("channel_binding")
                    .is_some_and(|b| *b != Value::Null)
                {
                    return Err(Error::Protocol(
                        "the router asks for TLS channel binding, which this client does not do"
                            .to_owned(),
                    ));
                }
                // The signature followed by the message signed (Autobahn's form).
                let signature = key.sign(&challenge);
                Ok(format!(
                    "{}{}",
                    hex::encode(signature.to_bytes()),
                    hex::encode(&challenge)
                ))
            }
            Credentials::Ticket { ticket, .. } if authmethod == "ticket" => Ok(ticket.clone()),
            _ => Err(Error::Protocol(format!(
                "the router challenged with '{authmethod}', which these credentials ({self:?}) cannot answer"
            ))),
        }
    }
}
