//! Authorization by the role model of the config: a role's permissions on
//! URI patterns allow actions and disclose identities.
//!
//! When several permissions match a URI, the most specific decides: exact
//! before the longest prefix before wildcard, ties by order in the config —
//! a written, deterministic rule, the same on every core.

use std::collections::HashMap;

use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};

use crate::config::{Allow, Disclose, RoleConfig};

/// What a session asks to do with a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    Publish,
    Subscribe,
    Call,
    Register,
    /// See a subscription or registration in the meta API.
    List,
}

impl Action {
    /// The action's name, as a dynamic authorizer is told it.
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    pub(crate) disclose: Disclose,
}

/// Nothing allowed, nothing disclosed.
pub(crate) const DENY: Decision = Decision {
    allowed: false,
    disclose: Disclose {
        caller: false,
        publisher: false,
    },
};

/// A role's permissions, ready to match.
#[derive(Debug)]
pub(crate) struct Role {
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
    pub(crate) fn new(config: &RoleConfig) -> Self {
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
    pub(crate) fn may_create(&self) -> bool {
        self.create
    }

    /// The procedure that decides for this role, when it has a dynamic
    /// authorizer.
    pub(crate) fn authorizer(&self) -> Option<&str> {
        self.authorizer.as_deref()
    }

    /// The decision for `action` on `uri`, and whether it may be cached.
    pub(crate) fn decide(&self, action: Action, uri: &str) -> (Decision, bool) {
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
/// it holds `limits.max_cached_decisions_per_session` URIs.
pub(crate) struct DecisionCache {
    entries: HashMap<Box<str>, [Option<Decision>; 5]>,
    capacity: usize,
    /// A dynamic authorizer's decision that may not be cached, for the one
    /// action it was asked for.
    once: Option<(Action, Box<str>, Decision)>,
}

impl DecisionCache {
    /// An empty cache that holds up to `capacity` URIs.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
            once: None,
        }
    }

    /// The decision for `action` on `uri` under `role`.
    pub(crate) fn decide(&mut self, role: &Role, action: Action, uri: &str) -> Decision {
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
    pub(crate) fn knows(&self, action: Action, uri: &str) -> bool {
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
    pub(crate) fn remember(&mut self, action: Action, uri: &str, decision: Decision, cache: bool) {
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
    use crate::config::Permission;

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
            DecisionCache::new(crate::config::Limits::default().max_cached_decisions_per_session);
        assert!(!cache.decide(&role, Action::Publish, "a.b").allowed);
    }
}
