//! A realm: the routing namespace sessions join, shared by every core.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ringbar_protocol::uri::UriCheck;

use crate::authorize::Role;
use crate::broker::Publication;
use crate::broker::subscriptions::Subscriptions;
use crate::config::RealmConfig;
use crate::dealer::registrations::Registrations;

/// The most retained events one realm keeps (one per topic); past this a
/// new topic's retained event replaces nothing and is not kept.
const MAX_RETAINED_TOPICS: usize = 100_000;

/// One realm's shared state.
pub(crate) struct Realm {
    /// Position in the router's realm list: keys per-core tables, since
    /// subscription ids are unique per realm only.
    pub(crate) index: usize,
    /// The realm's URI.
    pub(crate) name: String,
    /// How topic URIs are checked.
    pub(crate) uri_check: UriCheck,
    roles: HashMap<String, Arc<Role>>,
    /// The broker's subscription table.
    pub(crate) subscriptions: Subscriptions,
    /// The dealer's registration table.
    pub(crate) registrations: Registrations,
    retained: Mutex<HashMap<String, Arc<Publication>>>,
}

impl Realm {
    /// The realm of `config`, at `index`.
    pub(crate) fn new(index: usize, config: &RealmConfig) -> Self {
        Self {
            index,
            name: config.name.clone(),
            uri_check: config.uri_check,
            roles: config
                .roles
                .iter()
                .map(|r| (r.name.clone(), Arc::new(Role::new(r))))
                .collect(),
            subscriptions: Subscriptions::new(),
            registrations: Registrations::new(),
            retained: Mutex::new(HashMap::new()),
        }
    }

    /// The role named `name`, if the realm defines it.
    pub(crate) fn role(&self, name: &str) -> Option<Arc<Role>> {
        self.roles.get(name).cloned()
    }

    /// Keeps `publication` as its topic's retained event.
    pub(crate) fn retain(&self, publication: Arc<Publication>) {
        let mut retained = self.retained.lock().unwrap_or_else(|e| e.into_inner());
        let topic = publication.topic.as_str();
        if retained.len() < MAX_RETAINED_TOPICS || retained.contains_key(topic) {
            retained.insert(topic.to_owned(), publication);
        }
    }

    /// The retained events whose topics `matches` accepts.
    pub(crate) fn retained(&self, matches: impl Fn(&str) -> bool) -> Vec<Arc<Publication>> {
        let retained = self.retained.lock().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<_> = retained
            .iter()
            .filter(|(topic, _)| matches(topic))
            .map(|(_, p)| p.clone())
            .collect();
        // Deterministic order: by topic.
        found.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
        found
    }
}
