//! Authorization by the role model of the config: a role's permissions on
//! URI patterns allow actions and disclose identities.
//!
//! When several permissions match a URI, the most specific decides: exact
//! before the longest prefix before wildcard, ties by order in the config —
//! a written, deterministic rule, the same on every core.

use ahash::AHashMap;

use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use ringbar_protocol::value::{Dict, Value};

/// A role and what it may do.
#[derive(Debug, Clone)]
pub struct RoleConfig {
    /// The role's name (the session's `authrole`).
    pub name: String,
    /// Checked in order: the first permission whose URI pattern matches an
    /// action's URI decides (exact before prefix before wildcard, as
    /// Crossbar.io's role model does).
    pub permissions: Vec<Permission>,
    /// `authorizer`: a procedure on the realm that decides instead of
    /// `permissions` (a dynamic authorizer), called as in Crossbar.io.
    pub authorizer: Option<String>,
    /// `create` (a ringbar extension, in the realm template): a session
    /// of this role may create a realm that does not exist by joining it.
    pub create: bool,
}

/// A permission of a role on a URI pattern.
#[derive(Debug, Clone)]
pub struct Permission {
    /// The URI or pattern (`""` with prefix match means every URI).
    pub uri: String,
    /// How `uri` is matched.
    pub match_policy: MatchPolicy,
    /// The allowed actions.
    pub allow: Allow,
    /// Which identities are disclosed.
    pub disclose: Disclose,
    /// Whether the decision may be cached per session.
    pub cache: bool,
}

/// The actions a permission allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// PUBLISH to matching topics.
    pub publish: bool,
    /// SUBSCRIBE to matching topics.
    pub subscribe: bool,
    /// CALL matching procedures.
    pub call: bool,
    /// REGISTER matching procedures.
    pub register: bool,
    /// `list` (a ringbar extension): see matching subscriptions and
    /// registrations in the meta API. `None` when the permission does not
    /// say: allowed. A role none of whose permissions says lists
    /// everything, as before `list` existed.
    pub list: Option<bool>,
}

/// Which identities a permission discloses to the receivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disclose {
    /// Callees learn the caller's identity.
    pub caller: bool,
    /// Subscribers learn the publisher's identity.
    pub publisher: bool,
}

/// What a session asks to do with a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// PUBLISH to a topic.
    Publish,
    /// SUBSCRIBE to a topic.
    Subscribe,
    /// CALL a procedure.
    Call,
    /// REGISTER a procedure.
    Register,
    /// See a subscription or registration in the meta API.
    List,
}

impl Action {
    /// The action's name, as a dynamic authorizer is told it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Subscribe => "subscribe",
            Action::Call => "call",
            Action::Register => "register",
            Action::List => "list",
        }
    }

    fn allowed_by(self, allow: &Allow) -> bool {
        match self {
            Action::Publish => allow.publish,
            Action::Subscribe => allow.subscribe,
            Action::Call => allow.call,
            Action::Register => allow.register,
            Action::List => allow.list.unwrap_or(true),
        }
    }
}

/// The answer for one (action, URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action may go on.
    pub allowed: bool,
    /// Which identities its receivers learn.
    pub disclose: Disclose,
}

impl Decision {
    /// Reads a dynamic authorizer's answer (the first result):
    /// `true`/`false`, or `{allow, disclose, cache}` as in Crossbar.io;
    /// the decision and whether the session may cache it.
    pub fn from_authorizer(answer: Option<Value>) -> Result<(Decision, bool), String> {
        let flag = |dict: &Dict, key: &str| dict.get(key).and_then(Value::as_bool).unwrap_or(false);
        match answer {
            Some(Value::Bool(allowed)) => Ok((
                Decision {
                    allowed,
                    disclose: Disclose::default(),
                },
                false,
            )),
            Some(Value::Dict(dict)) => {
                let Some(allowed) = dict.get("allow").and_then(Value::as_bool) else {
                    return Err("its answer has no boolean \"allow\"".to_owned());
                };
                let disclose = flag(&dict, "disclose");
                Ok((
                    Decision {
                        allowed,
                        disclose: Disclose {
                            caller: disclose,
                            publisher: disclose,
                        },
                    },
                    flag(&dict, "cache"),
                ))
            }
            _ => Err("its answer is not a boolean or a dictionary with \"allow\"".to_owned()),
        }
    }
}

/// Nothing allowed, nothing disclosed.
pub const DENY: Decision = Decision {
    allowed: false,
    disclose: Disclose {
        caller: false,
        publisher: false,
    },
};

/// A role's permissions, ready to match.
#[derive(Debug)]
pub struct Role {
    permissions: Vec<(UriPattern, Allow, Disclose, bool)>,
    /// The dynamic authorizer that decides instead of `permissions`.
    authorizer: Option<String>,
    /// Whether any permission says `list`; if none does, the role lists
    /// everything.
    governs_list: bool,
    /// Whether its sessions may create a realm by joining it.
    create: bool,
}

impl Role {
    /// Compiles a configured role; permissions whose pattern does not parse
    /// were refused by the config check already and are skipped.
    pub fn new(config: &RoleConfig) -> Self {
        let permissions = config
            .permissions
            .iter()
            .filter_map(|p| {
                UriPattern::parse(&p.uri, p.match_policy, UriCheck::Loose)
                    .ok()
                    .map(|pattern| (pattern, p.allow, p.disclose, p.cache))
            })
            .collect();
        Self {
            permissions,
            authorizer: config.authorizer.clone(),
            governs_list: config.permissions.iter().any(|p| p.allow.list.is_some()),
            create: config.create,
        }
    }

    /// Whether a session of this role may create a realm (from the
    /// template) by joining it.
    pub fn may_create(&self) -> bool {
        self.create
    }

    /// The procedure that decides for this role, when it has a dynamic
    /// authorizer.
    pub fn authorizer(&self) -> Option<&str> {
        self.authorizer.as_deref()
    }

    /// The decision for `action` on `uri`, and whether it may be cached.
    pub fn decide(&self, action: Action, uri: &str) -> (Decision, bool) {
        if action == Action::List && (!self.governs_list || self.authorizer.is_some()) {
            return (
                Decision {
                    allowed: true,
                    disclose: Disclose::default(),
                },
                true,
            );
        }
        let mut best: Option<(u8, usize, usize)> = None;
        for (index, (pattern, ..)) in self.permissions.iter().enumerate() {
            if !pattern.matches(uri) {
                continue;
            }
            // Lower rank wins; among prefixes the longest wins.
            let (rank, length) = match pattern.policy() {
                MatchPolicy::Exact => (0, 0),
                MatchPolicy::Prefix => (1, usize::MAX - pattern.uri().len()),
                MatchPolicy::Wildcard => (2, 0),
            };
            if best.is_none_or(|(r, l, _)| (rank, length) < (r, l)) {
                best = Some((rank, length, index));
            }
        }
        match best.and_then(|(_, _, index)| self.permissions.get(index)) {
            Some((_, allow, disclose, cache)) => (
                Decision {
                    allowed: action.allowed_by(allow),
                    disclose: *disclose,
                },
                *cache,
            ),
            None => (DENY, true),
        }
    }
}

/// A session's cache of decisions, so the publish path does not match
/// permissions again for a topic it has used. Keyed by URI (looked up as a
/// `&str`, without allocating), one slot per action; it starts over when
/// it holds `limits.max_cached_decisions_per_session` URIs. Hashed with
/// `ahash` (randomly keyed, as the tables): a lookup per CALL and PUBLISH.
pub struct DecisionCache {
    entries: AHashMap<Box<str>, [Option<Decision>; 5]>,
    capacity: usize,
    /// A dynamic authorizer's decision that may not be cached, for the one
    /// action it was asked for.
    once: Option<(Action, Box<str>, Decision)>,
}

impl DecisionCache {
    /// An empty cache that holds up to `capacity` URIs.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: AHashMap::new(),
            capacity,
            once: None,
        }
    }

    /// The decision for `action` on `uri` under `role`.
    pub fn decide(&mut self, role: &Role, action: Action, uri: &str) -> Decision {
        if let Some((a, u, decision)) = self.once.take() {
            if a == action && *u == *uri {
                return decision;
            }
            self.once = Some((a, u, decision));
        }
        let slot = action as usize;
        if let Some(d) = self.entries.get(uri).and_then(|slots| slots[slot]) {
            return d;
        }
        let (decision, cache) = role.decide(action, uri);
        if cache {
            self.remember(action, uri, decision, true);
        }
        decision
    }

    /// Whether the decision for `action` on `uri` is known without asking
    /// a dynamic authorizer.
    pub fn knows(&self, action: Action, uri: &str) -> bool {
        self.once
            .as_ref()
            .is_some_and(|(a, u, _)| *a == action && **u == *uri)
            || self
                .entries
                .get(uri)
                .is_some_and(|slots| slots[action as usize].is_some())
    }

    /// Keeps a decision: for the session's life when `cache`, else for the
    /// next [`DecisionCache::decide`] of that action and URI only.
    pub fn remember(&mut self, action: Action, uri: &str, decision: Decision, cache: bool) {
        if cache {
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
            self.entries.entry(Box::from(uri)).or_default()[action as usize] = Some(decision);
        } else {
            self.once = Some((action, Box::from(uri), decision));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permission(uri: &str, policy: MatchPolicy, publish: bool) -> Permission {
        Permission {
            uri: uri.to_owned(),
            match_policy: policy,
            allow: Allow {
                publish,
                ..Allow::default()
            },
            disclose: Disclose::default(),
            cache: true,
        }
    }

    #[test]
    fn most_specific_permission_decides() {
        let role = Role::new(&RoleConfig {
            name: "r".into(),
            permissions: vec![
                permission("", MatchPolicy::Prefix, true),
                permission("com.secret.", MatchPolicy::Prefix, false),
                permission("com.secret.open", MatchPolicy::Exact, true),
                permission("com..x", MatchPolicy::Wildcard, false),
            ],
            authorizer: None,
            create: false,
        });
        let allowed = |uri| role.decide(Action::Publish, uri).0.allowed;
        assert!(allowed("com.public"));
        assert!(!allowed("com.secret.data"));
        assert!(allowed("com.secret.open"));
        assert!(allowed("com.a.x"), "a prefix match outranks a wildcard");
        assert!(!role.decide(Action::Subscribe, "com.public").0.allowed);
    }

    #[test]
    fn list_is_governed_only_by_roles_that_say_it() {
        let mut hidden = permission("com.secret.", MatchPolicy::Prefix, true);
        hidden.allow.list = Some(false);
        let role = |permissions| {
            Role::new(&RoleConfig {
                name: "r".into(),
                permissions,
                authorizer: None,
                create: false,
            })
        };
        let lists = |role: &Role, uri| role.decide(Action::List, uri).0.allowed;
        let silent = role(vec![permission("com.", MatchPolicy::Prefix, true)]);
        assert!(lists(&silent, "com.secret.x") && lists(&silent, "org.x"));
        let saying = role(vec![permission("com.", MatchPolicy::Prefix, true), hidden]);
        assert!(
            lists(&saying, "com.open"),
            "a permission without list allows it"
        );
        assert!(!lists(&saying, "com.secret.x"));
        assert!(!lists(&saying, "org.x"), "no permission: not listed");
    }

    #[test]
    fn no_permission_denies() {
        let role = Role::new(&RoleConfig {
            name: "r".into(),
            permissions: vec![],
            authorizer: None,
            create: false,
        });
        let mut cache =
            DecisionCache::new(crate::limits::Limits::default().max_cached_decisions_per_session);
        assert!(!cache.decide(&role, Action::Publish, "a.b").allowed);
    }

    #[test]
    fn an_authorizers_booleans_and_dictionaries_decide() {
        let (d, cache) = Decision::from_authorizer(Some(Value::Bool(true))).unwrap();
        assert!(d.allowed && !d.disclose.caller && !cache);
        let dict: Dict = [
            ("allow", Value::Bool(true)),
            ("disclose", Value::Bool(true)),
            ("cache", Value::Bool(true)),
        ]
        .into_iter()
        .collect();
        let (d, cache) = Decision::from_authorizer(Some(Value::Dict(dict))).unwrap();
        assert!(d.allowed && d.disclose.caller && d.disclose.publisher && cache);
        assert!(Decision::from_authorizer(Some(Value::from("yes"))).is_err());
        assert!(Decision::from_authorizer(Some(Value::Dict(Dict::new()))).is_err());
        assert!(Decision::from_authorizer(None).is_err());
    }
}
