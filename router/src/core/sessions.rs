//! The joined sessions of one core, and their one owner. A session is in
//! a slab, named by a [`SessionKey`] that every table of the core keeps in
//! its place (subscribers, callers, callees): when the session leaves, it
//! leaves here, and a key kept anywhere else finds nothing from then on —
//! it cannot keep the session, or its connection, alive.

use std::rc::Rc;

use crate::slab::{Key, Slab};
use ahash::AHashMap;
use ringbar_protocol::id::SessionId;

use crate::core::session::SessionHandle;

/// Names a joined session of this core (a slot and its generation). Small
/// and copyable; it names nothing once the session left.
pub type SessionKey = Key;

/// A core's joined sessions, by key and by session id.
#[derive(Default)]
pub struct Sessions {
    slab: Slab<Rc<SessionHandle>>,
    /// Session id → key, for what names a session by its WAMP id (the meta
    /// API's kill, a callee named in mail from another core).
    by_id: AHashMap<SessionId, SessionKey>,
}

impl Sessions {
    /// Adds the session `make` builds from its key; `None` when the core
    /// holds 2³² sessions.
    pub fn insert(
        &mut self,
        make: impl FnOnce(SessionKey) -> Rc<SessionHandle>,
    ) -> Option<Rc<SessionHandle>> {
        let key = self.slab.insert_with(make)?;
        let session = self.slab.get(key)?.clone();
        self.by_id.insert(session.identity.session, key);
        Some(session)
    }

    /// The session `key` names, while it is joined.
    pub fn get(&self, key: SessionKey) -> Option<&Rc<SessionHandle>> {
        self.slab.get(key)
    }

    /// The session with WAMP id `id`, if it is joined on this core.
    pub fn find(&self, id: SessionId) -> Option<&Rc<SessionHandle>> {
        self.slab.get(*self.by_id.get(&id)?)
    }

    /// Takes out the session `key` names.
    pub fn remove(&mut self, key: SessionKey) -> Option<Rc<SessionHandle>> {
        let session = self.slab.remove(key)?;
        self.by_id.remove(&session.identity.session);
        Some(session)
    }

    /// How many sessions are joined.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no session is joined.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// Every joined session.
    pub fn iter(&self) -> impl Iterator<Item = &Rc<SessionHandle>> {
        self.slab.iter().map(|(_, session)| session)
    }

    /// Whether the slab and the id index agree, and each session knows
    /// its own key.
    pub fn check(&self) -> Result<(), String> {
        if self.by_id.len() != self.slab.len() {
            return Err(format!(
                "{} sessions, {} session ids",
                self.slab.len(),
                self.by_id.len()
            ));
        }
        for (key, session) in self.slab.iter() {
            let id = session.identity.session;
            if session.key != key || self.by_id.get(&id) != Some(&key) {
                return Err(format!("session {id}: its key and the id index differ"));
            }
        }
        Ok(())
    }
}
