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
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::{Arguments, Payload};
use ringbar_protocol::options::PayloadPassthru;
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::MatchPolicy;

use crate::core::broker::{Publication, Receivers};

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

/// One change of a node's interest: it now has subscribers to a pattern,
/// or no longer has any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterestChange {
    /// Who changed, and its version after this change.
    pub from: Heartbeat,
    /// The pattern.
    pub topic: Topic,
    /// Whether the node holds it now.
    pub held: bool,
}

/// A node's whole interest, answering a state request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Who answers, and the version the list is at.
    pub from: Heartbeat,
    /// Every pattern the node has subscribers to, in shared realms.
    pub topics: Vec<Topic>,
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

const HEARTBEAT: u8 = 1;
const LEAVING: u8 = 2;
const INTEREST: u8 = 3;
const STATE_REQUEST: u8 = 4;
const STATE: u8 = 5;
const PUBLICATION: u8 = 6;

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
                put_topic(&mut out, &change.topic);
                out.put_u8(u8::from(change.held));
            }
            ClusterMessage::StateRequest(node) => {
                out.put_u8(STATE_REQUEST);
                put_str(&mut out, node);
            }
            ClusterMessage::State(state) => {
                out.put_u8(STATE);
                put_heartbeat(&mut out, &state.from);
                put_len(&mut out, state.topics.len());
                for topic in &state.topics {
                    put_topic(&mut out, topic);
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
                topic: r.topic()?,
                held: r.bool()?,
            }),
            STATE_REQUEST => ClusterMessage::StateRequest(r.string()?),
            STATE => {
                let from = r.heartbeat()?;
                // Each topic takes at least 10 bytes: no count beyond what
                // the message can hold is believed.
                let count = r.len_at_most(10)?;
                let mut topics = Vec::with_capacity(count);
                for _ in 0..count {
                    topics.push(r.topic()?);
                }
                ClusterMessage::State(State { from, topics })
            }
            PUBLICATION => ClusterMessage::Publication(Box::new(r.publication()?)),
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
    match p.payload {
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
    out.put_u8(match topic.policy {
        MatchPolicy::Exact => 0,
        MatchPolicy::Prefix => 1,
        MatchPolicy::Wildcard => 2,
    });
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

    fn topic(&mut self) -> Result<Topic, DecodeError> {
        let realm = self.string()?;
        let policy = match self.u8()? {
            0 => MatchPolicy::Exact,
            1 => MatchPolicy::Prefix,
            2 => MatchPolicy::Wildcard,
            _ => return Err(DecodeError::Invalid("match policy")),
        };
        Ok(Topic {
            realm,
            policy,
            uri: self.string()?,
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
        let payload = match self.u8()? {
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
        };
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

    fn message() -> impl Strategy<Value = ClusterMessage> {
        prop_oneof![
            heartbeat().prop_map(ClusterMessage::Heartbeat),
            heartbeat().prop_map(ClusterMessage::Leaving),
            (heartbeat(), topic(), any::<bool>()).prop_map(|(from, topic, held)| {
                ClusterMessage::Interest(InterestChange { from, topic, held })
            }),
            "[a-z]{0,8}".prop_map(ClusterMessage::StateRequest),
            (heartbeat(), proptest::collection::vec(topic(), 0..5))
                .prop_map(|(from, topics)| ClusterMessage::State(State { from, topics })),
            publication().prop_map(|p| ClusterMessage::Publication(Box::new(p))),
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
        out.put_u32_le(u32::MAX);
        assert_eq!(
            ClusterMessage::decode(out.freeze()),
            Err(DecodeError::Truncated)
        );
    }
}
