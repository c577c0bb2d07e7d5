//! Sessions across nodes, the link's half: each node announces its
//! sessions in shared realms as it announces subscriptions, and the others
//! keep them in the realm's session list on the link's core, so the
//! session meta API (`wamp.session.count`, `list`, `get`) answers for the
//! whole cluster; `wamp.session.kill*` of another node's session is
//! carried to that node.

use ringbar_protocol::codec::{Serializer, decode_value, encode_value};
use ringbar_protocol::id::SessionId;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::Value;

use super::link::{Held, Link};
use super::wire::{ClusterMessage, Interest, Member, RemoteKill};
use crate::core::mail::{Mail, SessionChange};
use crate::core::realm::RealmSession;

impl Link {
    /// A session of this node joined or left a shared realm.
    pub(super) fn session_change(&mut self, change: SessionChange) {
        if self.shared_realm(&change.realm.name).is_none() {
            return;
        }
        let key = (change.realm.name.clone(), change.session.get());
        let Some(info) = change.joined else {
            if let Some(member) = self.local_members.remove(&key) {
                self.local_interest(member, false);
            }
            return;
        };
        let mut details = bytes::BytesMut::new();
        if encode_value(Serializer::MsgPack, &info.details, &mut details).is_err() {
            details.clear();
        }
        let member = Interest::Member(Member {
            realm: change.realm.name.clone(),
            session: change.session.get(),
            authid: info.authid,
            authrole: info.authrole,
            details: details.freeze(),
        });
        self.local_members.insert(key, member.clone());
        self.local_interest(member, true);
    }

    /// Lists another node's session in the realm's sessions (unless a
    /// session of this node has its id).
    pub(super) fn hold_member(&mut self, node: &str, member: &Member) -> Option<Held> {
        let realm = self.shared_realm(&member.realm)?;
        let session = SessionId::new(member.session)?;
        if realm.session(session).is_some() {
            tracing::debug!(
                node,
                session = member.session,
                "cluster: another node's session has the id of one here: not listed"
            );
            return None;
        }
        let details = decode_value(Serializer::MsgPack, &member.details).unwrap_or(Value::Null);
        realm.add_session(
            session,
            RealmSession {
                core: usize::from(self.link_core()),
                authid: member.authid.clone(),
                authrole: member.authrole.clone(),
                details,
            },
        );
        self.remote_members
            .insert(session, (node.to_owned(), realm.name.clone()));
        Some(Held::Member(realm, session))
    }

    /// `wamp.session.kill*` of another node's session: carried to it.
    pub(super) fn kill_elsewhere(
        &mut self,
        session: SessionId,
        reason: &Str,
        message: Option<String>,
    ) {
        let Some((node, realm)) = self.remote_members.get(&session).cloned() else {
            return;
        };
        let kill = ClusterMessage::Kill(RemoteKill {
            realm,
            session: session.get(),
            reason: reason.as_str().to_owned(),
            message,
        });
        let subject = self.node_subject("calls", &node);
        self.publish(subject, kill.encode());
    }

    /// Another node kills a session of this one.
    pub(super) fn kill_here(&mut self, kill: &RemoteKill) {
        let Some(realm) = self.shared_realm(&kill.realm) else {
            return;
        };
        let Some(session) = SessionId::new(kill.session) else {
            return;
        };
        let link = usize::from(self.link_core());
        let Some(core) = realm
            .session(session)
            .map(|s| s.core)
            .filter(|c| *c != link)
        else {
            return;
        };
        self.out.push_back(super::link::Output::Mail {
            to: core,
            mail: Mail::KillSession {
                session,
                reason: Str::from(kill.reason.as_str()),
                message: kill.message.clone(),
            },
        });
    }
}
