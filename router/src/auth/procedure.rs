//! Dynamic authenticators: a WAMP procedure, registered by some session,
//! that the router calls with `(realm, authid, details)` as Crossbar.io
//! does. For `ticket` it is asked after AUTHENTICATE (the ticket is
//! `details.ticket`) and its answer is the verdict; for `wampcra` and
//! `cryptosign` it is asked at HELLO for the principal (`secret`, or
//! `pubkey`), and the method then checks the proof as for a static one.
//!
//! It answers a role, or a dictionary with `role` and optionally `authid`,
//! `realm` and `extra` (for WELCOME's `authextra`); an ERROR refuses the session with the ERROR's URI and
//! message, as in Crossbar.io.

use std::sync::Arc;
use std::time::SystemTime;

use crate::error::RoutingError;
use ringbar_protocol::value::{Dict, Value};

use super::{
    AbortReason, Accepted, Channel, DYNAMIC, HelloInfo, Opening, Pending as AnyPending, Refusal,
    cryptosign, realm_allowed, ticket, wampcra,
};
use crate::auth::config::{
    Authenticator, AuthenticatorProcedure, CryptosignPrincipal, Grant, Pbkdf2Params, Provider,
    Secret, WampCraPrincipal,
};
use crate::error::{RouterCallFailure, RouterCallResult};

/// The most PBKDF2 iterations accepted from an authenticator (more would
/// hold a slow-work thread for every CHALLENGE). This and [`MAX_KEYLEN`]
/// say which WAMP-CRA salt parameters are valid, the rule a config file's
/// secrets meet too (`node/src/config/convert/auth.rs` holds the same two):
/// a validity rule, not a limit a deployment tunes.
const MAX_ITERATIONS: u64 = 1_000_000;
/// The longest PBKDF2 key accepted from an authenticator, bytes.
const MAX_KEYLEN: u64 = 1024;

/// A question for a dynamic authenticator, and what its answer decides.
pub struct Ask {
    /// The procedure to call.
    pub procedure: String,
    /// The realm it is registered on.
    pub realm: String,
    /// `(realm, authid, details)`.
    pub args: Vec<Value>,
    /// What the answer is for.
    then: Then,
}

/// What a dynamic authenticator's answer is for.
enum Then {
    /// WAMP-Ticket, after AUTHENTICATE: the answer is the verdict.
    Verdict(HelloFacts),
    /// WAMP-CRA, at HELLO: the answer gives the secret to challenge with.
    WampCra(HelloFacts),
    /// WAMP-Cryptosign, at HELLO: the answer gives the key that must sign.
    Cryptosign(HelloFacts, Channel),
}

/// What a HELLO said, kept while the authenticator is asked.
#[derive(Clone)]
pub(super) struct HelloFacts {
    realm: String,
    authid: Option<String>,
    authextra: Option<Dict>,
    session: u64,
    now: SystemTime,
}

impl HelloFacts {
    fn of(hello: &HelloInfo<'_>) -> Self {
        Self {
            realm: hello.realm.to_owned(),
            authid: hello.authid.map(str::to_owned),
            authextra: hello.authextra.cloned(),
            session: hello.session,
            now: hello.now,
        }
    }

    /// As a [`HelloInfo`], with `authid` in place of the client's.
    fn info<'a>(&'a self, authid: Option<&'a str>) -> HelloInfo<'a> {
        HelloInfo {
            realm: &self.realm,
            authid,
            authextra: self.authextra.as_ref(),
            session: self.session,
            now: self.now,
        }
    }
}

/// A ticket challenge sent; the authenticator judges the ticket.
pub struct TicketPending {
    procedure: AuthenticatorProcedure,
    hello: HelloFacts,
}

impl TicketPending {
    /// The question for the authenticator about `ticket`.
    pub fn ask(self, ticket_given: &str) -> Opening {
        let mut details = details(&self.hello, ticket::AUTHMETHOD);
        details.insert("ticket", ticket_given);
        Opening::Ask(ask(&self.procedure, &self.hello, details, |h| {
            Then::Verdict(h)
        }))
    }
}

/// Starts `authmethod` with a dynamic authenticator.
pub(super) fn open(
    procedure: &AuthenticatorProcedure,
    authmethod: &'static str,
    hello: &HelloInfo<'_>,
    channel: &Channel,
) -> Opening {
    let facts = HelloFacts::of(hello);
    let details = details(&facts, authmethod);
    match authmethod {
        ticket::AUTHMETHOD => Opening::Challenge {
            authmethod,
            extra: Dict::new(),
            pending: AnyPending::TicketAsk(TicketPending {
                procedure: procedure.clone(),
                hello: facts,
            }),
        },
        wampcra::AUTHMETHOD => Opening::Ask(ask(procedure, &facts, details, Then::WampCra)),
        _ => Opening::Ask(ask(procedure, &facts, details, |h| {
            Then::Cryptosign(h, channel.clone())
        })),
    }
}

impl Ask {
    /// `details`, the third argument, for the router to add what the
    /// transport knows.
    pub fn details_mut(&mut self) -> Option<&mut Dict> {
        match self.args.get_mut(2) {
            Some(Value::Dict(details)) => Some(details),
            _ => None,
        }
    }

    /// What the authenticator's answer (or its failure) decides, and the
    /// `extra` it gave for WELCOME's `authextra`.
    pub fn answer(
        self,
        answer: Result<RouterCallResult, RouterCallFailure>,
    ) -> (Opening, Option<Dict>) {
        let found = match answer {
            Ok((args, kwargs)) => principal(args, kwargs),
            Err(failure) => Err(refusal(&self.procedure, &self.realm, failure)),
        };
        let mut found = match found {
            Ok(found) => found,
            Err(refusal) => return (Opening::Refuse(refusal), None),
        };
        let extra = found.extra.take();
        let opening = match self.then {
            Then::Verdict(hello) => verdict(&hello, found),
            Then::WampCra(hello) => challenge_wampcra(&hello, found),
            Then::Cryptosign(hello, channel) => challenge_cryptosign(&hello, &channel, found),
        };
        (opening, extra)
    }
}

/// The ABORT for an authenticator that could not be asked or refused.
fn refusal(procedure: &str, realm: &str, failure: RouterCallFailure) -> Refusal {
    let unavailable = |why: &str| {
        Refusal::not_authorized(format!(
            "the dynamic authenticator '{procedure}' on realm '{realm}' {why}; try again later"
        ))
    };
    match failure {
        RouterCallFailure::NoCallee => unavailable("is not registered"),
        RouterCallFailure::Error { error, message } => match RoutingError::from_uri(error.as_str())
        {
            Some(RoutingError::Timeout) => unavailable("did not answer in time"),
            Some(RoutingError::Canceled) => unavailable("left before it answered"),
            Some(RoutingError::Unavailable) => unavailable("is overloaded"),
            // The authenticator's own refusal: its URI and message, as
            // Crossbar.io passes them on; a wrong credential counts as a
            // failed attempt.
            _ => Refusal {
                reason: AbortReason::Authenticator(error.as_str().to_owned()),
                message: message.unwrap_or_else(|| "the dynamic authenticator refused".to_owned()),
                failed_attempt: true,
            },
        },
    }
}

/// What an authenticator answered.
struct Found {
    authid: Option<String>,
    grant: Grant,
    /// `secret` (WAMP-CRA) with its PBKDF2 parameters.
    secret: Option<(String, Option<Pbkdf2Params>)>,
    /// `pubkey` (cryptosign), hex.
    pubkey: Option<String>,
    /// `extra`: WELCOME's `authextra`.
    extra: Option<Dict>,
}

/// Reads an authenticator's answer: a role, or a dictionary with `role`.
fn principal(args: Vec<Value>, kwargs: Dict) -> Result<Found, Refusal> {
    let answer = match args.into_iter().next() {
        Some(first) => first,
        None if !kwargs.is_empty() => Value::Dict(kwargs),
        None => Value::Null,
    };
    let invalid = |why: &str| Refusal {
        reason: AbortReason::Router(RoutingError::AuthenticationFailed),
        message: format!(
            "the dynamic authenticator's answer is invalid: {why} (expected a role, or a dictionary with \"role\")"
        ),
        failed_attempt: false,
    };
    let dict = match answer {
        Value::Str(role) => {
            return Ok(Found {
                authid: None,
                grant: Grant { role, realm: None },
                secret: None,
                pubkey: None,
                extra: None,
            });
        }
        Value::Dict(dict) => dict,
        _ => return Err(invalid("not a string or dictionary")),
    };
    let text = |key: &str| -> Result<Option<String>, Refusal> {
        match dict.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(&format!("\"{key}\" is not a string"))),
        }
    };
    let number = |key: &str, max: u64| -> Result<Option<u32>, Refusal> {
        match dict.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::UInt(n)) if (1..=max).contains(n) => Ok(u32::try_from(*n).ok()),
            Some(_) => Err(invalid(&format!("\"{key}\" is not a number in 1..={max}"))),
        }
    };
    let Some(role) = text("role")? else {
        return Err(invalid("no \"role\""));
    };
    let salt = match (
        text("salt")?,
        number("iterations", MAX_ITERATIONS)?,
        number("keylen", MAX_KEYLEN)?,
    ) {
        (Some(salt), iterations, keylen) => Some(Pbkdf2Params {
            salt,
            iterations: iterations.unwrap_or(1000),
            keylen: keylen.unwrap_or(32),
        }),
        (None, _, _) => None,
    };
    Ok(Found {
        authid: text("authid")?,
        grant: Grant {
            role,
            realm: text("realm")?,
        },
        secret: text("secret")?.map(|secret| (secret, salt)),
        pubkey: text("pubkey")?,
        extra: dict.get("extra").and_then(Value::as_dict).cloned(),
    })
}

/// The authid the session gets: the authenticator's, else the client's.
fn authid(hello: &HelloFacts, found: &Found) -> Result<String, Refusal> {
    found
        .authid
        .clone()
        .or_else(|| hello.authid.clone())
        .ok_or_else(|| {
            Refusal::not_authorized(
                "no authid: send one in HELLO, or have the dynamic authenticator return one",
            )
        })
}

/// WAMP-Ticket: the authenticator accepted the ticket.
fn verdict(hello: &HelloFacts, found: Found) -> Opening {
    let checked = authid(hello, &found)
        .and_then(|authid| realm_allowed(&found.grant, &hello.realm).map(|()| authid));
    match checked {
        Ok(authid) => Opening::Welcome(Accepted {
            authid,
            authrole: found.grant.role,
            authmethod: ticket::AUTHMETHOD,
            authprovider: DYNAMIC,
        }),
        Err(refusal) => Opening::Refuse(refusal),
    }
}

/// WAMP-CRA: challenge with the secret the authenticator gave.
fn challenge_wampcra(hello: &HelloFacts, found: Found) -> Opening {
    let authid = match authid(hello, &found) {
        Ok(authid) => authid,
        Err(refusal) => return Opening::Refuse(refusal),
    };
    let Some((secret, salt)) = found.secret else {
        return Opening::Refuse(Refusal::not_authorized(
            "the dynamic authenticator gave no \"secret\" for WAMP-CRA",
        ));
    };
    let principal = WampCraPrincipal::new(&Secret(secret), salt, found.grant);
    let provider = Provider::Dynamic(Arc::new(Answered {
        authid: authid.clone(),
        principal,
    }));
    wampcra::open(&provider, &hello.info(Some(&authid)))
}

/// WAMP-Cryptosign: challenge the client to sign with the key the
/// authenticator gave.
fn challenge_cryptosign(hello: &HelloFacts, channel: &Channel, found: Found) -> Opening {
    let authid = match authid(hello, &found) {
        Ok(authid) => authid,
        Err(refusal) => return Opening::Refuse(refusal),
    };
    let key = found.pubkey.as_deref().and_then(|text| {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key)
            .ok()
            .map(|()| key)
    });
    let Some(key) = key else {
        return Opening::Refuse(Refusal::not_authorized(
            "the dynamic authenticator gave no \"pubkey\" (64 hex digits) for cryptosign",
        ));
    };
    let provider = Provider::Dynamic(Arc::new(Answered {
        authid: authid.clone(),
        principal: CryptosignPrincipal {
            authorized_keys: vec![key],
            grant: found.grant,
        },
    }));
    cryptosign::open(&provider, &hello.info(Some(&authid)), channel)
}

/// The one principal an authenticator answered, for the method to check
/// the proof against.
#[derive(Debug)]
struct Answered<P> {
    authid: String,
    principal: P,
}

impl<P: Clone + Send + Sync + std::fmt::Debug> Authenticator<P> for Answered<P> {
    fn principal(
        &self,
        _realm: &str,
        _authid: Option<&str>,
        _credential: Option<&[u8]>,
    ) -> Option<(String, P)> {
        Some((self.authid.clone(), self.principal.clone()))
    }
}

/// The question to `procedure`.
fn ask(
    procedure: &AuthenticatorProcedure,
    hello: &HelloFacts,
    details: Dict,
    then: impl FnOnce(HelloFacts) -> Then,
) -> Ask {
    let authid = hello.authid.as_deref().map_or(Value::Null, Value::from);
    Ask {
        procedure: procedure.procedure.clone(),
        realm: procedure
            .realm
            .clone()
            .unwrap_or_else(|| hello.realm.clone()),
        args: vec![
            Value::from(hello.realm.as_str()),
            authid,
            Value::Dict(details),
        ],
        then: then(hello.clone()),
    }
}

/// `details`, as Crossbar.io passes them (the router adds `transport`).
fn details(hello: &HelloFacts, authmethod: &'static str) -> Dict {
    let authid = hello.authid.as_deref().map_or(Value::Null, Value::from);
    let authextra = hello.authextra.clone().map_or(Value::Null, Value::Dict);
    [
        ("session", Value::UInt(hello.session)),
        ("authmethod", Value::from(authmethod)),
        ("authid", authid),
        ("authextra", authextra),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_AUTHORIZED: AbortReason = AbortReason::Router(RoutingError::NotAuthorized);
    const AUTHENTICATION_FAILED: AbortReason =
        AbortReason::Router(RoutingError::AuthenticationFailed);

    fn facts(authid: Option<&str>) -> HelloFacts {
        HelloFacts {
            realm: "realm1".into(),
            authid: authid.map(str::to_owned),
            authextra: None,
            session: 7,
            now: std::time::SystemTime::now(),
        }
    }

    fn answered(value: Value) -> Result<RouterCallResult, RouterCallFailure> {
        Ok((vec![value], Dict::new()))
    }

    fn verdict_of(answer: Result<RouterCallResult, RouterCallFailure>) -> Opening {
        let procedure = AuthenticatorProcedure {
            procedure: "com.example.authenticate".into(),
            realm: None,
        };
        let pending = TicketPending {
            procedure,
            hello: facts(Some("joe")),
        };
        match pending.ask("secret!") {
            Opening::Ask(ask) => {
                assert_eq!(ask.realm, "realm1");
                assert_eq!(ask.args[0], Value::from("realm1"));
                assert_eq!(ask.args[1], Value::from("joe"));
                let details = ask.args[2].as_dict().cloned().unwrap_or_default();
                assert_eq!(details.get("ticket"), Some(&Value::from("secret!")));
                ask.answer(answer).0
            }
            _ => panic!("a ticket is judged by the authenticator"),
        }
    }

    #[test]
    fn a_role_or_a_dictionary_welcomes() {
        match verdict_of(answered(Value::from("frontend"))) {
            Opening::Welcome(a) => {
                assert_eq!(
                    (a.authid.as_str(), a.authrole.as_str()),
                    ("joe", "frontend")
                );
                assert_eq!(a.authprovider, "dynamic");
            }
            _ => panic!("welcome expected"),
        }
        let dict: Dict = [
            ("role", Value::from("backend")),
            ("authid", Value::from("joseph")),
        ]
        .into_iter()
        .collect();
        match verdict_of(answered(Value::Dict(dict))) {
            Opening::Welcome(a) => assert_eq!(
                (a.authid.as_str(), a.authrole.as_str()),
                ("joseph", "backend")
            ),
            _ => panic!("welcome expected"),
        }
    }

    #[test]
    fn errors_and_bad_answers_refuse() {
        let refused = |opening: Opening| match opening {
            Opening::Refuse(r) => r,
            _ => panic!("refusal expected"),
        };
        let r = refused(verdict_of(Err(RouterCallFailure::Error {
            error: "com.example.invalid_ticket".into(),
            message: Some("bad ticket".into()),
        })));
        assert_eq!(
            (r.reason.uri(), r.message.as_str()),
            ("com.example.invalid_ticket", "bad ticket")
        );
        assert!(r.failed_attempt);
        let r = refused(verdict_of(Err(RouterCallFailure::NoCallee)));
        assert_eq!(r.reason, NOT_AUTHORIZED);
        assert!(
            r.message.contains("'com.example.authenticate'")
                && r.message.contains("not registered")
        );
        let r = refused(verdict_of(Err(RouterCallFailure::Error {
            error: RoutingError::Timeout.uri().into(),
            message: None,
        })));
        assert!(r.message.contains("did not answer in time"));
        let r = refused(verdict_of(answered(Value::UInt(3))));
        assert_eq!(r.reason, AUTHENTICATION_FAILED);
        let dict: Dict = [("role", Value::from("x")), ("realm", Value::from("other"))]
            .into_iter()
            .collect();
        assert_eq!(
            refused(verdict_of(answered(Value::Dict(dict)))).reason,
            NOT_AUTHORIZED
        );
    }
}
