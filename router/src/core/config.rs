//! A realm as the config describes it: its name (or the realm template's),
//! roles, URI check, event histories and whether it offers the meta API.

use ringbar_protocol::uri::{MatchPolicy, UriCheck};

use crate::authorize::RoleConfig;

/// The name of the realm template (a ringbar extension): a realm that
/// does not exist is created from it when a session whose role has
/// `create` joins it.
pub const REALM_TEMPLATE: &str = "*";

/// One realm: a routing namespace with its roles.
#[derive(Debug, Clone)]
pub struct RealmConfig {
    /// The realm's URI, e.g. `realm1`, or [`REALM_TEMPLATE`].
    pub name: String,
    /// The roles sessions of this realm may have.
    pub roles: Vec<RoleConfig>,
    /// How topic and procedure URIs are checked.
    pub uri_check: UriCheck,
    /// Topics whose last events the realm keeps (its `store`'s
    /// `event-history`), served by `wamp.subscription.get_events`.
    pub event_history: Vec<EventHistory>,
    /// Whether the router offers the WAMP meta API (its `wamp.*`
    /// procedures and meta events) in this realm; Crossbar.io's
    /// `options.enable_meta_api`, on by default.
    pub enable_meta_api: bool,
}

/// One `event-history` entry of a realm's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHistory {
    /// The topic or pattern.
    pub uri: String,
    /// How `uri` matches topics.
    pub match_policy: MatchPolicy,
    /// How many of the latest events are kept.
    pub limit: usize,
}
