//! Authentication: from a session's HELLO to the identity it joins with
//! (WELCOME), through a CHALLENGE and AUTHENTICATE where the method needs
//! proof. One file per method; this module picks the method.
//!
//! The client's `authmethods` are tried in the client's order and the first
//! one the transport configures decides, as Crossbar.io does. Every refusal
//! is `wamp.error.not_authorized` (nothing to try) or
//! `wamp.error.authentication_failed` (a proof was wrong), with a message
//! that names no secret. Unknown authids get a challenge like known ones
//! and fail at AUTHENTICATE, so that a client cannot probe which authids
//! exist.

mod anonymous;
pub mod config;
mod cryptosign;
mod limiter;
mod procedure;
mod ticket;
mod tls;
mod wampcra;

use std::borrow::Cow;

use std::time::SystemTime;

use crate::error::RoutingError;
use ringbar_protocol::value::{Dict, Value};
use subtle::ConstantTimeEq;

use crate::auth::config::{AuthConfig, AuthenticatorProcedure, Grant, Provider};

pub use limiter::FailureLimiter;
pub use procedure::Ask;
pub use wampcra::derive_key as wampcra_key;

/// What the router knows of a HELLO, for authentication.
pub struct HelloInfo<'a> {
    /// The realm asked for.
    pub realm: &'a str,
    /// `authid`, when the client gave one.
    pub authid: Option<&'a str>,
    /// `authextra`, when the client gave one.
    pub authextra: Option<&'a Dict>,
    /// The session id the session will get (WAMP-CRA signs it).
    pub session: u64,
    /// When the HELLO came, on the wall clock (WAMP-CRA's challenge
    /// carries it): handed in, since the router reads no clock.
    pub now: SystemTime,
}

/// What decides an opening once worked out off the core (a proof
/// checked, an authenticator's answer read), with WELCOME's `authextra`
/// an authenticator gave.
pub type Decided = (Opening, Option<Dict>);

/// Where work too slow for a core runs (a password hash, a key derived
/// with up to a million PBKDF2 iterations): the driver's bounded pool of
/// threads, so a login storm neither stalls routing nor starts a thread
/// per login.
pub trait SlowWork: Send + Sync {
    /// Runs `work` off the core, then hands its result to `done` on the
    /// core that asked (`None` when the driver is stopping).
    fn start(
        &self,
        work: Box<dyn FnOnce() -> Decided + Send>,
        done: Box<dyn FnOnce(Option<Decided>)>,
    );
}

/// What the transport knows of the peer.
#[derive(Debug, Default, Clone)]
pub struct Channel {
    /// The SHA-1 fingerprint of the client's TLS certificate, when the
    /// transport is TLS and the client presented a verified certificate.
    pub client_certificate_sha1: Option<[u8; 20]>,
    /// Whether the transport is TLS.
    pub is_tls: bool,
    /// The connection's `tls-exporter` channel binding (RFC 9266), when it
    /// is TLS 1.3.
    pub tls_exporter: Option<[u8; 32]>,
}

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `authid`.
    pub authid: String,
    /// `authrole`.
    pub authrole: String,
    /// `authmethod`, e.g. `ticket`.
    pub authmethod: &'static str,
    /// `authprovider`, e.g. `static`.
    pub authprovider: &'static str,
}

/// Why a session may not join: the ABORT's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The ABORT's reason.
    pub reason: AbortReason,
    /// A message for the client; never names a secret.
    pub message: String,
    /// Whether this counts as a failed attempt for rate limiting (a wrong
    /// proof), rather than a request the router cannot serve.
    pub failed_attempt: bool,
}

impl Refusal {
    /// `wamp.error.not_authorized` with `message`.
    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self {
            reason: AbortReason::Router(RoutingError::NotAuthorized),
            message: message.into(),
            failed_attempt: false,
        }
    }

    /// `wamp.error.authentication_failed` with `message`: a wrong proof.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            reason: AbortReason::Router(RoutingError::AuthenticationFailed),
            message: message.into(),
            failed_attempt: true,
        }
    }
}

/// The reason URI of an ABORT that refuses a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortReason {
    /// One of the router's own.
    Router(RoutingError),
    /// A dynamic authenticator's own error URI, passed on as Crossbar.io
    /// passes it on.
    Authenticator(String),
}

impl AbortReason {
    /// The URI, as on the wire.
    pub fn uri(&self) -> &str {
        match self {
            Self::Router(error) => error.uri(),
            Self::Authenticator(uri) => uri,
        }
    }
}

/// The router's answer to a HELLO.
pub enum Opening {
    /// Welcome the session now (anonymous, TLS certificate).
    Welcome(Accepted),
    /// Send CHALLENGE and wait for AUTHENTICATE.
    Challenge {
        /// The CHALLENGE's `AuthMethod`.
        authmethod: &'static str,
        /// The CHALLENGE's `Extra`.
        extra: Dict,
        /// What checks the AUTHENTICATE.
        pending: Pending,
    },
    /// Ask a dynamic authenticator, then go on with its answer.
    Ask(Ask),
    /// ABORT.
    Refuse(Refusal),
}

/// A challenge sent, waiting for the client's AUTHENTICATE.
pub enum Pending {
    /// WAMP-Ticket.
    Ticket(ticket::Pending),
    /// WAMP-Ticket judged by a dynamic authenticator.
    TicketAsk(procedure::TicketPending),
    /// WAMP-CRA.
    WampCra(wampcra::Pending),
    /// WAMP-Cryptosign.
    Cryptosign(Box<cryptosign::Pending>),
}

impl Pending {
    /// Goes on with the AUTHENTICATE's `signature`: WELCOME, ABORT, or ask
    /// the dynamic authenticator.
    pub fn check(self, signature: &str) -> Opening {
        let checked = match self {
            Pending::TicketAsk(p) => return p.ask(signature),
            other => other.authenticate(signature),
        };
        match checked {
            Ok(accepted) => Opening::Welcome(accepted),
            Err(refusal) => Opening::Refuse(refusal),
        }
    }

    /// Checks the AUTHENTICATE's `signature` against the proof expected
    /// (a ticket judged by a dynamic authenticator goes through
    /// [`Pending::check`] instead).
    pub fn authenticate(self, signature: &str) -> Result<Accepted, Refusal> {
        match self {
            Pending::Ticket(p) => p.authenticate(signature),
            Pending::TicketAsk(_) => Err(Refusal::not_authorized(
                "this ticket is judged by the dynamic authenticator",
            )),
            Pending::WampCra(p) => p.authenticate(signature),
            Pending::Cryptosign(p) => (*p).authenticate(signature),
        }
    }

    /// The method that sent the challenge.
    pub fn authmethod(&self) -> &'static str {
        match self {
            Pending::Ticket(_) | Pending::TicketAsk(_) => ticket::AUTHMETHOD,
            Pending::WampCra(_) => wampcra::AUTHMETHOD,
            Pending::Cryptosign(_) => cryptosign::AUTHMETHOD,
        }
    }
}

/// Picks the method for `hello` from the client's `authmethods` (default
/// `["anonymous"]`) and starts it.
pub fn open(
    config: &AuthConfig,
    authmethods: &[&str],
    hello: &HelloInfo<'_>,
    channel: &Channel,
) -> Opening {
    for method in authmethods {
        let asked = match *method {
            ticket::AUTHMETHOD => {
                procedure_of(config.ticket.as_ref()).map(|p| (p, ticket::AUTHMETHOD))
            }
            wampcra::AUTHMETHOD => {
                procedure_of(config.wampcra.as_ref()).map(|p| (p, wampcra::AUTHMETHOD))
            }
            cryptosign::AUTHMETHOD => {
                procedure_of(config.cryptosign.as_ref()).map(|p| (p, cryptosign::AUTHMETHOD))
            }
            _ => None,
        };
        if let Some((p, authmethod)) = asked {
            return procedure::open(p, authmethod, hello, channel);
        }
        let started = match *method {
            anonymous::AUTHMETHOD => config.anonymous.as_ref().map(anonymous::open),
            ticket::AUTHMETHOD => config.ticket.as_ref().map(|p| ticket::open(p, hello)),
            wampcra::AUTHMETHOD => config.wampcra.as_ref().map(|p| wampcra::open(p, hello)),
            cryptosign::AUTHMETHOD => config
                .cryptosign
                .as_ref()
                .map(|p| cryptosign::open(p, hello, channel)),
            tls::AUTHMETHOD => config.tls.as_ref().map(|p| tls::open(p, hello, channel)),
            _ => None,
        };
        if let Some(opening) = started {
            return opening;
        }
    }
    Opening::Refuse(Refusal {
        reason: AbortReason::Router(RoutingError::NoAuthMethod),
        message: format!(
            "cannot authenticate using any of the offered authmethods [{}] on this transport",
            authmethods.join(", ")
        ),
        failed_attempt: false,
    })
}

/// The dynamic authenticator procedure of `provider`, when it is one.
fn procedure_of<P>(provider: Option<&Provider<P>>) -> Option<&AuthenticatorProcedure> {
    match provider {
        Some(Provider::Procedure(p)) => Some(p),
        _ => None,
    }
}

/// The principal `authid` of `provider` for a HELLO to `realm`, if it has
/// one.
fn principal<'p, P: Clone>(
    provider: &'p Provider<P>,
    realm: &str,
    authid: &str,
) -> Option<Cow<'p, P>> {
    match provider {
        Provider::Static(principals) => principals.get(authid).map(Cow::Borrowed),
        Provider::Dynamic(authenticator) => authenticator
            .principal(realm, Some(authid), None)
            .filter(|(found, _)| found == authid)
            .map(|(_, p)| Cow::Owned(p)),
        // Asked of the procedure before any lookup (see `procedure`).
        Provider::Procedure(_) => None,
    }
}

/// The static authprovider name, as WELCOME reports it.
const STATIC: &str = "static";

/// The dynamic authprovider name, as WELCOME reports it.
const DYNAMIC: &str = "dynamic";

/// The authprovider name of `provider`, as WELCOME reports it.
fn provider_name<P>(provider: &Provider<P>) -> &'static str {
    match provider {
        Provider::Static(_) => STATIC,
        Provider::Dynamic(_) | Provider::Procedure(_) => DYNAMIC,
    }
}

/// Whether `grant` allows joining `realm`.
fn realm_allowed(grant: &Grant, realm: &str) -> Result<(), Refusal> {
    match &grant.realm {
        Some(only) if only != realm => Err(Refusal::not_authorized(format!(
            "this principal may not join realm '{realm}'"
        ))),
        _ => Ok(()),
    }
}

/// `a == b` in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `N` bytes from the operating system's random source.
fn random_bytes<const N: usize>() -> Result<[u8; N], Refusal> {
    use rand::TryRngCore;
    let mut out = [0u8; N];
    rand::rngs::OsRng.try_fill_bytes(&mut out).map_err(|e| {
        tracing::warn!(error = %e, "no randomness for an authentication challenge");
        Refusal::not_authorized("the router cannot make a challenge now; try again")
    })?;
    Ok(out)
}

/// A string from `authextra`.
fn extra_str<'a>(hello: &'a HelloInfo<'_>, key: &str) -> Option<&'a str> {
    hello.authextra?.get(key).and_then(Value::as_str)
}
