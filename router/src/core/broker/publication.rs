//! [`Publication`]: one PUBLISH as every core that has subscribers needs it,
//! shared by `Arc` (one mailbox message per core, not per subscriber).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ringbar_protocol::id::{PublicationId, SessionId, SubscriptionId};
use ringbar_protocol::message::{Arguments, Event, Message, Payload};
use ringbar_protocol::options::{PayloadPassthru, PublishOptions};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::core::realm::Realm;
use crate::core::session::Identity;

/// A publication on its way to subscribers.
pub struct Publication {
    /// The realm it was published in.
    pub realm: Arc<Realm>,
    /// Its id (EVENT's `Publication|id`).
    pub id: PublicationId,
    /// The topic it was published to.
    pub topic: Str,
    /// Its arguments, as received (spliced into each EVENT).
    pub payload: Payload,
    /// The publishing session (for `exclude_me`).
    pub publisher: SessionId,
    /// The publisher's identity, when disclosed.
    pub disclosed: Option<Identity>,
    /// `exclude_me`.
    pub exclude_me: bool,
    /// Black- and whitelists, when any was given.
    pub filters: Option<Receivers>,
    /// Payload passthru options, forwarded to subscribers.
    pub passthru: Option<PayloadPassthru>,
    /// The matching subscriptions, and whether each is a pattern one (its
    /// events then carry `details.topic`).
    pub subscriptions: Arc<[(SubscriptionId, bool)]>,
    /// When the core decoded the PUBLISH (or built the router's own
    /// publication), for the publish-to-event figure.
    pub received: Instant,
}

impl Publication {
    /// Whether a subscriber with this identity may receive the event.
    pub fn admits(&self, subscriber: &Identity) -> bool {
        if self.exclude_me && subscriber.session == self.publisher {
            return false;
        }
        self.filters.as_ref().is_none_or(|f| f.admit(subscriber))
    }

    /// The bytes a retained copy holds: topic and payload.
    pub fn retained_bytes(&self) -> usize {
        let payload = match &self.payload {
            Payload::Empty => 0,
            Payload::Arguments(a) => a.args.len() + a.kwargs.as_ref().map_or(0, Bytes::len),
            Payload::Transparent(bytes) => bytes.len(),
        };
        self.topic.len() + payload
    }

    /// A copy that owns its topic and payload bytes instead of sharing the
    /// buffer they were read into (which holds the whole read).
    pub fn detached(&self) -> Publication {
        let payload = match &self.payload {
            Payload::Empty => Payload::Empty,
            Payload::Arguments(a) => Payload::Arguments(Arguments {
                serializer: a.serializer,
                args: Bytes::copy_from_slice(&a.args),
                kwargs: a.kwargs.as_deref().map(Bytes::copy_from_slice),
            }),
            Payload::Transparent(bytes) => Payload::Transparent(Bytes::copy_from_slice(bytes)),
        };
        Publication {
            realm: self.realm.clone(),
            id: self.id,
            topic: Str::from(self.topic.as_str()),
            payload,
            publisher: self.publisher,
            disclosed: self.disclosed.clone(),
            exclude_me: self.exclude_me,
            filters: self.filters.clone(),
            passthru: self.passthru.clone(),
            subscriptions: self.subscriptions.clone(),
            received: self.received,
        }
    }

    /// The EVENT for subscription `subscription`.
    pub fn event(&self, subscription: SubscriptionId, pattern: bool, retained: bool) -> Message {
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

/// A PUBLISH's `exclude*` and `eligible*` lists, sorted once when the
/// publication is made, so each subscriber costs a binary search of each
/// list rather than a scan: a publication that names 10,000 sessions to
/// 10,000 subscribers is 10,000 × 14 steps, not 10⁸.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receivers {
    pub(crate) exclude: Vec<SessionId>,
    pub(crate) exclude_authid: Vec<String>,
    pub(crate) exclude_authrole: Vec<String>,
    pub(crate) eligible: Option<Vec<SessionId>>,
    pub(crate) eligible_authid: Option<Vec<String>>,
    pub(crate) eligible_authrole: Option<Vec<String>>,
}

impl Receivers {
    /// The lists of `options`, when it has any.
    pub fn of(options: &PublishOptions) -> Option<Receivers> {
        options.filters_receivers().then(|| Receivers {
            exclude: sorted(options.exclude.clone()),
            exclude_authid: sorted(options.exclude_authid.clone()),
            exclude_authrole: sorted(options.exclude_authrole.clone()),
            eligible: options.eligible.clone().map(sorted),
            eligible_authid: options.eligible_authid.clone().map(sorted),
            eligible_authrole: options.eligible_authrole.clone().map(sorted),
        })
    }

    /// The lists as another node sent them (sorted here, whatever their
    /// order on the wire).
    pub(crate) fn from_lists(
        exclude: Vec<SessionId>,
        exclude_authid: Vec<String>,
        exclude_authrole: Vec<String>,
        eligible: Option<Vec<SessionId>>,
        eligible_authid: Option<Vec<String>>,
        eligible_authrole: Option<Vec<String>>,
    ) -> Receivers {
        Receivers {
            exclude: sorted(exclude),
            exclude_authid: sorted(exclude_authid),
            exclude_authrole: sorted(exclude_authrole),
            eligible: eligible.map(sorted),
            eligible_authid: eligible_authid.map(sorted),
            eligible_authrole: eligible_authrole.map(sorted),
        }
    }

    /// Whether the lists let `subscriber` receive the event.
    fn admit(&self, subscriber: &Identity) -> bool {
        let has = |list: &[String], s: &Str| {
            list.binary_search_by(|x| x.as_str().cmp(s.as_str()))
                .is_ok()
        };
        if self.exclude.binary_search(&subscriber.session).is_ok()
            || has(&self.exclude_authid, &subscriber.authid)
            || has(&self.exclude_authrole, &subscriber.authrole)
        {
            return false;
        }
        self.eligible
            .as_ref()
            .is_none_or(|l| l.binary_search(&subscriber.session).is_ok())
            && self
                .eligible_authid
                .as_ref()
                .is_none_or(|l| has(l, &subscriber.authid))
            && self
                .eligible_authrole
                .as_ref()
                .is_none_or(|l| has(l, &subscriber.authrole))
    }
}

fn sorted<T: Ord>(mut list: Vec<T>) -> Vec<T> {
    list.sort_unstable();
    list.dedup();
    list
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The rule as the spec states it, by scanning every list.
    fn naive(o: &PublishOptions, who: &Identity) -> bool {
        let has = |l: &[String], s: &Str| l.iter().any(|x| x == s.as_str());
        !(o.exclude.contains(&who.session)
            || has(&o.exclude_authid, &who.authid)
            || has(&o.exclude_authrole, &who.authrole))
            && o.eligible.as_ref().is_none_or(|l| l.contains(&who.session))
            && o.eligible_authid
                .as_ref()
                .is_none_or(|l| has(l, &who.authid))
            && o.eligible_authrole
                .as_ref()
                .is_none_or(|l| has(l, &who.authrole))
    }

    fn ids() -> impl Strategy<Value = Vec<SessionId>> {
        proptest::collection::vec((1u64..20).prop_map(|n| SessionId::new(n).unwrap()), 0..12)
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-d]{1,2}", 0..8)
    }

    #[test]
    fn a_detached_copy_keeps_no_part_of_the_read_buffer() {
        use crate::core::config::RealmConfig;
        use ringbar_protocol::codec::Serializer;
        use ringbar_protocol::uri::UriCheck;

        let read = Bytes::from_static(b"com.example.topic[1,2,3]{\"k\":1}");
        let realm = crate::core::realm::Realm::new(
            0,
            &RealmConfig {
                name: "realm1".into(),
                roles: Vec::new(),
                uri_check: UriCheck::Loose,
                event_history: Vec::new(),
                enable_meta_api: true,
            },
            &crate::core::seed::Seeds::Os,
            std::time::SystemTime::now(),
        );
        let publication = Publication {
            realm: Arc::new(realm),
            id: PublicationId::new(1).unwrap(),
            topic: Str::from_utf8(read.slice(0..17)).unwrap(),
            payload: Payload::Arguments(Arguments {
                serializer: Serializer::Json,
                args: read.slice(17..24),
                kwargs: Some(read.slice(24..)),
            }),
            publisher: SessionId::new(1).unwrap(),
            disclosed: None,
            exclude_me: false,
            filters: None,
            passthru: None,
            subscriptions: Arc::new([]),
            received: Instant::now(),
        };
        assert_eq!(publication.retained_bytes(), read.len());
        let copy = publication.detached();
        let inside = |p: *const u8| read.as_ptr_range().contains(&p);
        assert_eq!(copy.topic.as_str(), "com.example.topic");
        assert!(!inside(copy.topic.as_str().as_ptr()));
        let Payload::Arguments(a) = &copy.payload else {
            panic!("arguments")
        };
        assert_eq!(
            (&a.args[..], a.kwargs.as_deref()),
            (&b"[1,2,3]"[..], Some(&b"{\"k\":1}"[..]))
        );
        assert!(!inside(a.args.as_ptr()));
        assert!(!inside(a.kwargs.as_ref().unwrap().as_ptr()));
    }

    proptest! {
        #[test]
        fn sorted_lists_admit_what_the_spec_admits(
            exclude in ids(),
            exclude_authid in names(),
            exclude_authrole in names(),
            eligible in proptest::option::of(ids()),
            eligible_authid in proptest::option::of(names()),
            eligible_authrole in proptest::option::of(names()),
            session in 1u64..20,
            authid in "[a-d]{1,2}",
            authrole in "[a-d]{1,2}",
        ) {
            let options = PublishOptions {
                exclude,
                exclude_authid,
                exclude_authrole,
                eligible,
                eligible_authid,
                eligible_authrole,
                ..PublishOptions::from_dict(&Dict::new()).unwrap()
            };
            let who = Identity {
                session: SessionId::new(session).unwrap(),
                authid: Str::from(authid.as_str()),
                authrole: Str::from(authrole.as_str()),
            };
            let admitted = Receivers::of(&options).is_none_or(|r| r.admit(&who));
            prop_assert_eq!(admitted, naive(&options, &who));
        }
    }
}
