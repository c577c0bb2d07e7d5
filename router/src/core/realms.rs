//! The router's realms: those of the config, and those created on first
//! join from the realm template (`"name": "*"`, a ringbar extension) by a
//! session whose role has `create`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ringbar_protocol::uri::{Uri, UriCheck};

use crate::core::config::{REALM_TEMPLATE, RealmConfig};
use crate::core::realm::Realm;
use crate::core::seed::Seeds;

/// Every realm of the router, by name.
pub struct Realms {
    configured: HashMap<String, Arc<Realm>>,
    /// The realm template, when the config has one.
    template: Option<RealmConfig>,
    created: Mutex<HashMap<String, Arc<Realm>>>,
    /// The index the next candidate realm gets (unique router-wide).
    next_index: AtomicUsize,
    /// Where every realm's and core's id generators get their seeds.
    seeds: Seeds,
}

impl Drop for Realms {
    /// The router is gone: its realms go too (see [`Realm::forget_events`]).
    fn drop(&mut self) {
        let created = self.created.get_mut().unwrap_or_else(|e| e.into_inner());
        for realm in self.configured.values().chain(created.values()) {
            realm.forget_events();
        }
    }
}

impl Realms {
    /// The realms of `configs`, made at `now` (wall clock); one named
    /// [`REALM_TEMPLATE`] is the template. Their ids, and those of the
    /// cores, follow from `seeds`.
    pub fn new(configs: &[RealmConfig], seeds: Seeds, now: SystemTime) -> Self {
        let template = configs.iter().find(|r| r.name == REALM_TEMPLATE).cloned();
        let configured: HashMap<String, Arc<Realm>> = configs
            .iter()
            .filter(|r| r.name != REALM_TEMPLATE)
            .enumerate()
            .map(|(i, r)| (r.name.clone(), Arc::new(Realm::new(i, r, &seeds, now))))
            .collect();
        let next_index = AtomicUsize::new(configured.len());
        Self {
            configured,
            template,
            created: Mutex::new(HashMap::new()),
            next_index,
            seeds,
        }
    }

    /// Where id generators get their seeds.
    pub fn seeds(&self) -> &Seeds {
        &self.seeds
    }

    /// The realm named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Realm>> {
        self.configured
            .get(name)
            .cloned()
            .or_else(|| self.lock().get(name).cloned())
    }

    /// A realm named `name` made from the template but not added yet: the
    /// session that asked for it authenticates against its roles, and
    /// [`Realms::adopt`] adds it once its role may create it; made at
    /// `now` (wall clock). `None` without a template or for a name that
    /// is not a realm URI.
    pub fn candidate(&self, name: &str, now: SystemTime) -> Option<Arc<Realm>> {
        let template = self.template.as_ref()?;
        Uri::check(name, UriCheck::Loose).ok()?;
        let config = RealmConfig {
            name: name.to_owned(),
            ..template.clone()
        };
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        Some(Arc::new(Realm::new(index, &config, &self.seeds, now)))
    }

    /// Adds the candidate `realm`, or gives the realm of that name another
    /// session created meanwhile; refuses past `max_created` realms
    /// (`limits.max_created_realms`).
    pub fn adopt(&self, realm: Arc<Realm>, max_created: usize) -> Result<Arc<Realm>, String> {
        if let Some(existing) = self.configured.get(&realm.name) {
            return Ok(existing.clone());
        }
        let mut created = self.lock();
        if let Some(existing) = created.get(&realm.name) {
            return Ok(existing.clone());
        }
        if created.len() >= max_created {
            return Err(format!(
                "this router holds the most realms sessions may create ({max_created})"
            ));
        }
        created.insert(realm.name.clone(), realm.clone());
        tracing::info!(realm = %realm.name, "realm created on first join");
        Ok(realm)
    }

    /// Whether `realm` is one of the router's (not a candidate).
    pub fn holds(&self, realm: &Arc<Realm>) -> bool {
        self.get(&realm.name)
            .is_some_and(|known| Arc::ptr_eq(&known, realm))
    }

    /// The names of every realm, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.configured.keys().cloned().collect();
        names.extend(self.lock().keys().cloned());
        names.sort();
        names
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Realm>>> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }
}
