//! How sessions authenticate, as the config says: the methods a transport
//! accepts and where each finds its principals. The node reads them from
//! `config.json`; a program embedding the router may find principals
//! itself ([`Authenticator`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

/// How sessions authenticate on a transport: the methods it accepts, each
/// with its principals. A client's `authmethods` are tried in the client's
/// order; the first one configured here decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `anonymous`: sessions that prove nothing get this role.
    pub anonymous: Option<AnonymousAuth>,
    /// `ticket`: a shared secret sent in clear (over TLS, one hopes).
    pub ticket: Option<Provider<TicketPrincipal>>,
    /// `wampcra`: challenge-response with an HMAC-SHA256 of a shared secret.
    pub wampcra: Option<Provider<WampCraPrincipal>>,
    /// `cryptosign`: an Ed25519 signature of a random challenge.
    pub cryptosign: Option<Provider<CryptosignPrincipal>>,
    /// `tls`: the client certificate presented in the TLS handshake.
    pub tls: Option<Provider<TlsPrincipal>>,
}

impl AuthConfig {
    /// Anonymous sessions only, with `role`.
    pub fn anonymous(role: &str) -> Self {
        Self {
            anonymous: Some(AnonymousAuth {
                role: role.to_owned(),
                authid: None,
            }),
            ..Self::none()
        }
    }

    /// No method: every session is refused.
    pub fn none() -> Self {
        Self {
            anonymous: None,
            ticket: None,
            wampcra: None,
            cryptosign: None,
            tls: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self::anonymous("anonymous")
    }
}

/// `anonymous` authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousAuth {
    /// The role anonymous sessions get.
    pub role: String,
    /// `authid`: the authid every anonymous session gets; `None` gives
    /// each a random one. The authid a client asks for is never taken (it
    /// proved nothing).
    pub authid: Option<String>,
}

/// Where the principals of a method come from: the config's `principals`
/// (`static`), or an [`Authenticator`] of the program that runs the router
/// (`dynamic`).
#[derive(Debug, Clone)]
pub enum Provider<P> {
    /// `"type": "static"`: principals by authid.
    Static(BTreeMap<String, P>),
    /// Principals found when a session authenticates, by code in the same
    /// process (e.g. from a database); WELCOME's `authprovider` is
    /// `dynamic`.
    Dynamic(Arc<dyn Authenticator<P>>),
    /// `"type": "dynamic"` in the config: a WAMP procedure that some
    /// session registered, called by the router for each authentication;
    /// WELCOME's `authprovider` is `dynamic`.
    Procedure(AuthenticatorProcedure),
}

/// A dynamic authenticator: the procedure the router calls with
/// `(realm, authid, details)`, as Crossbar.io does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorProcedure {
    /// `authenticator`: the procedure's URI.
    pub procedure: String,
    /// `authenticator-realm`: the realm it is registered on; `None` means
    /// the realm the session asks to join.
    pub realm: Option<String>,
}

impl<P: PartialEq> PartialEq for Provider<P> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Provider::Static(a), Provider::Static(b)) => a == b,
            (Provider::Dynamic(a), Provider::Dynamic(b)) => Arc::ptr_eq(a, b),
            (Provider::Procedure(a), Provider::Procedure(b)) => a == b,
            _ => false,
        }
    }
}

impl<P: Eq> Eq for Provider<P> {}

/// Finds principals when a session authenticates, for a program that keeps
/// them itself rather than in the config. It runs on the core thread that
/// handles the HELLO, so it must answer quickly (an in-memory or embedded
/// database lookup, not a network call).
pub trait Authenticator<P>: Send + Sync + std::fmt::Debug {
    /// The principal a HELLO to `realm` authenticates as, with its authid:
    /// by `authid` when the client sent one, else by `credential` (for
    /// `cryptosign` the public key the client announced, for `tls` the
    /// SHA-1 fingerprint of its certificate). `None` when there is none.
    /// The method still checks the proof (signature, ticket, ...) against
    /// the principal returned.
    fn principal(
        &self,
        realm: &str,
        authid: Option<&str>,
        credential: Option<&[u8]>,
    ) -> Option<(String, P)>;

    /// For `ticket`: whether `ticket` is the secret of `authid` in `realm`,
    /// for a program that keeps only a hash of it (a password checked
    /// against its argon2 hash). `None`, the default, compares the ticket
    /// with the principal's `ticket` in constant time.
    fn verify_ticket(&self, realm: &str, authid: &str, ticket: &str) -> Option<bool> {
        let _ = (realm, authid, ticket);
        None
    }

    /// For `cryptosign`: the router's own Ed25519 key in `realm`, with
    /// which it proves itself to a client that sends a challenge
    /// (WAMP-cryptosign router authentication). `None`, the default, sends
    /// no proof. The router signs whatever challenge a client sends, so
    /// the key must sign nothing else (no client session of its own), or a
    /// client could have it sign another router's challenge.
    fn router_key(&self, realm: &str) -> Option<&SigningKey> {
        let _ = realm;
        None
    }
}

/// What every static principal has: the role it gets, and the one realm it
/// may join (any realm when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The `authrole` the session gets.
    pub role: String,
    /// `realm`: the only realm this principal may join.
    pub realm: Option<String>,
}

/// A secret from the config; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A `ticket` principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPrincipal {
    /// `ticket`: the secret the client sends.
    pub ticket: Secret,
    /// Role and realm.
    pub grant: Grant,
}

/// A `wampcra` principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WampCraPrincipal {
    /// The HMAC key: the configured `secret` itself, or with `salt` the
    /// key derived from it (the secret is then the password).
    key: Secret,
    /// `salt`, `iterations`, `keylen`: sent to the client in the CHALLENGE
    /// so it can derive the same key.
    salt: Option<Pbkdf2Params>,
    /// Role and realm.
    pub grant: Grant,
}

impl WampCraPrincipal {
    /// A principal with `secret`; with `salt`, the key is derived once here
    /// (PBKDF2-HMAC-SHA256), not on every CHALLENGE.
    pub fn new(secret: &Secret, salt: Option<Pbkdf2Params>, grant: Grant) -> Self {
        let key = match &salt {
            Some(params) => Secret(super::wampcra_key(secret.0.as_bytes(), params)),
            None => secret.clone(),
        };
        Self { key, salt, grant }
    }

    /// The HMAC key.
    pub fn key(&self) -> &Secret {
        &self.key
    }

    /// The PBKDF2 parameters a client needs, when the secret is salted.
    pub fn salt(&self) -> Option<&Pbkdf2Params> {
        self.salt.as_ref()
    }
}

/// PBKDF2 parameters of a salted WAMP-CRA secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pbkdf2Params {
    /// `salt`, used as its UTF-8 bytes.
    pub salt: String,
    /// `iterations` (at least 1).
    pub iterations: u32,
    /// `keylen`: derived key bytes (at least 1).
    pub keylen: u32,
}

/// A `cryptosign` principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptosignPrincipal {
    /// `authorized_keys`: the Ed25519 public keys that may sign as it.
    pub authorized_keys: Vec<[u8; 32]>,
    /// Role and realm.
    pub grant: Grant,
}

/// A `tls` principal: a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPrincipal {
    /// `certificate-sha1`: the SHA-1 fingerprint of the client's
    /// certificate (DER).
    pub certificate_sha1: [u8; 20],
    /// Role and realm.
    pub grant: Grant,
}
