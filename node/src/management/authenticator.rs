//! Who may join the management realm, from the state database: a node by
//! its instance key (WAMP-cryptosign), as `node` when it is paired and as
//! `pairing` when it is unknown or not paired yet; an owner with an
//! Ed25519 key by their name, as `owner`; the service's own backend
//! session by its key (a new one each start), as `service`. Owners with a
//! password join by WAMP-ticket, the password checked against its argon2
//! hash. The service puts this behind every `cryptosign` and `ticket`
//! method of its transports.
//!
//! The service proves itself with its instance key to every cryptosign
//! session that sends a challenge (WAMP-cryptosign router authentication):
//! nodes pin that key. It signs whatever 32 bytes a client sends, so it
//! signs nothing else: the backend joins with a key of its own.

use std::sync::{Arc, OnceLock};

use ed25519_dalek::SigningKey;
use ringbar_engine::config::{
    Authenticator, CryptosignPrincipal, Grant, Provider, RouterConfig, Secret, TicketPrincipal,
};

use super::config::MANAGEMENT_REALM;
use super::password;
use super::store::{Credential, Owner, Store};

/// The role of paired nodes.
const NODE_ROLE: &str = "node";
/// The role of nodes that are not paired (yet).
const PAIRING_ROLE: &str = "pairing";
/// The role of owners.
pub(crate) const OWNER_ROLE: &str = "owner";
/// The role of the service's own backend session.
const SERVICE_ROLE: &str = "service";

/// The management realm's cryptosign authenticator.
#[derive(Debug)]
pub(crate) struct StateAuthenticator {
    store: Arc<Store>,
    /// The backend session's public key: it joins as `service`.
    service_key: [u8; 32],
    /// The service's instance key, which proves the service to nodes.
    router_key: SigningKey,
}

impl StateAuthenticator {
    /// An authenticator reading `store`; `service_key` joins as `service`;
    /// `router_key` proves the service.
    pub(crate) fn new(store: Arc<Store>, service_key: [u8; 32], router_key: SigningKey) -> Self {
        StateAuthenticator {
            store,
            service_key,
            router_key,
        }
    }

    /// Puts this authenticator behind every `cryptosign` and `ticket`
    /// method of `router`'s transports.
    pub(crate) fn install(self, router: &mut RouterConfig) {
        let this = Arc::new(self);
        let provider =
            Provider::Dynamic(this.clone() as Arc<dyn Authenticator<CryptosignPrincipal>>);
        let tickets = Provider::Dynamic(this as Arc<dyn Authenticator<TicketPrincipal>>);
        for transport in &mut router.transports {
            let auths = transport.kind.auths_mut();
            for auth in auths {
                if auth.cryptosign.is_some() {
                    Arc::make_mut(auth).cryptosign = Some(provider.clone());
                }
                if auth.ticket.is_some() {
                    Arc::make_mut(auth).ticket = Some(tickets.clone());
                }
            }
        }
    }

    fn lookup(&self, authid: Option<&str>, key: [u8; 32]) -> Option<(String, &'static str)> {
        let pubkey = hex::encode(key);
        if key == self.service_key {
            return Some((pubkey, SERVICE_ROLE));
        }
        match authid {
            Some(name) if name != pubkey => match self.store.owner(name) {
                Ok(Some(owner)) if owner.credential == Credential::Ed25519(pubkey) => {
                    Some((name.to_owned(), OWNER_ROLE))
                }
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!("cannot look up owner '{name}': {error}");
                    None
                }
            },
            _ => match self.store.node(&pubkey) {
                Ok(node) => {
                    let paired = node.is_some_and(|node| node.paired);
                    Some((pubkey, if paired { NODE_ROLE } else { PAIRING_ROLE }))
                }
                Err(error) => {
                    tracing::warn!("cannot look up node {pubkey}: {error}");
                    None
                }
            },
        }
    }
}

impl Authenticator<CryptosignPrincipal> for StateAuthenticator {
    fn principal(
        &self,
        realm: &str,
        authid: Option<&str>,
        credential: Option<&[u8]>,
    ) -> Option<(String, CryptosignPrincipal)> {
        if realm != MANAGEMENT_REALM {
            return None;
        }
        let key: [u8; 32] = credential?.try_into().ok()?;
        let (authid, role) = self.lookup(authid, key)?;
        let principal = CryptosignPrincipal {
            authorized_keys: vec![key],
            grant: Grant {
                role: role.to_owned(),
                realm: Some(MANAGEMENT_REALM.to_owned()),
            },
        };
        Some((authid, principal))
    }

    fn router_key(&self, realm: &str) -> Option<&SigningKey> {
        (realm == MANAGEMENT_REALM).then_some(&self.router_key)
    }
}

impl Authenticator<TicketPrincipal> for StateAuthenticator {
    /// Every name may try a password: an unknown name is refused by
    /// [`Authenticator::verify_ticket`] after the same argon2 work as a
    /// wrong password, so the answer's content and time do not tell which
    /// owner names exist. The ticket is checked there, so the principal's
    /// is empty.
    fn principal(
        &self,
        realm: &str,
        authid: Option<&str>,
        _credential: Option<&[u8]>,
    ) -> Option<(String, TicketPrincipal)> {
        let name = authid.filter(|_| realm == MANAGEMENT_REALM)?;
        Some((
            name.to_owned(),
            TicketPrincipal {
                ticket: Secret(String::new()),
                grant: Grant {
                    role: OWNER_ROLE.to_owned(),
                    realm: Some(MANAGEMENT_REALM.to_owned()),
                },
            },
        ))
    }

    fn verify_ticket(&self, realm: &str, authid: &str, ticket: &str) -> Option<bool> {
        if realm != MANAGEMENT_REALM {
            return Some(false);
        }
        let hash = match self.store.owner(authid) {
            Ok(Some(Owner {
                credential: Credential::Password(hash),
                ..
            })) => Some(hash),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!("cannot look up owner '{authid}': {error}");
                None
            }
        };
        let verified = match hash {
            Some(hash) => password::verify(ticket, &hash),
            None => {
                // the same work as a real check, whose answer is ignored
                password::verify(ticket, decoy_hash());
                false
            }
        };
        Some(verified)
    }
}

/// An argon2 hash of a random password with the owners' parameters, checked
/// in place of a missing owner's.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut secret = [0u8; 16];
        let _ = getrandom::fill(&mut secret);
        password::hash(&hex::encode(secret)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::store::Node;

    fn role(
        auth: &StateAuthenticator,
        realm: &str,
        authid: Option<&str>,
        key: [u8; 32],
    ) -> Option<(String, String)> {
        Authenticator::<CryptosignPrincipal>::principal(auth, realm, authid, Some(&key)).map(
            |(authid, p)| {
                assert_eq!(p.authorized_keys, [key], "only the announced key may sign");
                (authid, p.grant.role)
            },
        )
    }

    #[test]
    fn nodes_by_key_and_owners_by_name() {
        let dir = std::env::temp_dir().join(format!("ringbar-authn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::create(&dir).unwrap();
        let (paired, unpaired, stranger, owner_key) = ([1; 32], [2; 32], [3; 32], [4; 32]);
        let node = |paired| Node {
            paired,
            owner: paired.then(|| "alice".to_owned()),
            ..Node::default()
        };
        store.put_node(&hex::encode(paired), &node(true)).unwrap();
        store
            .put_node(&hex::encode(unpaired), &node(false))
            .unwrap();
        let owner = |credential| Owner {
            credential,
            created_at: 0,
        };
        store
            .add_owner("alice", &owner(Credential::Ed25519(hex::encode(owner_key))))
            .unwrap();
        store
            .add_owner("bob", &owner(Credential::Password("$argon2id$x".into())))
            .unwrap();
        let auth =
            StateAuthenticator::new(Arc::new(store), [9; 32], SigningKey::from_bytes(&[8; 32]));
        let m = MANAGEMENT_REALM;
        let as_role = |authid: [u8; 32], role: &str| Some((hex::encode(authid), role.to_owned()));

        assert_eq!(role(&auth, m, None, paired), as_role(paired, "node"));
        assert_eq!(
            role(&auth, m, Some(&hex::encode(paired)), paired),
            as_role(paired, "node")
        );
        assert_eq!(role(&auth, m, None, unpaired), as_role(unpaired, "pairing"));
        assert_eq!(role(&auth, m, None, stranger), as_role(stranger, "pairing"));
        assert_eq!(
            role(&auth, m, Some("alice"), owner_key),
            Some(("alice".into(), "owner".into()))
        );
        // an owner's name with another key, a password owner, an unknown name
        assert_eq!(role(&auth, m, Some("alice"), stranger), None);
        assert_eq!(role(&auth, m, Some("bob"), stranger), None);
        assert_eq!(role(&auth, m, Some("carol"), stranger), None);
        // the service's own key, with or without an authid
        assert_eq!(role(&auth, m, None, [9; 32]), as_role([9; 32], "service"));
        assert_eq!(
            role(&auth, m, Some("alice"), [9; 32]),
            as_role([9; 32], "service")
        );
        // the service proves its own key, on its realm only
        let router = Authenticator::<CryptosignPrincipal>::router_key(&auth, m);
        assert_eq!(router, Some(&SigningKey::from_bytes(&[8; 32])));
        assert_eq!(
            Authenticator::<CryptosignPrincipal>::router_key(&auth, "realm1"),
            None
        );
        // nothing outside the management realm
        assert_eq!(role(&auth, "realm1", None, paired), None);
        assert_eq!(
            Authenticator::<CryptosignPrincipal>::principal(&auth, m, None, Some(&[1, 2, 3])),
            None
        );
        drop(auth);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_owners_cost_what_known_ones_cost_and_answer_alike() {
        let dir = std::env::temp_dir().join(format!("ringbar-authn-t-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::create(&dir).unwrap();
        let owner = |credential| Owner {
            credential,
            created_at: 0,
        };
        let hash = password::hash("correct horse").unwrap();
        store
            .add_owner("bob", &owner(Credential::Password(hash)))
            .unwrap();
        store
            .add_owner("alice", &owner(Credential::Ed25519("ab".repeat(32))))
            .unwrap();
        let auth =
            StateAuthenticator::new(Arc::new(store), [9; 32], SigningKey::from_bytes(&[8; 32]));
        let m = MANAGEMENT_REALM;
        for name in ["bob", "alice", "carol"] {
            let principal = Authenticator::<TicketPrincipal>::principal(&auth, m, Some(name), None);
            // every name reaches the password check: no early "no such owner"
            assert_eq!(principal.map(|(authid, _)| authid), Some(name.to_owned()));
            assert_eq!(
                Authenticator::<TicketPrincipal>::verify_ticket(&auth, m, name, "wrong horse"),
                Some(false)
            );
        }
        assert_eq!(
            Authenticator::<TicketPrincipal>::verify_ticket(&auth, m, "bob", "correct horse"),
            Some(true)
        );
        // the decoy is a real argon2 hash with the owners' parameters
        assert!(decoy_hash().starts_with("$argon2id$"), "{}", decoy_hash());
        assert_eq!(
            Authenticator::<TicketPrincipal>::principal(&auth, "realm1", Some("bob"), None),
            None
        );
        drop(auth);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
