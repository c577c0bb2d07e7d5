//! The cluster link's state: what this node tells the others, what it knows
//! of them, and where each message goes. Sans-IO: the driver hands in what
//! NATS delivers, the cores' mail and the time, and carries out each
//! [`Output`] (a NATS publish, a bucket's write, or mail to a core).
//!
//! Interest follows subscriptions. Each node announces the patterns it has
//! subscribers to, one [`InterestChange`] at a time, each numbered; its
//! heartbeat carries the latest number, so a node that missed a change
//! asks for the whole [`State`]. What another node holds, the link
//! subscribes in the realm's table as if it were a core; a publication
//! matching it is then mailed to the link by the publishing core and sent
//! to each interested node once, however many subscribers it has there.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringbar_protocol::id::{PublicationId, RegistrationId, SessionId, SubscriptionId};
use ringbar_protocol::uri::{UriCheck, UriPattern};

use super::calls::{Bounded, CallRef, Incoming, MAX_CALLS, Outgoing};
use super::wire::{
    ClusterMessage, Heartbeat, Interest, InterestChange, RemotePublication, STATE_PART_BYTES,
    State, Topic, encode_publication, interest_size,
};
use crate::core::Shared;
use crate::core::broker::Publication;
use crate::core::cluster::ClusterFigures;
use crate::core::mail::Mail;
use crate::core::realm::Realm;
use crate::core::session::Identity;
use crate::tables::match_cache::Matched;
use crate::tables::registrations::Callee;
use crate::tables::subscriptions::{CoreId, CoreSet};

/// What the driver is to do for the link.
pub enum Output {
    /// Publish `payload` on `subject`.
    Publish {
        /// The NATS subject.
        subject: String,
        /// The message.
        payload: Bytes,
    },
    /// Keep `payload` (a retained publication) under `key` in the
    /// cluster's retained-events bucket, replacing the topic's last one.
    Retain {
        /// The bucket key: realm and topic.
        key: String,
        /// The publication.
        payload: Bytes,
    },
    /// Claim `key` in the registrations bucket for this node (`value`):
    /// the answer, whether no other node holds it, goes to
    /// [`Link::on_claim_answer`] with `id`.
    Claim {
        /// Names the claim in the answer.
        id: u64,
        /// The bucket key: realm, procedure and match policy.
        key: String,
        /// This node's name and start.
        value: String,
    },
    /// Release this node's claim of `key` (when it still holds `value`).
    Release {
        /// The bucket key.
        key: String,
        /// This node's name and start, as claimed.
        value: String,
    },
    /// Release claims of `node`: those of one of its starts (it is gone),
    /// or those of every start but one (it started again).
    ReleaseClaims {
        /// The node.
        node: String,
        /// Which of its starts.
        starts: Starts,
    },
    /// Mail core `to`: a publication, or a call's part, from another node.
    Mail {
        /// The core.
        to: usize,
        /// The mail.
        mail: Mail,
    },
}

/// Some starts (incarnations) of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    /// This one.
    Only(u64),
    /// Every one but this.
    AllBut(u64),
}

/// The link's settings.
pub struct LinkConfig {
    /// This node's name.
    pub node: String,
    /// Random per start.
    pub incarnation: u64,
    /// The first token of every subject.
    pub subject_prefix: String,
    /// A node not heard from for this long is gone.
    pub failure_timeout: Duration,
}

/// What the link holds in this node's tables for another node.
pub(super) enum Held {
    /// A subscription, for its subscribers.
    Subscription(Arc<Realm>, SubscriptionId),
    /// A callee of a registration: its session.
    Callee(Arc<Realm>, RegistrationId, SessionId),
    /// A session, for the session meta API.
    Member(Arc<Realm>, SessionId),
}

/// A callee on another node, as calls to it are sent.
pub(super) struct RemoteCallee {
    /// Its node.
    pub(super) node: String,
    /// The realm's name.
    pub(super) realm: String,
    /// The registration's procedure or pattern, and match policy.
    pub(super) pattern: UriPattern,
}

/// Another node, as this one knows it.
pub(super) struct Peer {
    incarnation: u64,
    /// The last interest change applied.
    version: u64,
    last_heard: Instant,
    /// What it has, with what the link holds for it here.
    held: HashMap<Interest, Held>,
    /// When its state was asked for, while the answer is awaited.
    asked: Option<Instant>,
    /// The parts of its state received so far: from which start and
    /// version, and the interests.
    state: Option<(u64, u64, u32, Vec<Interest>)>,
    /// Where its publications go.
    events: String,
    /// Where calls and answers for it go.
    pub(super) calls: String,
}

/// The cluster link of one node.
pub struct Link {
    me: Heartbeat,
    prefix: String,
    failure_timeout: Duration,
    shared: Arc<Shared>,
    /// The link's mailbox, which is also its core id in the tables.
    link: usize,
    figures: Arc<ClusterFigures>,
    /// This node's patterns, with how many cores hold each, and its
    /// callees.
    local: HashMap<Interest, u32>,
    pub(super) peers: HashMap<String, Peer>,
    /// The nodes each subscription the link holds is held for.
    remote: HashMap<(usize, SubscriptionId), BTreeSet<String>>,
    /// The callees the link holds for other nodes, by registration here.
    pub(super) remote_callees: HashMap<(RegistrationId, SessionId), RemoteCallee>,
    /// This node's sessions in shared realms, as announced.
    pub(super) local_members: HashMap<(String, u64), Interest>,
    /// Other nodes' sessions the link holds in the realms' session lists,
    /// with their node and realm.
    pub(super) remote_members: HashMap<SessionId, (String, String)>,
    /// Calls of this node's callers that other nodes serve.
    pub(super) outgoing: Bounded<CallRef, Outgoing>,
    /// Calls of other nodes' callers that this node serves.
    pub(super) incoming: Bounded<CallRef, Incoming>,
    /// `single` registrations claimed cluster-wide, or waiting to be.
    pub(super) claims: super::rpc::Claims,
    pub(super) out: VecDeque<Output>,
    pub(super) connected: bool,
    /// Another process calls itself this node: said once.
    name_clash_told: bool,
    /// The first tick, and whether "NATS not reached" was said since the
    /// link was last connected.
    first_tick: Option<Instant>,
    unreached_told: bool,
}

impl Link {
    /// The link of a router whose shared parts have a cluster port
    /// (`Shared::with_cluster`); `None` without one.
    pub fn new(shared: Arc<Shared>, config: LinkConfig) -> Option<Link> {
        let port = shared.cluster.as_ref()?;
        let (link, figures) = (port.link, port.figures.clone());
        Some(Link {
            me: Heartbeat {
                node: config.node,
                incarnation: config.incarnation,
                version: 0,
            },
            prefix: config.subject_prefix,
            failure_timeout: config.failure_timeout,
            shared,
            link,
            figures,
            local: HashMap::new(),
            peers: HashMap::new(),
            remote: HashMap::new(),
            remote_callees: HashMap::new(),
            local_members: HashMap::new(),
            remote_members: HashMap::new(),
            outgoing: Bounded::new(MAX_CALLS),
            incoming: Bounded::new(MAX_CALLS),
            claims: super::rpc::Claims::default(),
            out: VecDeque::new(),
            connected: false,
            name_clash_told: false,
            first_tick: None,
            unreached_told: false,
        })
    }

    /// This node's name in the cluster.
    pub fn node(&self) -> &str {
        &self.me.node
    }

    /// The subjects the driver subscribes to.
    pub fn subjects(&self) -> [String; 5] {
        [
            self.subject("heartbeat"),
            self.subject("interest"),
            self.node_subject("events", &self.me.node),
            self.node_subject("state", &self.me.node),
            self.node_subject("calls", &self.me.node),
        ]
    }

    /// The JetStream key-value bucket of the `single` registrations'
    /// claims.
    pub fn registrations_bucket(&self) -> String {
        format!("{}_registrations", self.prefix.replace('.', "_"))
    }

    /// What this node writes into the registrations bucket for its
    /// claims: its name and start.
    pub fn claim_value(&self) -> String {
        format!("{} {}", self.me.node, self.me.incarnation)
    }

    /// This node's claims from an earlier start are released: a node that
    /// started again has none of its last start's callees.
    pub fn release_earlier_claims(&mut self) {
        self.out.push_back(Output::ReleaseClaims {
            node: self.me.node.clone(),
            starts: Starts::AllBut(self.me.incarnation),
        });
    }

    /// The JetStream key-value bucket of the cluster's retained events,
    /// which every node watches.
    pub fn retained_bucket(&self) -> String {
        format!("{}_retained", self.prefix.replace('.', "_"))
    }

    /// The next thing to do, if any.
    pub fn next_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The link's figures.
    pub fn figures(&self) -> &ClusterFigures {
        &self.figures
    }

    pub(super) fn link_core(&self) -> CoreId {
        CoreId::try_from(self.link).unwrap_or(CoreId::MAX)
    }

    fn subject(&self, what: &str) -> String {
        format!("{}.{what}", self.prefix)
    }

    pub(super) fn node_subject(&self, what: &str, node: &str) -> String {
        format!("{}.{what}.{node}", self.prefix)
    }

    /// The connection to NATS came up or went away.
    pub fn on_connection(&mut self, up: bool) {
        if up == self.connected {
            return;
        }
        self.connected = up;
        self.figures().connected.sub(u64::from(!up));
        self.figures().connected.add(u64::from(up));
        if up {
            self.unreached_told = false;
            tracing::info!(node = %self.me.node, "cluster: connected to NATS");
            self.heartbeat();
            self.claim_unclaimed();
        } else {
            tracing::warn!(node = %self.me.node, "cluster: NATS unreachable: routing on this node only until it is back");
        }
    }

    /// Time passes: says this node is alive, forgets nodes not heard
    /// from for the failure timeout, and gives up on state answers that did
    /// not come (the next heartbeat asks again). The driver calls it every
    /// heartbeat.
    pub fn tick(&mut self, now: Instant) {
        let patience = self.failure_timeout;
        let first = *self.first_tick.get_or_insert(now);
        if !self.connected
            && !self.unreached_told
            && now.saturating_duration_since(first) >= patience
        {
            // Never reached (refused, or TLS failed): the client retries
            // on its own; the operator hears of it once.
            self.unreached_told = true;
            tracing::warn!(node = %self.me.node, "cluster: NATS not reached: routing on this node only until it is (check ringbar.cluster.nats: servers, credentials, TLS)");
        }
        for peer in self.peers.values_mut() {
            if peer
                .asked
                .is_some_and(|at| now.saturating_duration_since(at) >= patience)
            {
                peer.asked = None;
                peer.state = None;
            }
        }
        self.heartbeat();
        if self.connected {
            self.claim_unclaimed();
        }
        let gone: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_heard) >= self.failure_timeout)
            .map(|(name, _)| name.clone())
            .collect();
        for node in gone {
            tracing::warn!(node = %node, after_ms = self.failure_timeout.as_millis(), "cluster: node not heard from: its subscriptions are dropped");
            self.drop_peer(&node);
        }
    }

    /// This node stops: tells the others, so they drop it at once.
    pub fn leave(&mut self) {
        let payload = ClusterMessage::Leaving(self.me.clone()).encode();
        self.publish(self.subject("heartbeat"), payload);
    }

    fn heartbeat(&mut self) {
        let payload = ClusterMessage::Heartbeat(self.me.clone()).encode();
        self.publish(self.subject("heartbeat"), payload);
    }

    pub(super) fn publish(&mut self, subject: String, payload: Bytes) {
        self.out.push_back(Output::Publish { subject, payload });
    }

    /// Mail from a core: a publication for other nodes, a retained one for
    /// all, or a change of this node's interest.
    pub fn on_mail(&mut self, mail: Mail) {
        match mail {
            Mail::Publication(p) => self.forward(&p),
            Mail::Retain(p) => {
                self.forward(&p);
                self.out.push_back(Output::Retain {
                    key: retained_key(&p.realm.name, &p.topic),
                    payload: encode_publication(&p.realm.name, &p, true),
                });
            }
            Mail::Interest {
                realm,
                pattern,
                held,
            } => {
                if self.shared.cluster_link(&realm).is_some() {
                    let topic = Topic {
                        realm: realm.name.clone(),
                        policy: pattern.policy(),
                        uri: pattern.uri().to_owned(),
                    };
                    self.local_interest(Interest::Topic(topic), held);
                }
            }
            Mail::Registered(registered) => self.registered(*registered),
            Mail::Invoke(invoke) => self.invoke_elsewhere(*invoke),
            Mail::Interrupt(interrupt) => self.interrupt_elsewhere(&interrupt),
            Mail::Answer(answer) => self.answer_elsewhere(*answer),
            Mail::Session(change) => self.session_change(*change),
            Mail::KillSession {
                session,
                reason,
                message,
            } => self.kill_elsewhere(session, &reason, message),
            Mail::Claimed(_) => {
                tracing::error!("cluster link: mail for a core dropped");
            }
        }
    }

    /// Sends `publication` once to each node that holds one of its
    /// subscriptions.
    fn forward(&mut self, publication: &Publication) {
        let realm = publication.realm.index;
        let mut nodes: Vec<&String> = Vec::new();
        for (id, _) in publication.subscriptions.iter() {
            if let Some(holders) = self.remote.get(&(realm, *id)) {
                nodes.extend(holders);
            }
        }
        if nodes.is_empty() {
            return;
        }
        nodes.sort_unstable();
        nodes.dedup();
        let payload = encode_publication(&publication.realm.name, publication, false);
        for node in nodes {
            if let Some(peer) = self.peers.get(node) {
                self.out.push_back(Output::Publish {
                    subject: peer.events.clone(),
                    payload: payload.clone(),
                });
            }
        }
    }

    /// One more core holds `interest` (`held`), or one fewer; the other
    /// nodes are told when the first takes it or the last lets go.
    pub(super) fn local_interest(&mut self, interest: Interest, held: bool) {
        let changed = match self.local.entry(interest.clone()) {
            Entry::Occupied(mut cores) if held => {
                *cores.get_mut() += 1;
                false
            }
            Entry::Occupied(mut cores) => {
                *cores.get_mut() = cores.get().saturating_sub(1);
                if *cores.get() == 0 {
                    cores.remove();
                    true
                } else {
                    false
                }
            }
            Entry::Vacant(slot) if held => {
                slot.insert(1);
                true
            }
            Entry::Vacant(_) => false,
        };
        if changed {
            self.me.version += 1;
            let change = ClusterMessage::Interest(InterestChange {
                from: self.me.clone(),
                interest,
                held,
            });
            self.publish(self.subject("interest"), change.encode());
        }
    }

    /// A message from NATS.
    pub fn on_message(&mut self, payload: Bytes, now: Instant) {
        self.figures().messages_in.add(1);
        self.figures()
            .bytes_in
            .add(u64::try_from(payload.len()).unwrap_or(u64::MAX));
        let message = match ClusterMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                self.figures().unreadable.add(1);
                tracing::debug!(error = %e, "cluster: message not readable");
                return;
            }
        };
        match message {
            ClusterMessage::Heartbeat(h) => self.heard(&h, now),
            ClusterMessage::Leaving(h) => {
                if self
                    .peers
                    .get(&h.node)
                    .is_some_and(|p| p.incarnation == h.incarnation)
                {
                    tracing::info!(node = %h.node, "cluster: node left");
                    self.drop_peer(&h.node);
                }
            }
            ClusterMessage::Interest(change) => self.interest_change(change, now),
            ClusterMessage::StateRequest(asker) => self.send_state(&asker),
            ClusterMessage::State(state) => self.state(state, now),
            ClusterMessage::Publication(p) => self.receive(*p, now),
            ClusterMessage::Invoke(invoke) => self.invoke_here(*invoke),
            ClusterMessage::Interrupt(interrupt) => self.interrupt_here(&interrupt),
            ClusterMessage::Answer(answer) => self.answer_here(*answer),
            ClusterMessage::Kill(kill) => self.kill_here(&kill),
        }
    }

    /// Sends this node's whole interest to `asker`, in parts.
    fn send_state(&mut self, asker: &str) {
        let subject = self.node_subject("state", asker);
        let mut parts: Vec<Vec<Interest>> = vec![Vec::new()];
        let mut bytes = 0;
        for interest in self.local.keys() {
            let size = interest_size(interest);
            if bytes + size > STATE_PART_BYTES && parts.last().is_some_and(|p| !p.is_empty()) {
                parts.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(part) = parts.last_mut() {
                part.push(interest.clone());
            }
        }
        let count = parts.len();
        for (at, interests) in parts.into_iter().enumerate() {
            let state = ClusterMessage::State(State {
                from: self.me.clone(),
                part: u32::try_from(at).unwrap_or(u32::MAX),
                last: at + 1 == count,
                interests,
            });
            self.publish(subject.clone(), state.encode());
        }
    }

    /// A node's heartbeat: a new node (or a new start of one) is asked for
    /// its state; a known one whose version moved past ours too.
    fn heard(&mut self, h: &Heartbeat, now: Instant) {
        if h.node == self.me.node {
            if h.incarnation != self.me.incarnation && !self.name_clash_told {
                self.name_clash_told = true;
                tracing::error!(node = %h.node, "cluster: another node has this node's name: give each node its own ringbar.cluster.node");
            }
            return;
        }
        let behind = match self.peers.get_mut(&h.node) {
            Some(peer) if peer.incarnation == h.incarnation => {
                peer.last_heard = now;
                peer.version != h.version && peer.asked.is_none()
            }
            _ => {
                self.meet(h, now);
                h.version > 0
            }
        };
        if behind {
            self.ask_state(&h.node, now);
        }
    }

    /// Starts knowing `h`'s node afresh (it is new, or started again).
    fn meet(&mut self, h: &Heartbeat, now: Instant) {
        if self.peers.contains_key(&h.node) {
            tracing::info!(node = %h.node, "cluster: node started again");
            self.drop_peer(&h.node);
        } else {
            tracing::info!(node = %h.node, "cluster: node joined");
        }
        let events = self.node_subject("events", &h.node);
        let calls = self.node_subject("calls", &h.node);
        self.peers.insert(
            h.node.clone(),
            Peer {
                incarnation: h.incarnation,
                version: 0,
                last_heard: now,
                held: HashMap::new(),
                asked: None,
                state: None,
                events,
                calls,
            },
        );
        self.figures().peers.add(1);
    }

    fn ask_state(&mut self, node: &str, now: Instant) {
        let Some(peer) = self.peers.get_mut(node) else {
            return;
        };
        peer.asked = Some(now);
        peer.state = None;
        let subject = self.node_subject("state", node);
        let request = ClusterMessage::StateRequest(self.me.node.clone()).encode();
        self.publish(subject, request);
    }

    fn interest_change(&mut self, change: InterestChange, now: Instant) {
        let from = &change.from;
        if from.node == self.me.node {
            return;
        }
        let expected = match self.peers.get_mut(&from.node) {
            Some(peer) if peer.incarnation == from.incarnation => {
                peer.last_heard = now;
                if peer.asked.is_some() || from.version <= peer.version {
                    return;
                }
                from.version == peer.version + 1
            }
            _ => {
                self.meet(from, now);
                false
            }
        };
        if !expected {
            self.ask_state(&from.node, now);
            return;
        }
        if let Some(peer) = self.peers.get_mut(&from.node) {
            peer.version = from.version;
        }
        if change.held {
            self.hold(&from.node, change.interest);
        } else {
            self.release(&from.node, &change.interest);
        }
    }

    /// A part of a node's state: gathered until the last, which replaces
    /// what the link held for the node. A part out of order drops the
    /// gathering; the next heartbeat asks again.
    fn state(&mut self, state: State, now: Instant) {
        let from = state.from;
        if from.node == self.me.node {
            return;
        }
        match self.peers.get(&from.node) {
            Some(peer) if peer.incarnation == from.incarnation => {}
            _ => self.meet(&from, now),
        }
        let Some(peer) = self.peers.get_mut(&from.node) else {
            return;
        };
        let gathered = match peer.state.take() {
            None if state.part == 0 => Some(state.interests),
            Some((incarnation, version, next, mut interests))
                if (incarnation, version, next) == (from.incarnation, from.version, state.part) =>
            {
                interests.extend(state.interests);
                Some(interests)
            }
            _ => None,
        };
        let Some(interests) = gathered else {
            peer.asked = None;
            return;
        };
        if !state.last {
            peer.state = Some((
                from.incarnation,
                from.version,
                state.part.saturating_add(1),
                interests,
            ));
            return;
        }
        peer.asked = None;
        let wanted: std::collections::HashSet<Interest> = interests.into_iter().collect();
        let held: Vec<Interest> = self
            .peers
            .get(&from.node)
            .map(|p| p.held.keys().cloned().collect())
            .unwrap_or_default();
        for interest in held.iter().filter(|i| !wanted.contains(*i)) {
            self.release(&from.node, interest);
        }
        for interest in wanted {
            self.hold(&from.node, interest);
        }
        if let Some(peer) = self.peers.get_mut(&from.node) {
            peer.version = from.version;
            peer.last_heard = now;
        }
    }

    /// Holds `interest` for `node` in the realm's tables (a subscription
    /// or a callee on the link), when this node shares the realm.
    fn hold(&mut self, node: &str, interest: Interest) {
        if self
            .peers
            .get(node)
            .is_none_or(|p| p.held.contains_key(&interest))
        {
            return;
        }
        let held = match &interest {
            Interest::Topic(topic) => self.hold_topic(node, topic),
            Interest::Procedure(procedure) => self.hold_callee(node, procedure),
            Interest::Member(member) => self.hold_member(node, member),
        };
        if let (Some(held), Some(peer)) = (held, self.peers.get_mut(node)) {
            peer.held.insert(interest, held);
        }
    }

    fn hold_topic(&mut self, node: &str, topic: &Topic) -> Option<Held> {
        let realm = self.shared_realm(&topic.realm)?;
        // Another node checked the pattern by its own realm's rule; any
        // pattern a node may hold is valid loosely.
        let Ok(pattern) = UriPattern::parse(&topic.uri, topic.policy, UriCheck::Loose) else {
            tracing::debug!(node, uri = %topic.uri, "cluster: interest in an invalid pattern ignored");
            return None;
        };
        let (subscription, _) =
            realm
                .subscriptions
                .subscribe(pattern, self.link_core(), self.shared.clock.wall());
        self.remote
            .entry((realm.index, subscription.id))
            .or_default()
            .insert(node.to_owned());
        Some(Held::Subscription(realm, subscription.id))
    }

    fn hold_callee(&mut self, node: &str, procedure: &super::wire::Procedure) -> Option<Held> {
        let realm = self.shared_realm(&procedure.realm)?;
        let pattern = UriPattern::parse(&procedure.uri, procedure.policy, UriCheck::Loose).ok()?;
        let session = SessionId::new(procedure.session)?;
        let callee = Callee {
            core: self.link,
            session,
            forward_timeout: procedure.forward_timeout,
            disclose_caller: procedure.disclose_caller,
            progressive_invocations: procedure.progressive_invocations,
        };
        match realm.registrations.register(
            pattern.clone(),
            procedure.invoke,
            callee,
            self.shared.clock.wall(),
        ) {
            Ok((registration, _)) => {
                self.remote_callees.insert(
                    (registration.id, session),
                    RemoteCallee {
                        node: node.to_owned(),
                        realm: realm.name.clone(),
                        pattern,
                    },
                );
                Some(Held::Callee(realm, registration.id, session))
            }
            Err(e) => {
                tracing::warn!(node, procedure = %procedure.uri, invoke = procedure.invoke.as_str(), error = ?e, "cluster: another node's callee not added here: the procedure is registered here in a way that excludes it");
                None
            }
        }
    }

    fn release(&mut self, node: &str, interest: &Interest) {
        let Some(held) = self
            .peers
            .get_mut(node)
            .and_then(|p| p.held.remove(interest))
        else {
            return;
        };
        match held {
            Held::Subscription(realm, id) => {
                realm.subscriptions.unsubscribe(id, self.link_core());
                if let Entry::Occupied(mut holders) = self.remote.entry((realm.index, id)) {
                    holders.get_mut().remove(node);
                    if holders.get().is_empty() {
                        holders.remove();
                    }
                }
            }
            Held::Callee(realm, id, session) => {
                realm.registrations.unregister(id, session);
                self.remote_callees.remove(&(id, session));
            }
            Held::Member(realm, session) => {
                if self.remote_members.remove(&session).is_some() {
                    realm.remove_session(session);
                }
            }
        }
    }

    fn drop_peer(&mut self, node: &str) {
        let held: Vec<Interest> = self
            .peers
            .get(node)
            .map(|p| p.held.keys().cloned().collect())
            .unwrap_or_default();
        for interest in &held {
            self.release(node, interest);
        }
        self.calls_lost(node);
        if let Some(peer) = self.peers.remove(node) {
            self.figures().peers.sub(1);
            self.out.push_back(Output::ReleaseClaims {
                node: node.to_owned(),
                starts: Starts::Only(peer.incarnation),
            });
        }
    }

    pub(super) fn shared_realm(&self, name: &str) -> Option<Arc<Realm>> {
        let realm = self.shared.realms.get(name)?;
        self.shared.cluster_link(&realm).map(|_| realm)
    }

    /// An entry of the retained-events bucket (every node's, this one's
    /// too, in the bucket's order): kept as its topic's retained event.
    pub fn on_retained(&mut self, payload: Bytes, now: Instant) {
        match ClusterMessage::decode(payload) {
            Ok(ClusterMessage::Publication(p)) => {
                if let Some((publication, _)) = self.publication_here(*p, now) {
                    publication.realm.retain(&publication, &self.shared.limits);
                }
            }
            Ok(_) | Err(_) => {
                self.figures().unreadable.add(1);
                tracing::debug!("cluster: retained entry not readable");
            }
        }
    }

    /// A publication from another node, mailed to every core with
    /// subscribers to it.
    fn receive(&mut self, p: RemotePublication, now: Instant) {
        let Some((publication, cores)) = self.publication_here(p, now) else {
            return;
        };
        for core in cores.iter() {
            self.out.push_back(Output::Mail {
                to: usize::from(core),
                mail: Mail::Publication(publication.clone()),
            });
        }
    }

    /// A publication from another node as this node's cores deliver it,
    /// with the cores that have subscribers to it; `None` for a realm this
    /// node does not share.
    fn publication_here(
        &mut self,
        p: RemotePublication,
        now: Instant,
    ) -> Option<(Arc<Publication>, CoreSet)> {
        let Some(realm) = self.shared_realm(&p.realm) else {
            tracing::debug!(realm = %p.realm, "cluster: publication for a realm this node does not share");
            return None;
        };
        let (Some(id), Some(publisher)) = (PublicationId::new(p.id), SessionId::new(p.publisher))
        else {
            self.figures().unreadable.add(1);
            return None;
        };
        let table = realm.subscriptions.snapshot();
        let Matched {
            subscriptions,
            cores,
        } = Matched::compute(&table, &p.topic);
        let cores = CoreSet::from_bits(cores).without(self.link_core());
        let publication = Arc::new(Publication {
            realm: realm.clone(),
            id,
            topic: p.topic,
            payload: p.payload,
            publisher,
            disclosed: p.disclosed.map(|(authid, authrole)| Identity {
                session: publisher,
                authid,
                authrole,
            }),
            // The publisher is on another node: no subscriber here is it.
            exclude_me: false,
            filters: p.filters,
            passthru: p.passthru,
            subscriptions,
            received: now,
        });
        Some((publication, cores))
    }
}

/// The bucket key of `topic`'s retained event in `realm`: both in
/// URL-safe base64, which keeps to the characters keys allow.
fn retained_key(realm: &str, topic: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}", b64.encode(realm), b64.encode(topic))
}
