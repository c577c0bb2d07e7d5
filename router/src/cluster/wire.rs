//! What nodes say to each other over NATS, and its bytes.
//!
//! One small binary format for every message: a kind byte, then fields in
//! a fixed order — integers little-endian, strings and byte strings with a
//! `u32` length, optional fields behind a presence byte. A publication is
//! encoded once per publish, however many nodes it goes to, and decoded
//! without copying its topic or payload out of the received buffer.
//!
//! Everything decoded here came from the network: a malformed message is
//! a [`DecodeError`], never a panic, and no length is trusted beyond the
//! bytes that are there.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ringbar_protocol::codec::{Serializer, decode_value, encode_value};
use ringbar_protocol::message::{Arguments, Payload};
use ringbar_protocol::options::PayloadPassthru;
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::MatchPolicy;
use ringbar_protocol::value::{Dict, Value};

use crate::core::broker::{Publication, Receivers};
use crate::tables::registrations::InvokePolicy;

/// A subscription pattern of a realm, as nodes announce their interest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic {
    /// The realm's name.
    pub realm: String,
    /// How `uri` matches.
    pub policy: MatchPolicy,
    /// The topic or pattern.
    pub uri: String,
}

/// A callee of a node: one session's registration of a procedure or
/// pattern, as nodes announce them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Procedure {
    /// The realm's name.
    pub realm: String,
    /// How `uri` matches.
    pub policy: MatchPolicy,
    /// The procedure or pattern.
    pub uri: String,
    /// How a call picks one of its callees.
    pub invoke: InvokePolicy,
    /// The callee session.
    pub session: u64,
    /// The callee enforces call timeouts itself.
    pub forward_timeout: bool,
    /// The callee learns who calls.
    pub disclose_caller: bool,
    /// The callee takes progressive call invocations.
    pub progressive_invocations: bool,
}

/// A session of a node, as the session meta API of the others shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// The realm's name.
    pub realm: String,
    /// The session.
    pub session: u64,
    /// Its `authid`.
    pub authid: String,
    /// Its `authrole`.
    pub authrole: String,
    /// Its `SessionDetails` (as `wamp.session.get` returns them), as
    /// MessagePack.
    pub details: Bytes,
}

/// What a node has that the others route to it for or tell of:
/// subscribers to a pattern, a callee of a procedure, a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Interest {
    /// Subscribers to a topic or pattern.
    Topic(Topic),
    /// A callee.
    Procedure(Procedure),
    /// A joined session.
    Member(Member),
}

/// Closes a session of the receiving node (`wamp.session.kill*` called on
/// another).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteKill {
    /// The realm's name.
    pub realm: String,
    /// The session.
    pub session: u64,
    /// The GOODBYE reason.
    pub reason: String,
    /// The GOODBYE's `details.message`.
    pub message: Option<String>,
}

/// A node's announcement that it is alive, and how far its interest has
/// changed (so a receiver that missed a change asks for the whole state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The node's name.
    pub node: String,
    /// Random per start of the node: a restarted node is a new one.
    pub incarnation: u64,
    /// How many interest changes the node has made in this incarnation.
    pub version: u64,
}

/// One change of a node's interest: it now has subscribers to a pattern
/// or a callee, or no longer has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterestChange {
    /// Who changed, and its version after this change.
    pub from: Heartbeat,
    /// What changed.
    pub interest: Interest,
    /// Whether the node holds it now.
    pub held: bool,
}

/// A node's whole interest, answering a state request, in parts of at
/// most [`STATE_PART_BYTES`] (a node may hold more than one NATS message
/// carries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Who answers, and the version the list is at.
    pub from: Heartbeat,
    /// This part's number, from 0.
    pub part: u32,
    /// Whether it is the last part.
    pub last: bool,
    /// Every pattern the node has subscribers to and every callee it
    /// has, in shared realms.
    pub interests: Vec<Interest>,
}

/// Who made a call, across nodes: the caller session and its CALL's
/// request id, and the caller's core's serial of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallId {
    /// The caller session.
    pub caller: u64,
    /// The CALL's request id.
    pub request: u64,
    /// The serial that tells it from a later call with the same request.
    pub serial: u64,
}

/// A call for a callee on the receiving node (or the next part of a
/// progressive call).
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteInvoke {
    /// The caller's node, where answers go.
    pub from: String,
    /// The call.
    pub call: CallId,
    /// The realm's name.
    pub realm: String,
    /// The registration's match policy.
    pub policy: MatchPolicy,
    /// The registration's procedure or pattern.
    pub uri: String,
    /// The callee session.
    pub callee: u64,
    /// `INVOCATION.Details`, complete.
    pub details: Dict,
    /// The CALL's arguments.
    pub payload: Payload,
    /// Not the first part of a progressive call.
    pub continuation: bool,
}

/// A call ends early: CANCEL, its timeout, or its caller left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteInterrupt {
    /// The caller's node.
    pub from: String,
    /// The call.
    pub call: CallId,
    /// `skip`, `kill` or `killnowait` as on the wire.
    pub mode: String,
    /// Why, as an error URI.
    pub reason: String,
}

/// A callee's answer (or the dealer's in its name) for a caller on the
/// receiving node.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteAnswer {
    /// The callee's node.
    pub from: String,
    /// The call.
    pub call: CallId,
    /// `Err(uri)` for an ERROR; `Ok(progress)` for a RESULT, `progress`
    /// when more follow.
    pub outcome: Result<bool, String>,
    /// The ERROR's or RESULT's details.
    pub details: Dict,
    /// The YIELD's or ERROR's arguments.
    pub payload: Payload,
}

/// A publication as another node received it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemotePublication {
    /// The realm's name.
    pub realm: String,
    /// The topic.
    pub topic: Str,
    /// The publication's id (EVENT's `Publication|id`).
    pub id: u64,
    /// The publishing session's id.
    pub publisher: u64,
    /// The publisher's `authid` and `authrole`, when disclosed.
    pub disclosed: Option<(Str, Str)>,
    /// The `exclude*` and `eligible*` lists, when any was given.
    pub filters: Option<Receivers>,
    /// Payload passthru options.
    pub passthru: Option<PayloadPassthru>,
    /// The arguments, as the publisher's serializer wrote them.
    pub payload: Payload,
    /// Whether every node keeps it as its topic's retained event.
    pub retain: bool,
}

/// What one node sends another.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterMessage {
    /// Alive (sent every heartbeat).
    Heartbeat(Heartbeat),
    /// Stopping: drop its state now rather than after the failure timeout.
    Leaving(Heartbeat),
    /// A change of interest.
    Interest(InterestChange),
    /// Asks a node for its [`State`]; the asker's name, for logs.
    StateRequest(String),
    /// A node's whole interest.
    State(State),
    /// A publication for the receiver's subscribers.
    Publication(Box<RemotePublication>),
    /// A call for a callee of the receiver.
    Invoke(Box<RemoteInvoke>),
    /// A call of the receiver's callee ends early.
    Interrupt(RemoteInterrupt),
    /// An answer for a caller of the receiver.
    Answer(Box<RemoteAnswer>),
    /// Close a session of the receiver.
    Kill(RemoteKill),
}

/// A message that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// It ends before its fields do.
    #[error("cluster message truncated")]
    Truncated,
    /// The kind byte names no message.
    #[error("unknown cluster message kind {0}")]
    UnknownKind(u8),
    /// A field holds a value it cannot have.
    #[error("cluster message: invalid {0}")]
    Invalid(&'static str),
    /// Bytes follow the last field.
    #[error("cluster message: {0} bytes after the end")]
    Trailing(usize),
}

/// The most bytes of interests one [`State`] part carries: well under
/// NATS's default message limit (1 MiB).
pub const STATE_PART_BYTES: usize = 256 * 1024;

/// About how many bytes `interest` takes in a message (for cutting a
/// state into parts).
pub fn interest_size(interest: &Interest) -> usize {
    match interest {
        Interest::Topic(t) => 16 + t.realm.len() + t.uri.len(),
        Interest::Procedure(p) => 32 + p.realm.len() + p.uri.len(),
        Interest::Member(m) => {
            32 + m.realm.len() + m.authid.len() + m.authrole.len() + m.details.len()
        }
    }
}

const HEARTBEAT: u8 = 1;
const LEAVING: u8 = 2;
const INTEREST: u8 = 3;
const STATE_REQUEST: u8 = 4;
const STATE: u8 = 5;
const PUBLICATION: u8 = 6;
const INVOKE: u8 = 7;
const INTERRUPT: u8 = 8;
const ANSWER: u8 = 9;
const KILL: u8 = 10;

impl ClusterMessage {
    /// The message's bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        match self {
            ClusterMessage::Heartbeat(h) => {
                out.put_u8(HEARTBEAT);
                put_heartbeat(&mut out, h);
            }
            ClusterMessage::Leaving(h) => {
                out.put_u8(LEAVING);
                put_heartbeat(&mut out, h);
            }
            ClusterMessage::Interest(change) => {
                out.put_u8(INTEREST);
                put_heartbeat(&mut out, &change.from);
                put_interest(&mut out, &change.interest);
                out.put_u8(u8::from(change.held));
            }
            ClusterMessage::StateRequest(node) => {
                out.put_u8(STATE_REQUEST);
                put_str(&mut out, node);
            }
            ClusterMessage::State(state) => {
                out.put_u8(STATE);
                put_heartbeat(&mut out, &state.from);
                out.put_u32_le(state.part);
                out.put_u8(u8::from(state.last));
                put_len(&mut out, state.interests.len());
                for interest in &state.interests {
                    put_interest(&mut out, interest);
                }
            }
            ClusterMessage::Publication(p) => {
                out.put_u8(PUBLICATION);
                put_publication(
                    &mut out,
                    PublicationFields {
                        realm: &p.realm,
                        topic: &p.topic,
                        id: p.id,
                        publisher: p.publisher,
                        disclosed: p.disclosed.as_ref().map(|(id, role)| (&**id, &**role)),
                        filters: p.filters.as_ref(),
                        passthru: p.passthru.as_ref(),
                        payload: &p.payload,
                        retain: p.retain,
                    },
                );
            }
            ClusterMessage::Invoke(i) => {
                out.put_u8(INVOKE);
                put_str(&mut out, &i.from);
                put_call(&mut out, &i.call);
                put_str(&mut out, &i.realm);
                put_policy(&mut out, i.policy);
                put_str(&mut out, &i.uri);
                out.put_u64_le(i.callee);
                put_dict(&mut out, &i.details);
                put_payload(&mut out, &i.payload);
                out.put_u8(u8::from(i.continuation));
            }
            ClusterMessage::Interrupt(i) => {
                out.put_u8(INTERRUPT);
                put_str(&mut out, &i.from);
                put_call(&mut out, &i.call);
                put_str(&mut out, &i.mode);
                put_str(&mut out, &i.reason);
            }
            ClusterMessage::Answer(a) => {
                out.put_u8(ANSWER);
                put_str(&mut out, &a.from);
                put_call(&mut out, &a.call);
                match &a.outcome {
                    Ok(progress) => out.put_u8(u8::from(*progress)),
                    Err(uri) => {
                        out.put_u8(2);
                        put_str(&mut out, uri);
                    }
                }
                put_dict(&mut out, &a.details);
                put_payload(&mut out, &a.payload);
            }
            ClusterMessage::Kill(k) => {
                out.put_u8(KILL);
                put_str(&mut out, &k.realm);
                out.put_u64_le(k.session);
                put_str(&mut out, &k.reason);
                put_option(&mut out, k.message.as_deref(), put_str);
            }
        }
        out.freeze()
    }

    /// Reads a message; its topic and payload share `bytes`.
    pub fn decode(bytes: Bytes) -> Result<ClusterMessage, DecodeError> {
        let mut r = Reader(bytes);
        let message = match r.u8()? {
            HEARTBEAT => ClusterMessage::Heartbeat(r.heartbeat()?),
            LEAVING => ClusterMessage::Leaving(r.heartbeat()?),
            INTEREST => ClusterMessage::Interest(InterestChange {
                from: r.heartbeat()?,
                interest: r.interest()?,
                held: r.bool()?,
            }),
            STATE_REQUEST => ClusterMessage::StateRequest(r.string()?),
            STATE => {
                let from = r.heartbeat()?;
                let part = r.u32()?;
                let last = r.bool()?;
                // Each interest takes at least 11 bytes: no count beyond
                // what the message can hold is believed.
                let count = r.len_at_most(11)?;
                let mut interests = Vec::with_capacity(count);
                for _ in 0..count {
                    interests.push(r.interest()?);
                }
                ClusterMessage::State(State {
                    from,
                    part,
                    last,
                    interests,
                })
            }
            PUBLICATION => ClusterMessage::Publication(Box::new(r.publication()?)),
            INVOKE => ClusterMessage::Invoke(Box::new(RemoteInvoke {
                from: r.string()?,
                call: r.call()?,
                realm: r.string()?,
                policy: r.policy()?,
                uri: r.string()?,
                callee: r.u64()?,
                details: r.dict()?,
                payload: r.payload()?,
                continuation: r.bool()?,
            })),
            INTERRUPT => ClusterMessage::Interrupt(RemoteInterrupt {
                from: r.string()?,
                call: r.call()?,
                mode: r.string()?,
                reason: r.string()?,
            }),
            ANSWER => ClusterMessage::Answer(Box::new(RemoteAnswer {
                from: r.string()?,
                call: r.call()?,
                outcome: match r.u8()? {
                    0 => Ok(false),
                    1 => Ok(true),
                    2 => Err(r.string()?),
                    _ => return Err(DecodeError::Invalid("outcome")),
                },
                details: r.dict()?,
                payload: r.payload()?,
            })),
            KILL => ClusterMessage::Kill(RemoteKill {
                realm: r.string()?,
                session: r.u64()?,
                reason: r.string()?,
                message: r.optional(Reader::string)?,
            }),
            other => return Err(DecodeError::UnknownKind(other)),
        };
        if r.0.has_remaining() {
            return Err(DecodeError::Trailing(r.0.remaining()));
        }
        Ok(message)
    }
}

/// The bytes of a local publication for other nodes (the same
/// [`ClusterMessage::Publication`] [`ClusterMessage::decode`] reads),
/// encoded straight from it.
pub fn encode_publication(realm: &str, publication: &Publication, retain: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(64 + publication.retained_bytes());
    out.put_u8(PUBLICATION);
    put_publication(
        &mut out,
        PublicationFields {
            realm,
            topic: &publication.topic,
            id: publication.id.get(),
            publisher: publication.publisher.get(),
            disclosed: publication
                .disclosed
                .as_ref()
                .map(|who| (who.authid.as_str(), who.authrole.as_str())),
            filters: publication.filters.as_ref(),
            passthru: publication.passthru.as_ref(),
            payload: &publication.payload,
            retain,
        },
    );
    out.freeze()
}

/// A publication's fields, borrowed from wherever they are.
struct PublicationFields<'a> {
    realm: &'a str,
    topic: &'a str,
    id: u64,
    publisher: u64,
    disclosed: Option<(&'a str, &'a str)>,
    filters: Option<&'a Receivers>,
    passthru: Option<&'a PayloadPassthru>,
    payload: &'a Payload,
    retain: bool,
}

fn put_publication(out: &mut BytesMut, p: PublicationFields<'_>) {
    put_str(out, p.realm);
    put_str(out, p.topic);
    out.put_u64_le(p.id);
    out.put_u64_le(p.publisher);
    out.put_u8(u8::from(p.retain));
    match p.disclosed {
        Some((authid, authrole)) => {
            out.put_u8(1);
            put_str(out, authid);
            put_str(out, authrole);
        }
        None => out.put_u8(0),
    }
    match p.filters {
        Some(f) => {
            out.put_u8(1);
            put_ids(out, &f.exclude);
            put_strs(out, &f.exclude_authid);
            put_strs(out, &f.exclude_authrole);
            put_option(out, f.eligible.as_deref(), put_ids);
            put_option(out, f.eligible_authid.as_deref(), put_strs);
            put_option(out, f.eligible_authrole.as_deref(), put_strs);
        }
        None => out.put_u8(0),
    }
    match p.passthru {
        Some(ppt) => {
            out.put_u8(1);
            put_str(out, &ppt.scheme);
            for field in [&ppt.serializer, &ppt.cipher, &ppt.keyid] {
                put_option(out, field.as_deref(), put_str);
            }
        }
        None => out.put_u8(0),
    }
    put_payload(out, p.payload);
}

fn put_payload(out: &mut BytesMut, payload: &Payload) {
    match payload {
        Payload::Empty => out.put_u8(0),
        Payload::Arguments(a) => {
            out.put_u8(1);
            out.put_u8(serializer_code(a.serializer));
            put_bytes(out, &a.args);
            put_option(out, a.kwargs.as_deref(), put_bytes);
        }
        Payload::Transparent(bytes) => {
            out.put_u8(2);
            put_bytes(out, bytes);
        }
    }
}

fn put_call(out: &mut BytesMut, call: &CallId) {
    out.put_u64_le(call.caller);
    out.put_u64_le(call.request);
    out.put_u64_le(call.serial);
}

/// A dictionary as MessagePack: the one serializer every node decodes
/// the same way.
fn put_dict(out: &mut BytesMut, dict: &Dict) {
    let mut encoded = BytesMut::new();
    if encode_value(
        Serializer::MsgPack,
        &Value::Dict(dict.clone()),
        &mut encoded,
    )
    .is_err()
    {
        encoded.clear();
        // An empty map: what could not be encoded is left out.
        encoded.put_u8(0x80);
    }
    put_bytes(out, &encoded);
}

fn put_policy(out: &mut BytesMut, policy: MatchPolicy) {
    out.put_u8(match policy {
        MatchPolicy::Exact => 0,
        MatchPolicy::Prefix => 1,
        MatchPolicy::Wildcard => 2,
    });
}

fn invoke_code(invoke: InvokePolicy) -> u8 {
    match invoke {
        InvokePolicy::Single => 0,
        InvokePolicy::RoundRobin => 1,
        InvokePolicy::Random => 2,
        InvokePolicy::First => 3,
        InvokePolicy::Last => 4,
    }
}

fn put_interest(out: &mut BytesMut, interest: &Interest) {
    match interest {
        Interest::Topic(topic) => {
            out.put_u8(0);
            put_topic(out, topic);
        }
        Interest::Member(m) => {
            out.put_u8(2);
            put_str(out, &m.realm);
            out.put_u64_le(m.session);
            put_str(out, &m.authid);
            put_str(out, &m.authrole);
            put_bytes(out, &m.details);
        }
        Interest::Procedure(p) => {
            out.put_u8(1);
            put_str(out, &p.realm);
            put_policy(out, p.policy);
            put_str(out, &p.uri);
            out.put_u8(invoke_code(p.invoke));
            out.put_u64_le(p.session);
            out.put_u8(
                u8::from(p.forward_timeout)
                    | u8::from(p.disclose_caller) << 1
                    | u8::from(p.progressive_invocations) << 2,
            );
        }
    }
}

fn serializer_code(serializer: Serializer) -> u8 {
    match serializer {
        Serializer::Json => 0,
        Serializer::MsgPack => 1,
        Serializer::Cbor => 2,
        Serializer::Ubjson => 3,
    }
}

fn put_heartbeat(out: &mut BytesMut, h: &Heartbeat) {
    put_str(out, &h.node);
    out.put_u64_le(h.incarnation);
    out.put_u64_le(h.version);
}

fn put_topic(out: &mut BytesMut, topic: &Topic) {
    put_str(out, &topic.realm);
    put_policy(out, topic.policy);
    put_str(out, &topic.uri);
}

fn put_len(out: &mut BytesMut, len: usize) {
    out.put_u32_le(u32::try_from(len).unwrap_or(u32::MAX));
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.put_slice(bytes);
}

fn put_str(out: &mut BytesMut, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_ids(out: &mut BytesMut, ids: &[ringbar_protocol::id::SessionId]) {
    put_len(out, ids.len());
    for id in ids {
        out.put_u64_le(id.get());
    }
}

fn put_strs(out: &mut BytesMut, list: &[String]) {
    put_len(out, list.len());
    for s in list {
        put_str(out, s);
    }
}

fn put_option<T: ?Sized>(out: &mut BytesMut, value: Option<&T>, put: fn(&mut BytesMut, &T)) {
    match value {
        Some(v) => {
            out.put_u8(1);
            put(out, v);
        }
        None => out.put_u8(0),
    }
}

/// The unread rest of a message.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.0.remaining() < n {
            return Err(DecodeError::Truncated);
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("flag")),
        }
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.0.get_u32_le())
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.need(8)?;
        Ok(self.0.get_u64_le())
    }

    /// A count of items of at least `item` bytes each, no more than the
    /// rest of the message can hold.
    fn len_at_most(&mut self, item: usize) -> Result<usize, DecodeError> {
        self.need(4)?;
        let len = usize::try_from(self.0.get_u32_le()).map_err(|_| DecodeError::Truncated)?;
        if len.saturating_mul(item.max(1)) > self.0.remaining() {
            return Err(DecodeError::Truncated);
        }
        Ok(len)
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.len_at_most(1)?;
        Ok(self.0.split_to(len))
    }

    fn str(&mut self) -> Result<Str, DecodeError> {
        Str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid("UTF-8 string"))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        Ok(self.str()?.as_str().to_owned())
    }

    fn present(&mut self) -> Result<bool, DecodeError> {
        self.bool()
    }

    fn heartbeat(&mut self) -> Result<Heartbeat, DecodeError> {
        Ok(Heartbeat {
            node: self.string()?,
            incarnation: self.u64()?,
            version: self.u64()?,
        })
    }

    fn policy(&mut self) -> Result<MatchPolicy, DecodeError> {
        match self.u8()? {
            0 => Ok(MatchPolicy::Exact),
            1 => Ok(MatchPolicy::Prefix),
            2 => Ok(MatchPolicy::Wildcard),
            _ => Err(DecodeError::Invalid("match policy")),
        }
    }

    fn topic(&mut self) -> Result<Topic, DecodeError> {
        Ok(Topic {
            realm: self.string()?,
            policy: self.policy()?,
            uri: self.string()?,
        })
    }

    fn interest(&mut self) -> Result<Interest, DecodeError> {
        match self.u8()? {
            0 => Ok(Interest::Topic(self.topic()?)),
            1 => {
                let realm = self.string()?;
                let policy = self.policy()?;
                let uri = self.string()?;
                let invoke = match self.u8()? {
                    0 => InvokePolicy::Single,
                    1 => InvokePolicy::RoundRobin,
                    2 => InvokePolicy::Random,
                    3 => InvokePolicy::First,
                    4 => InvokePolicy::Last,
                    _ => return Err(DecodeError::Invalid("invocation policy")),
                };
                let session = self.u64()?;
                let flags = self.u8()?;
                if flags > 0b111 {
                    return Err(DecodeError::Invalid("callee flags"));
                }
                Ok(Interest::Procedure(Procedure {
                    realm,
                    policy,
                    uri,
                    invoke,
                    session,
                    forward_timeout: flags & 1 != 0,
                    disclose_caller: flags & 2 != 0,
                    progressive_invocations: flags & 4 != 0,
                }))
            }
            2 => Ok(Interest::Member(Member {
                realm: self.string()?,
                session: self.u64()?,
                authid: self.string()?,
                authrole: self.string()?,
                details: self.bytes()?,
            })),
            _ => Err(DecodeError::Invalid("interest kind")),
        }
    }

    fn call(&mut self) -> Result<CallId, DecodeError> {
        Ok(CallId {
            caller: self.u64()?,
            request: self.u64()?,
            serial: self.u64()?,
        })
    }

    fn dict(&mut self) -> Result<Dict, DecodeError> {
        let bytes = self.bytes()?;
        match decode_value(Serializer::MsgPack, &bytes) {
            Ok(Value::Dict(dict)) => Ok(dict),
            _ => Err(DecodeError::Invalid("details")),
        }
    }

    fn payload(&mut self) -> Result<Payload, DecodeError> {
        Ok(match self.u8()? {
            0 => Payload::Empty,
            1 => {
                let serializer = match self.u8()? {
                    0 => Serializer::Json,
                    1 => Serializer::MsgPack,
                    2 => Serializer::Cbor,
                    3 => Serializer::Ubjson,
                    _ => return Err(DecodeError::Invalid("serializer")),
                };
                Payload::Arguments(Arguments {
                    serializer,
                    args: self.bytes()?,
                    kwargs: self.optional(Self::bytes)?,
                })
            }
            2 => Payload::Transparent(self.bytes()?),
            _ => return Err(DecodeError::Invalid("payload kind")),
        })
    }

    fn ids(&mut self) -> Result<Vec<ringbar_protocol::id::SessionId>, DecodeError> {
        let count = self.len_at_most(8)?;
        (0..count)
            .map(|_| {
                ringbar_protocol::id::SessionId::new(self.u64()?)
                    .ok_or(DecodeError::Invalid("session id"))
            })
            .collect()
    }

    fn strs(&mut self) -> Result<Vec<String>, DecodeError> {
        let count = self.len_at_most(4)?;
        (0..count).map(|_| self.string()).collect()
    }

    fn optional<T>(
        &mut self,
        read: fn(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.present()? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn publication(&mut self) -> Result<RemotePublication, DecodeError> {
        let realm = self.string()?;
        let topic = self.str()?;
        let id = self.u64()?;
        let publisher = self.u64()?;
        let retain = self.bool()?;
        let disclosed = if self.present()? {
            Some((self.str()?, self.str()?))
        } else {
            None
        };
        let filters = if self.present()? {
            Some(Receivers::from_lists(
                self.ids()?,
                self.strs()?,
                self.strs()?,
                self.optional(Self::ids)?,
                self.optional(Self::strs)?,
                self.optional(Self::strs)?,
            ))
        } else {
            None
        };
        let passthru = if self.present()? {
            Some(PayloadPassthru {
                scheme: self.string()?,
                serializer: self.optional(Self::string)?,
                cipher: self.optional(Self::string)?,
                keyid: self.optional(Self::string)?,
            })
        } else {
            None
        };
        let payload = self.payload()?;
        Ok(RemotePublication {
            realm,
            topic,
            id,
            publisher,
            disclosed,
            filters,
            passthru,
            payload,
            retain,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ringbar_protocol::id::SessionId;

    use super::*;

    fn heartbeat() -> impl Strategy<Value = Heartbeat> {
        ("[a-z0-9-]{1,12}", any::<u64>(), any::<u64>()).prop_map(|(node, incarnation, version)| {
            Heartbeat {
                node,
                incarnation,
                version,
            }
        })
    }

    fn topic() -> impl Strategy<Value = Topic> {
        (
            "[a-z0-9]{1,8}",
            prop_oneof![
                Just(MatchPolicy::Exact),
                Just(MatchPolicy::Prefix),
                Just(MatchPolicy::Wildcard)
            ],
            "[a-z.é]{0,20}",
        )
            .prop_map(|(realm, policy, uri)| Topic { realm, policy, uri })
    }

    fn ids() -> impl Strategy<Value = Vec<SessionId>> {
        proptest::collection::vec(
            (1u64..1 << 53).prop_map(|n| SessionId::new(n).unwrap()),
            0..4,
        )
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-d]{1,3}", 0..4)
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
    }

    fn payload() -> impl Strategy<Value = Payload> {
        prop_oneof![
            Just(Payload::Empty),
            (
                prop_oneof![
                    Just(Serializer::Json),
                    Just(Serializer::MsgPack),
                    Just(Serializer::Cbor),
                    Just(Serializer::Ubjson)
                ],
                bytes(),
                proptest::option::of(bytes())
            )
                .prop_map(|(serializer, args, kwargs)| Payload::Arguments(Arguments {
                    serializer,
                    args,
                    kwargs
                })),
            bytes().prop_map(Payload::Transparent),
        ]
    }

    fn filters() -> impl Strategy<Value = Option<Receivers>> {
        proptest::option::of(
            (
                ids(),
                names(),
                names(),
                proptest::option::of(ids()),
                proptest::option::of(names()),
                proptest::option::of(names()),
            )
                .prop_map(|(a, b, c, d, e, f)| Receivers::from_lists(a, b, c, d, e, f)),
        )
    }

    fn passthru() -> impl Strategy<Value = Option<PayloadPassthru>> {
        proptest::option::of(
            (
                "[a-z_]{1,8}",
                proptest::option::of("[a-z]{1,5}"),
                proptest::option::of("[a-z]{1,5}"),
                proptest::option::of("[a-z]{1,5}"),
            )
                .prop_map(|(scheme, serializer, cipher, keyid)| PayloadPassthru {
                    scheme,
                    serializer,
                    cipher,
                    keyid,
                }),
        )
    }

    fn publication() -> impl Strategy<Value = RemotePublication> {
        (
            ("[a-z0-9]{1,8}", "[a-z.]{1,20}", any::<u64>(), any::<u64>()),
            proptest::option::of(("[a-z]{0,6}", "[a-z]{0,6}")),
            filters(),
            passthru(),
            payload(),
            any::<bool>(),
        )
            .prop_map(
                |((realm, topic, id, publisher), disclosed, filters, passthru, payload, retain)| {
                    RemotePublication {
                        realm,
                        topic: Str::from(topic.as_str()),
                        id,
                        publisher,
                        disclosed: disclosed
                            .map(|(id, role)| (Str::from(id.as_str()), Str::from(role.as_str()))),
                        filters,
                        passthru,
                        payload,
                        retain,
                    }
                },
            )
    }

    fn procedure() -> impl Strategy<Value = Procedure> {
        (
            topic(),
            prop_oneof![
                Just(InvokePolicy::Single),
                Just(InvokePolicy::RoundRobin),
                Just(InvokePolicy::Random),
                Just(InvokePolicy::First),
                Just(InvokePolicy::Last)
            ],
            any::<u64>(),
            any::<(bool, bool, bool)>(),
        )
            .prop_map(|(t, invoke, session, (a, b, c))| Procedure {
                realm: t.realm,
                policy: t.policy,
                uri: t.uri,
                invoke,
                session,
                forward_timeout: a,
                disclose_caller: b,
                progressive_invocations: c,
            })
    }

    fn member() -> impl Strategy<Value = Member> {
        (
            "[a-z]{1,6}",
            any::<u64>(),
            "[a-z]{0,6}",
            "[a-z]{0,6}",
            bytes(),
        )
            .prop_map(|(realm, session, authid, authrole, details)| Member {
                realm,
                session,
                authid,
                authrole,
                details,
            })
    }

    fn interest() -> impl Strategy<Value = Interest> {
        prop_oneof![
            topic().prop_map(Interest::Topic),
            procedure().prop_map(Interest::Procedure),
            member().prop_map(Interest::Member)
        ]
    }

    fn call_id() -> impl Strategy<Value = CallId> {
        any::<(u64, u64, u64)>().prop_map(|(caller, request, serial)| CallId {
            caller,
            request,
            serial,
        })
    }

    fn dict() -> impl Strategy<Value = Dict> {
        proptest::collection::vec(("[a-z]{1,6}", any::<u32>(), "[a-z]{0,6}"), 0..4).prop_map(
            |entries| {
                let mut dict = Dict::new();
                for (key, n, text) in entries {
                    if n % 2 == 0 {
                        dict.insert(&key, Value::UInt(u64::from(n)));
                    } else {
                        dict.insert(&key, Value::Str(text));
                    }
                }
                dict
            },
        )
    }

    fn invoke() -> impl Strategy<Value = RemoteInvoke> {
        (
            "[a-z-]{1,8}",
            call_id(),
            topic(),
            any::<u64>(),
            dict(),
            payload(),
            any::<bool>(),
        )
            .prop_map(|(from, call, t, callee, details, payload, continuation)| {
                RemoteInvoke {
                    from,
                    call,
                    realm: t.realm,
                    policy: t.policy,
                    uri: t.uri,
                    callee,
                    details,
                    payload,
                    continuation,
                }
            })
    }

    fn answer() -> impl Strategy<Value = RemoteAnswer> {
        (
            "[a-z-]{1,8}",
            call_id(),
            prop_oneof![any::<bool>().prop_map(Ok), "[a-z.]{1,12}".prop_map(Err)],
            dict(),
            payload(),
        )
            .prop_map(|(from, call, outcome, details, payload)| RemoteAnswer {
                from,
                call,
                outcome,
                details,
                payload,
            })
    }

    fn message() -> impl Strategy<Value = ClusterMessage> {
        prop_oneof![
            heartbeat().prop_map(ClusterMessage::Heartbeat),
            heartbeat().prop_map(ClusterMessage::Leaving),
            (heartbeat(), interest(), any::<bool>()).prop_map(|(from, interest, held)| {
                ClusterMessage::Interest(InterestChange {
                    from,
                    interest,
                    held,
                })
            }),
            "[a-z]{0,8}".prop_map(ClusterMessage::StateRequest),
            (
                heartbeat(),
                any::<u32>(),
                any::<bool>(),
                proptest::collection::vec(interest(), 0..5)
            )
                .prop_map(|(from, part, last, interests)| ClusterMessage::State(
                    State {
                        from,
                        part,
                        last,
                        interests
                    }
                )),
            publication().prop_map(|p| ClusterMessage::Publication(Box::new(p))),
            invoke().prop_map(|i| ClusterMessage::Invoke(Box::new(i))),
            ("[a-z]{1,5}", call_id(), "[a-z]{1,10}", "[a-z.]{1,12}").prop_map(
                |(from, call, mode, reason)| ClusterMessage::Interrupt(RemoteInterrupt {
                    from,
                    call,
                    mode,
                    reason
                })
            ),
            answer().prop_map(|a| ClusterMessage::Answer(Box::new(a))),
            (
                "[a-z]{1,6}",
                any::<u64>(),
                "[a-z.]{1,12}",
                proptest::option::of("[a-z ]{0,12}")
            )
                .prop_map(|(realm, session, reason, message)| {
                    ClusterMessage::Kill(RemoteKill {
                        realm,
                        session,
                        reason,
                        message,
                    })
                }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_reads_back_as_written(message in message()) {
            let bytes = message.encode();
            prop_assert_eq!(ClusterMessage::decode(bytes), Ok(message));
        }

        #[test]
        fn a_cut_message_is_an_error(message in message(), cut in any::<prop::sample::Index>()) {
            let bytes = message.encode();
            let at = cut.index(bytes.len());
            prop_assert!(ClusterMessage::decode(bytes.slice(..at)).is_err());
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ClusterMessage::decode(Bytes::from(bytes));
        }
    }

    #[test]
    fn a_local_publication_encodes_as_the_remote_one_decodes() {
        use crate::core::broker::Publication;
        use crate::core::config::RealmConfig;
        use crate::core::session::Identity;
        use ringbar_protocol::id::PublicationId;
        use ringbar_protocol::uri::UriCheck;
        use std::sync::Arc;

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
        let publisher = SessionId::new(7).unwrap();
        let publication = Publication {
            realm: Arc::new(realm),
            id: PublicationId::new(42).unwrap(),
            topic: Str::from("com.example.t"),
            payload: Payload::Arguments(Arguments {
                serializer: Serializer::Json,
                args: Bytes::from_static(b"[1]"),
                kwargs: None,
            }),
            publisher,
            disclosed: Some(Identity {
                session: publisher,
                authid: Str::from("alice"),
                authrole: Str::from("user"),
            }),
            exclude_me: true,
            filters: None,
            passthru: None,
            subscriptions: Arc::new([]),
            received: std::time::Instant::now(),
        };
        let bytes = encode_publication("realm1", &publication, true);
        let Ok(ClusterMessage::Publication(p)) = ClusterMessage::decode(bytes) else {
            panic!("a publication");
        };
        assert_eq!(
            (
                p.realm.as_str(),
                p.topic.as_str(),
                p.id,
                p.publisher,
                p.retain
            ),
            ("realm1", "com.example.t", 42, 7, true)
        );
        assert_eq!(p.disclosed, Some((Str::from("alice"), Str::from("user"))));
        assert_eq!(p.payload, publication.payload);
    }

    #[test]
    fn counts_beyond_the_message_are_refused_before_allocating() {
        let mut out = BytesMut::new();
        out.put_u8(STATE);
        put_heartbeat(
            &mut out,
            &Heartbeat {
                node: "a".into(),
                incarnation: 1,
                version: 1,
            },
        );
        out.put_u32_le(0);
        out.put_u8(1);
        out.put_u32_le(u32::MAX);
        assert_eq!(
            ClusterMessage::decode(out.freeze()),
            Err(DecodeError::Truncated)
        );
    }
}
