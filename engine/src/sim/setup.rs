//! What a simulated router is: its cores, realms, limits, authentication,
//! and the seed of its ids.

use ringbar_protocol::uri::{MatchPolicy, UriCheck};

use crate::config::{
    Allow, AuthConfig, Disclose, EventHistory, FlowControl, Limits, Permission, RealmConfig,
    RoleConfig,
};

/// The router of a simulation.
pub(crate) struct Setup {
    /// Cores sharing the realms.
    pub(crate) cores: usize,
    /// The realms.
    pub(crate) realms: Vec<RealmConfig>,
    /// Flow control for every session.
    pub(crate) flow: FlowControl,
    /// What one session may hold.
    pub(crate) limits: Limits,
    /// How clients authenticate (every connection's transport).
    pub(crate) auth: AuthConfig,
    /// Where every id the router draws follows from.
    pub(crate) seed: u64,
}

impl Setup {
    /// `cores` cores with the realms of the engine's socket tests:
    /// `realm1`, where the anonymous role may do everything (and the
    /// realm keeps the 3 latest events under `com.history.`), and
    /// `restricted`, where it may only publish and subscribe under
    /// `com.allowed.`.
    pub(crate) fn new(cores: usize) -> Self {
        Self {
            cores,
            realms: vec![
                RealmConfig {
                    event_history: vec![EventHistory {
                        uri: "com.history.".into(),
                        match_policy: MatchPolicy::Prefix,
                        limit: 3,
                    }],
                    ..anonymous_realm(
                        "realm1",
                        vec![permission("", MatchPolicy::Prefix, everything())],
                    )
                },
                anonymous_realm(
                    "restricted",
                    vec![permission("com.allowed.", MatchPolicy::Prefix, pubsub())],
                ),
            ],
            flow: FlowControl::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            seed: 0,
        }
    }
}

/// A realm whose only role is `anonymous`, with `permissions`.
pub(crate) fn anonymous_realm(name: &str, permissions: Vec<Permission>) -> RealmConfig {
    RealmConfig {
        name: name.to_owned(),
        roles: vec![RoleConfig {
            name: "anonymous".into(),
            permissions,
            authorizer: None,
            create: false,
        }],
        uri_check: UriCheck::Loose,
        event_history: Vec::new(),
        enable_meta_api: true,
    }
}

/// `allow` on the URIs `uri` and `match_policy` match.
pub(crate) fn permission(uri: &str, match_policy: MatchPolicy, allow: Allow) -> Permission {
    Permission {
        uri: uri.to_owned(),
        match_policy,
        allow,
        disclose: Disclose::default(),
        cache: true,
    }
}

/// Every action.
pub(crate) fn everything() -> Allow {
    Allow {
        publish: true,
        subscribe: true,
        call: true,
        register: true,
        list: None,
    }
}

/// Publish and subscribe.
pub(crate) fn pubsub() -> Allow {
    Allow {
        publish: true,
        subscribe: true,
        ..Allow::default()
    }
}
