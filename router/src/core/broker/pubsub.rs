//! SUBSCRIBE, UNSUBSCRIBE and PUBLISH of a session, and delivery of a
//! publication to this core's subscribers.

use std::rc::Rc;
use std::sync::Arc;

use crate::error::RoutingError;
use crate::tables::match_cache::{MATCH_CACHE_TOPICS, MatchCache, Matched};
use crate::tables::subscriptions::{CoreId, CoreSet};
use bytes::Bytes;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{PublicationId, SessionId, SubscriptionId};
use ringbar_protocol::message::{
    MessageType, Payload, Publish, Published, Subscribe, Subscribed, Unsubscribe, Unsubscribed,
};
use ringbar_protocol::options::{PublishOptions, SubscribeOptions};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, Uri, UriPattern};
use ringbar_protocol::value::Value;

use super::{Added, LocalSubscriber};
use super::{Publication, Receivers};
use crate::authorize::Action;
use crate::core::Core;
use crate::core::mail::Mail;
use crate::core::meta;
use crate::core::realm::Realm;
use crate::core::session::{Flow, Identity, SessionHandle};
use crate::core::sessions::Sessions;
use crate::limits::SlowConsumerPolicy;
use crate::local::figures::DropReason;
use crate::local::prefetch::prefetch;
use crate::wire::Wire;

fn core_id(core: &Core) -> CoreId {
    CoreId::try_from(core.id).unwrap_or(CoreId::MAX)
}

/// PUBLISH: check, match, fan out locally and to every other core with
/// subscribers, answer PUBLISHED when asked.
pub fn publish(core: &Rc<Core>, session: &Rc<SessionHandle>, publish: Publish) -> Flow {
    let options = match PublishOptions::from_dict(&publish.options) {
        Ok(o) => o,
        Err(e) => return Flow::Violation(e.to_string()),
    };
    let realm = &session.realm;
    let refuse = |error: RoutingError, text: &str| {
        if options.acknowledge {
            session.send_error(MessageType::Publish, publish.request, error, text);
        }
        Flow::Continue
    };
    if let Err((error, text)) = check_topic(realm, &publish.topic) {
        return refuse(error, &text);
    }
    let decision =
        session
            .decisions
            .borrow_mut()
            .decide(&session.role, Action::Publish, &publish.topic);
    if !decision.allowed {
        return refuse(
            RoutingError::NotAuthorized,
            &format!(
                "role '{}' may not publish to '{}'",
                session.identity.authrole, publish.topic
            ),
        );
    }

    let disclose = options.disclose_me || decision.disclose.publisher;
    let id = publish_as(
        core,
        realm,
        &session.identity,
        publish.topic,
        publish.payload,
        &options,
        disclose,
    );
    if options.acknowledge {
        session.send(&ringbar_protocol::message::Message::Published(Published {
            request: publish.request,
            publication: id,
        }));
    }
    Flow::Continue
}

/// Why no session may publish to `topic` in `realm`: the error URI and
/// its text.
pub fn check_topic(realm: &Realm, topic: &str) -> Result<(), (RoutingError, String)> {
    if let Err(e) = Uri::check(topic, realm.uri_check) {
        return Err((
            RoutingError::InvalidUri,
            format!("invalid topic '{topic}': {e}"),
        ));
    }
    if topic.starts_with(meta::WAMP_PREFIX) {
        return Err((
            RoutingError::InvalidUri,
            format!(
                "publish with restricted topic URI '{topic}': wamp.* topics are the router's own"
            ),
        ));
    }
    Ok(())
}

/// Publishes `payload` to `topic` (checked and authorized) as `publisher`
/// with `options`: a client's PUBLISH, or the REST bridge's publisher
/// acting as a session. Returns the publication's id.
pub fn publish_as(
    core: &Core,
    realm: &Arc<Realm>,
    publisher: &Identity,
    topic: Str,
    payload: Payload,
    options: &PublishOptions,
    disclose: bool,
) -> PublicationId {
    let received = core.shared.clock.now();
    let Matched {
        subscriptions,
        cores,
    } = matching(core, realm, &topic);
    let id = PublicationId::new(core.ids.borrow_mut().next_id()).unwrap_or_default();
    let publication = Arc::new(Publication {
        realm: realm.clone(),
        id,
        topic,
        payload,
        publisher: publisher.session,
        disclosed: disclose.then(|| publisher.clone()),
        exclude_me: options.exclude_me,
        passthru: options.passthru.clone(),
        filters: Receivers::of(options),
        subscriptions,
        received,
    });
    realm.record_history(&publication, publisher, core.shared.clock.wall());
    route(core, publication, cores, options.retain);
    id
}

/// What `topic` matches in `realm`, through this core's match cache.
fn matching(core: &Core, realm: &Realm, topic: &str) -> Matched {
    let snapshot = realm.subscriptions.snapshot();
    core.match_caches
        .borrow_mut()
        .entry(realm.index)
        .or_insert_with(|| MatchCache::new(MATCH_CACHE_TOPICS))
        .matched(&snapshot, topic)
}

/// Delivers a publication here and mails it to every other core in `cores`;
/// keeps it as its topic's retained event when asked.
///
/// In a realm shared with the cluster, the cluster link is one of the
/// cores; a retained publication goes to it whatever the subscriptions,
/// since every node keeps it.
fn route(core: &Core, publication: Arc<Publication>, mut cores: u64, retain: bool) {
    if retain {
        publication.realm.retain(&publication, &core.shared.limits);
        if let Some(link) = core.shared.cluster_link(&publication.realm) {
            cores = CoreSet::from_bits(cores)
                .without(CoreId::try_from(link).unwrap_or(CoreId::MAX))
                .bits();
            if let Err(e) = core.send_mail(link, Mail::Retain(publication.clone())) {
                tracing::error!(core = core.id, error = %e, "retained publication not sent to the cluster link");
            }
        }
    }
    let me = core_id(core);
    if cores & (1 << me) != 0 {
        deliver_or_hold(core, &publication);
    }
    for other in CoreSetBits(cores & !(1 << me)) {
        if let Err(e) = core.send_mail(usize::from(other), Mail::Publication(publication.clone())) {
            tracing::error!(core = core.id, error = %e, "publication not routed: a subscription names an unknown core");
        }
    }
}

/// Publishes an event of the router itself (a meta event) to `topic` of
/// `realm`, with `args` as its arguments; nothing is built when nobody
/// subscribes or the realm does not offer the meta API.
pub fn publish_meta(core: &Core, realm: &Arc<Realm>, topic: &'static str, args: &[Value]) {
    if !realm.meta_api {
        return;
    }
    let Matched {
        subscriptions,
        cores,
    } = matching(core, realm, topic);
    if subscriptions.is_empty() {
        return;
    }
    let payload = match Payload::from_values(Serializer::MsgPack, args, None) {
        Ok(payload) => payload,
        Err(e) => {
            tracing::debug!(topic, error = %e, "meta event not encodable");
            return;
        }
    };
    let publication = Publication {
        realm: realm.clone(),
        id: PublicationId::new(core.ids.borrow_mut().next_id()).unwrap_or_default(),
        topic: Str::from_static(topic),
        payload,
        publisher: SessionId::default(),
        disclosed: None,
        exclude_me: false,
        passthru: None,
        filters: None,
        subscriptions,
        received: core.shared.clock.now(),
    };
    route(core, Arc::new(publication), cores, false);
}

/// Publishes a testament of `session` (which is leaving): like its own
/// PUBLISH of `payload` to `topic` with `options`, without an answer.
pub fn publish_testament(
    core: &Core,
    session: &SessionHandle,
    topic: Str,
    payload: Payload,
    options: &PublishOptions,
) {
    let realm = &session.realm;
    let Matched {
        subscriptions,
        cores,
    } = matching(core, realm, &topic);
    if subscriptions.is_empty() && !options.retain {
        return;
    }
    let publication = Publication {
        realm: realm.clone(),
        id: PublicationId::new(core.ids.borrow_mut().next_id()).unwrap_or_default(),
        topic,
        payload,
        publisher: session.identity.session,
        disclosed: options.disclose_me.then(|| session.identity.clone()),
        exclude_me: false,
        passthru: options.passthru.clone(),
        filters: Receivers::of(options),
        subscriptions,
        received: core.shared.clock.now(),
    };
    route(core, Arc::new(publication), cores, options.retain);
}

/// The cores of a bitmask.
struct CoreSetBits(u64);

impl Iterator for CoreSetBits {
    type Item = CoreId;
    fn next(&mut self) -> Option<CoreId> {
        if self.0 == 0 {
            return None;
        }
        let core = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        CoreId::try_from(core).ok()
    }
}

/// Delivers `publication` to this core's subscribers of its subscriptions
/// (see [`deliver_group`]).
pub fn deliver(core: &Core, publication: &Arc<Publication>) {
    deliver_group(core, std::slice::from_ref(publication));
}

/// Holds `publication`'s delivery back when routing may now (see
/// [`super::Held`]); else delivers it, after what is held.
pub fn deliver_or_hold(core: &Core, publication: &Arc<Publication>) {
    if !core.held.hold(publication) {
        deliver_held(core);
        deliver(core, publication);
    }
}

/// Delivers the publications held back (see [`super::Held`]), in order: a
/// run of them to the same subscriptions in one pass.
pub fn deliver_held(core: &Core) {
    if core.held.is_empty() {
        return;
    }
    let mut held = std::mem::take(&mut *core.held.publications.borrow_mut());
    let mut rest = &held[..];
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take_while(|p| Arc::ptr_eq(&p.subscriptions, &first.subscriptions))
            .count();
        let (group, after) = rest.split_at(run);
        deliver_group(core, group);
        rest = after;
    }
    // The buffer's room serves the next group.
    held.clear();
    *core.held.publications.borrow_mut() = held;
}

/// Delivers `group`, publications to the same subscriptions (of one realm),
/// to this core's subscribers in one pass: each subscriber is looked up
/// once and gets the group's events in order. Each (publication, wire)
/// frame is built once and shared by every receiving session. When any
/// EVENT of a publication was queued, the time since its PUBLISH goes into
/// the core's publish-to-event figure.
fn deliver_group(core: &Core, group: &[Arc<Publication>]) {
    let Some(first) = group.first() else {
        return;
    };
    let locals = core.local_subscribers.borrow();
    let sessions = core.sessions.borrow();
    let mut outcomes: Vec<Outcome> = group.iter().map(|_| Outcome::default()).collect();
    for (subscription, pattern) in first.subscriptions.iter() {
        let subscribers = locals.of(first.realm.index, *subscription);
        if subscribers.is_empty() {
            continue;
        }
        outcomes.iter_mut().for_each(|o| o.frames.clear());
        for (at, subscriber) in subscribers.iter().enumerate() {
            prefetch_ahead(&sessions, subscribers, at);
            // A subscriber leaves its subscriptions as it leaves its core.
            let Some(session) = sessions.get(subscriber.key) else {
                continue;
            };
            for (publication, outcome) in group.iter().zip(outcomes.iter_mut()) {
                if publication.exclude_me && subscriber.session == publication.publisher {
                    continue;
                }
                if publication.filters.is_some() && !publication.admits(&session.identity) {
                    continue;
                }
                let event = Event {
                    publication,
                    subscription: *subscription,
                    pattern: *pattern,
                };
                if let Some(frame) = event.frame(&mut outcome.frames, subscriber) {
                    outcome.queued |= offer_event(core, session, frame);
                }
            }
        }
    }
    let now = core.shared.clock.now();
    for (publication, outcome) in group.iter().zip(outcomes) {
        if outcome.queued {
            core.figures
                .publish_delivered(now.saturating_duration_since(publication.received));
        }
    }
}

/// What delivering one publication of a group has built and done so far.
#[derive(Default)]
struct Outcome {
    /// Its EVENT frames for the current subscription, one per wire.
    frames: Vec<(Wire, Bytes)>,
    /// Whether any subscriber's queue took its EVENT.
    queued: bool,
}

/// A publication as one of its subscriptions delivers it.
struct Event<'p> {
    publication: &'p Publication,
    subscription: SubscriptionId,
    pattern: bool,
}

impl Event<'_> {
    /// The frame `subscriber` gets: from `frames`, the ones of this event
    /// built so far (one per wire), or built now and kept there; `None`
    /// when the event cannot be encoded for its wire.
    fn frame<'f>(
        &self,
        frames: &'f mut Vec<(Wire, Bytes)>,
        subscriber: &LocalSubscriber,
    ) -> Option<&'f Bytes> {
        let at = match frames.iter().position(|(w, _)| *w == subscriber.wire) {
            Some(at) => at,
            None => {
                let event = self
                    .publication
                    .event(self.subscription, self.pattern, false);
                match subscriber.wire.frame(&event) {
                    Ok(frame) => {
                        frames.push((subscriber.wire, frame));
                        frames.len() - 1
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, session = subscriber.session.get(), "event not encodable for subscriber");
                        return None;
                    }
                }
            }
        };
        frames.get(at).map(|(_, frame)| frame)
    }
}

/// Prefetches, in stages a few subscribers ahead of `at`, what queueing
/// an event to them reads (see [`crate::local::prefetch`]): each stage
/// reads what the one before brought in. The session's link pointer eight
/// ahead, the link and queue four ahead (through that pointer), and the
/// end of the tail buffer two ahead (from that queue).
fn prefetch_ahead(sessions: &Sessions, subscribers: &[LocalSubscriber], at: usize) {
    let session = |ahead: usize| {
        subscribers
            .get(at + ahead)
            .and_then(|subscriber| sessions.get(subscriber.key))
    };
    if let Some(session) = session(8) {
        prefetch(&session.conn);
    }
    if let Some(session) = session(4) {
        session.conn.prefetch();
    }
    if let Some(session) = session(2) {
        session.conn.outbound.prefetch_tail();
    }
}

/// Queues an event frame, applying the slow-consumer policy when the
/// subscriber's queue is full; whether it was queued. Every event is
/// counted: out, or dropped with its reason.
fn offer_event(core: &Core, session: &SessionHandle, frame: &Bytes) -> bool {
    if !session.conn.accepts(frame) {
        tracing::debug!(
            session = session.identity.session.get(),
            bytes = frame.len(),
            "event longer than the subscriber accepts: not sent"
        );
        core.figures.event_dropped(DropReason::TooLarge);
        return false;
    }
    let reason = match session.conn.push_event(frame) {
        Ok(()) => {
            core.figures.message_out(MessageType::Event);
            return true;
        }
        Err(reason) => reason,
    };
    core.figures.event_dropped(reason);
    if reason == DropReason::Closing {
        return false;
    }
    match core.shared.flow.slow_consumer {
        SlowConsumerPolicy::Drop => {
            let dropped = session.conn.outbound.dropped();
            if dropped.is_power_of_two() {
                tracing::warn!(
                    session = session.identity.session.get(),
                    dropped,
                    queued_bytes = session.conn.outbound.queued_bytes(),
                    "slow consumer: events dropped"
                );
            }
        }
        SlowConsumerPolicy::Disconnect => {
            if !session.conn.outbound.is_closing() {
                tracing::warn!(
                    session = session.identity.session.get(),
                    queued_bytes = session.conn.outbound.queued_bytes(),
                    "slow consumer: disconnected"
                );
                core.figures.slow_consumer_disconnects.add(1);
                session.conn.abort();
            }
        }
    }
    false
}

/// SUBSCRIBE: check, join (or create) the subscription, answer SUBSCRIBED,
/// then send retained events when asked.
pub fn subscribe(core: &Rc<Core>, session: &Rc<SessionHandle>, subscribe: Subscribe) -> Flow {
    let options = match SubscribeOptions::from_dict(&subscribe.options) {
        Ok(o) => o,
        Err(e) => return Flow::Violation(e.to_string()),
    };
    let realm = &session.realm;
    let pattern = match UriPattern::parse(&subscribe.topic, options.match_policy, realm.uri_check) {
        Ok(p) => p,
        Err(e) => {
            session.send_error(
                MessageType::Subscribe,
                subscribe.request,
                RoutingError::InvalidUri,
                &format!(
                    "invalid {} topic '{}': {e}",
                    options.match_policy.as_str(),
                    subscribe.topic
                ),
            );
            return Flow::Continue;
        }
    };
    let decision =
        session
            .decisions
            .borrow_mut()
            .decide(&session.role, Action::Subscribe, &subscribe.topic);
    if !decision.allowed {
        session.send_error(
            MessageType::Subscribe,
            subscribe.request,
            RoutingError::NotAuthorized,
            &format!(
                "role '{}' may not subscribe to '{}'",
                session.identity.authrole, subscribe.topic
            ),
        );
        return Flow::Continue;
    }
    let (subscription, created) =
        realm
            .subscriptions
            .subscribe(pattern.clone(), core_id(core), core.shared.clock.wall());
    let id = subscription.id;
    let added = core.local_subscribers.borrow_mut().add(
        realm.index,
        id,
        LocalSubscriber {
            session: session.identity.session,
            wire: session.wire,
            key: session.key,
        },
        core.shared.limits.max_subscriptions_per_session,
    );
    let already = match added {
        Added::Subscribed => {
            if core.local_subscribers.borrow().of(realm.index, id).len() == 1 {
                tell_cluster(core, realm, &pattern, true);
            }
            false
        }
        // Subscribing twice is idempotent: undo the second count.
        Added::AlreadySubscribed => {
            realm.subscriptions.unsubscribe(id, core_id(core));
            true
        }
        Added::TooMany { limit } => {
            realm.subscriptions.unsubscribe(id, core_id(core));
            session.send_error(
                MessageType::Subscribe,
                subscribe.request,
                RoutingError::TooManySubscriptions,
                &format!(
                    "this session holds {limit} subscriptions, the most ringbar.limits.max_subscriptions_per_session allows: unsubscribe first"
                ),
            );
            return Flow::Continue;
        }
    };
    session.send(&ringbar_protocol::message::Message::Subscribed(
        Subscribed {
            request: subscribe.request,
            subscription: id,
        },
    ));
    if !already {
        realm.add_subscriber(id, session.identity.session);
        meta::subscribed(
            core,
            realm,
            session.identity.session,
            &subscription,
            created,
        );
    }
    if options.get_retained {
        let is_pattern = pattern.policy() != MatchPolicy::Exact;
        for retained in realm.retained(|topic| pattern.matches(topic)) {
            if retained.admits(&session.identity)
                && let Ok(frame) = session.wire.frame(&retained.event(id, is_pattern, true))
            {
                offer_event(core, session, &frame);
            }
        }
    }
    Flow::Continue
}

/// UNSUBSCRIBE: leave a subscription this session holds.
pub fn unsubscribe(core: &Rc<Core>, session: &Rc<SessionHandle>, unsubscribe: Unsubscribe) -> Flow {
    let held = core.local_subscribers.borrow_mut().remove(
        session.realm.index,
        unsubscribe.subscription,
        session.identity.session,
    );
    if !held {
        session.send_error(
            MessageType::Unsubscribe,
            unsubscribe.request,
            RoutingError::NoSuchSubscription,
            &format!(
                "no subscription {} for this session",
                unsubscribe.subscription
            ),
        );
        return Flow::Continue;
    }
    leave_subscription(core, session, unsubscribe.subscription);
    session.send(&ringbar_protocol::message::Message::Unsubscribed(
        Unsubscribed {
            request: unsubscribe.request,
            details: None,
        },
    ));
    Flow::Continue
}

/// A session leaves: it leaves every subscription it held.
pub fn remove_session(core: &Core, session: &SessionHandle) {
    let held = core
        .local_subscribers
        .borrow_mut()
        .remove_session(session.realm.index, session.identity.session);
    for id in held {
        leave_subscription(core, session, id);
    }
}

/// What is left to do once this core's view no longer has `session` as a
/// subscriber of `id`: the realm's tables, and the meta event.
fn leave_subscription(core: &Core, session: &SessionHandle, id: SubscriptionId) {
    let realm = &session.realm;
    realm.remove_subscriber(id, session.identity.session);
    let Some(pattern) = realm.subscriptions.get(id).map(|s| s.pattern.clone()) else {
        return;
    };
    if core
        .local_subscribers
        .borrow()
        .of(realm.index, id)
        .is_empty()
    {
        tell_cluster(core, realm, &pattern, false);
    }
    if let Some(deleted) = realm.subscriptions.unsubscribe(id, core_id(core)) {
        meta::unsubscribed(
            core,
            realm,
            session.identity.session,
            id,
            pattern.uri(),
            deleted,
        );
    }
}

/// Tells the cluster link that this core now has subscribers to `pattern`
/// (`held`) or no longer has any, when `realm` is shared with the cluster.
fn tell_cluster(core: &Core, realm: &Arc<Realm>, pattern: &UriPattern, held: bool) {
    let Some(link) = core.shared.cluster_link(realm) else {
        return;
    };
    let mail = Mail::Interest {
        realm: realm.clone(),
        pattern: pattern.clone(),
        held,
    };
    if let Err(e) = core.send_mail(link, mail) {
        tracing::error!(core = core.id, error = %e, "interest not sent to the cluster link");
    }
}
