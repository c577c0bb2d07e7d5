//! [`Publication`]: one PUBLISH as every core that has subscribers needs it,
//! shared by `Arc` (one mailbox message per core, not per subscriber).

use std::sync::Arc;
use std::time::Instant;

use ringbar_protocol::id::{PublicationId, SessionId, SubscriptionId};
use ringbar_protocol::message::{Event, Message, Payload};
use ringbar_protocol::options::{PayloadPassthru, PublishOptions};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::realm::Realm;
use crate::session::Identity;

/// A publication on its way to subscribers.
pub(crate) struct Publication {
    pub(crate) realm: Arc<Realm>,
    pub(crate) id: PublicationId,
    pub(crate) topic: Str,
    pub(crate) payload: Payload,
    /// The publishing session (for `exclude_me`).
    pub(crate) publisher: SessionId,
    /// The publisher's identity, when disclosed.
    pub(crate) disclosed: Option<Identity>,
    /// `exclude_me`.
    pub(crate) exclude_me: bool,
    /// Black- and whitelists, when any was given.
    pub(crate) filters: Option<PublishOptions>,
    /// Payload passthru options, forwarded to subscribers.
    pub(crate) passthru: Option<PayloadPassthru>,
    /// The matching subscriptions, and whether each is a pattern one (its
    /// events then carry `details.topic`).
    pub(crate) subscriptions: Vec<(SubscriptionId, bool)>,
    /// When the core decoded the PUBLISH (or built the router's own
    /// publication), for the publish-to-event figure.
    pub(crate) received: Instant,
}

impl Publication {
    /// Whether a subscriber with this identity may receive the event.
    pub(crate) fn admits(&self, subscriber: &Identity) -> bool {
        if self.exclude_me && subscriber.session == self.publisher {
            return false;
        }
        let Some(f) = &self.filters else {
            return true;
        };
        let has = |list: &[String], s: &Str| list.iter().any(|x| x.as_str() == s.as_str());
        if f.exclude.contains(&subscriber.session)
            || has(&f.exclude_authid, &subscriber.authid)
            || has(&f.exclude_authrole, &subscriber.authrole)
        {
            return false;
        }
        f.eligible
            .as_ref()
            .is_none_or(|l| l.contains(&subscriber.session))
            && f.eligible_authid
                .as_ref()
                .is_none_or(|l| has(l, &subscriber.authid))
            && f.eligible_authrole
                .as_ref()
                .is_none_or(|l| has(l, &subscriber.authrole))
    }

    /// The EVENT for subscription `subscription`.
    pub(crate) fn event(
        &self,
        subscription: SubscriptionId,
        pattern: bool,
        retained: bool,
    ) -> Message {
        let mut details = Dict::new();
        if pattern {
            details.insert("topic", Value::Str(self.topic.as_str().to_owned()));
        }
        if let Some(who) = &self.disclosed {
            details.insert("publisher", Value::UInt(who.session.get()));
            details.insert("publisher_authid", who.authid.as_str());
            details.insert("publisher_authrole", who.authrole.as_str());
        }
        if retained {
            details.insert("retained", true);
        }
        if let Some(ppt) = &self.passthru {
            ppt.insert_into(&mut details);
        }
        Message::Event(Event {
            subscription,
            publication: self.id,
            details,
            payload: self.payload.clone(),
        })
    }
}
