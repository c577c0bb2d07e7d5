//! WAMP-Ticket: the client sends its secret ticket in AUTHENTICATE, the
//! router compares it with the principal's in constant time.

use ringbar_protocol::value::Dict;

use super::{
    Accepted, HelloInfo, Opening, Pending as AnyPending, Refusal, constant_time_eq, principal,
    provider_name, realm_allowed,
};
use std::sync::Arc;

use crate::auth::config::{Authenticator, Provider, Secret, TicketPrincipal};

/// The method's name in `authmethods`.
pub(super) const AUTHMETHOD: &str = "ticket";

/// The message of every failed ticket check (the same for an unknown
/// authid and a wrong ticket).
const INVALID: &str = "invalid authid or ticket";

/// A ticket challenge sent.
pub struct Pending {
    /// The identity granted if the ticket matches; `None` for an unknown
    /// authid, which fails like a wrong ticket.
    expected: Option<(Secret, Accepted)>,
    /// A dynamic provider that checks tickets itself (against a hash), with
    /// the realm asked for.
    verifier: Option<(Arc<dyn Authenticator<TicketPrincipal>>, String)>,
}

/// Starts WAMP-Ticket: an authid is required; the CHALLENGE is empty.
pub(super) fn open(provider: &Provider<TicketPrincipal>, hello: &HelloInfo<'_>) -> Opening {
    let Some(authid) = hello.authid else {
        return Opening::Refuse(Refusal::not_authorized(
            "ticket authentication needs an authid in HELLO",
        ));
    };
    let expected = match principal(provider, hello.realm, authid) {
        Some(p) => {
            if let Err(refusal) = realm_allowed(&p.grant, hello.realm) {
                return Opening::Refuse(refusal);
            }
            Some((
                p.ticket.clone(),
                Accepted {
                    authid: authid.to_owned(),
                    authrole: p.grant.role.clone(),
                    authmethod: AUTHMETHOD,
                    authprovider: provider_name(provider),
                },
            ))
        }
        None => None,
    };
    let verifier = match provider {
        Provider::Dynamic(authenticator) => Some((authenticator.clone(), hello.realm.to_owned())),
        Provider::Static(_) | Provider::Procedure(_) => None,
    };
    Opening::Challenge {
        authmethod: AUTHMETHOD,
        extra: Dict::new(),
        pending: AnyPending::Ticket(Pending { expected, verifier }),
    }
}

impl Pending {
    /// Checks the ticket the client sent.
    pub fn authenticate(self, ticket: &str) -> Result<Accepted, Refusal> {
        let Some((secret, accepted)) = self.expected else {
            return Err(Refusal::failed(INVALID));
        };
        let verified = self
            .verifier
            .and_then(|(verifier, realm)| verifier.verify_ticket(&realm, &accepted.authid, ticket));
        match verified {
            Some(true) => Ok(accepted),
            None if constant_time_eq(secret.0.as_bytes(), ticket.as_bytes()) => Ok(accepted),
            _ => Err(Refusal::failed(INVALID)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::auth::AbortReason;
    use crate::auth::config::Grant;
    use crate::error::RoutingError;

    fn provider() -> Provider<TicketPrincipal> {
        let joe = TicketPrincipal {
            ticket: Secret("secret!!!".into()),
            grant: Grant {
                role: "frontend".into(),
                realm: None,
            },
        };
        let ann = TicketPrincipal {
            ticket: Secret("ann's".into()),
            grant: Grant {
                role: "backend".into(),
                realm: Some("realm2".into()),
            },
        };
        Provider::Static(BTreeMap::from([("joe".into(), joe), ("ann".into(), ann)]))
    }

    fn hello<'a>(realm: &'a str, authid: Option<&'a str>) -> HelloInfo<'a> {
        HelloInfo {
            realm,
            authid,
            authextra: None,
            session: 1,
            now: std::time::SystemTime::now(),
        }
    }

    fn challenge(opening: Opening) -> super::super::Pending {
        match opening {
            Opening::Challenge {
                authmethod,
                pending,
                ..
            } => {
                assert_eq!(authmethod, "ticket");
                pending
            }
            _ => panic!("expected a challenge"),
        }
    }

    #[test]
    fn the_right_ticket_joins_with_the_principals_role() {
        let pending = challenge(open(&provider(), &hello("realm1", Some("joe"))));
        let accepted = pending.authenticate("secret!!!").unwrap();
        assert_eq!(accepted.authid, "joe");
        assert_eq!(accepted.authrole, "frontend");
        assert_eq!(accepted.authmethod, "ticket");
        assert_eq!(accepted.authprovider, "static");
    }

    #[test]
    fn a_wrong_ticket_and_an_unknown_authid_fail_alike() {
        let wrong = challenge(open(&provider(), &hello("realm1", Some("joe"))))
            .authenticate("secret!!")
            .unwrap_err();
        let unknown = challenge(open(&provider(), &hello("realm1", Some("bob"))))
            .authenticate("secret!!!")
            .unwrap_err();
        assert_eq!(wrong, unknown);
        assert_eq!(
            wrong.reason,
            AbortReason::Router(RoutingError::AuthenticationFailed)
        );
        assert!(!wrong.message.contains("secret"));
    }

    #[test]
    fn no_authid_or_another_realm_is_refused() {
        assert!(matches!(
            open(&provider(), &hello("realm1", None)),
            Opening::Refuse(_)
        ));
        assert!(matches!(
            open(&provider(), &hello("realm1", Some("ann"))),
            Opening::Refuse(_)
        ));
        let pending = challenge(open(&provider(), &hello("realm2", Some("ann"))));
        assert_eq!(pending.authenticate("ann's").unwrap().authrole, "backend");
    }

    /// A dynamic provider keeping only a "hash": the reversed ticket.
    #[derive(Debug)]
    struct Reversed;

    impl Authenticator<TicketPrincipal> for Reversed {
        fn principal(
            &self,
            _realm: &str,
            authid: Option<&str>,
            _credential: Option<&[u8]>,
        ) -> Option<(String, TicketPrincipal)> {
            let principal = TicketPrincipal {
                ticket: Secret(String::new()),
                grant: Grant {
                    role: "owner".into(),
                    realm: None,
                },
            };
            authid
                .filter(|a| *a == "joe")
                .map(|a| (a.to_owned(), principal))
        }

        fn verify_ticket(&self, realm: &str, authid: &str, ticket: &str) -> Option<bool> {
            assert_eq!((realm, authid), ("realm1", "joe"));
            Some(ticket.chars().rev().collect::<String>() == "terces")
        }
    }

    #[test]
    fn a_dynamic_provider_verifies_tickets_itself() {
        let provider = Provider::Dynamic(Arc::new(Reversed));
        let pending = challenge(open(&provider, &hello("realm1", Some("joe"))));
        let accepted = pending.authenticate("secret").unwrap();
        assert_eq!(
            (accepted.authrole.as_str(), accepted.authprovider),
            ("owner", "dynamic")
        );
        // the principal's (empty) ticket is not compared when the provider verifies
        let pending = challenge(open(&provider, &hello("realm1", Some("joe"))));
        assert!(pending.authenticate("").is_err());
        let pending = challenge(open(&provider, &hello("realm1", Some("joe"))));
        assert!(pending.authenticate("terces").is_err());
    }
}
