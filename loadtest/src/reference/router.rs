//! The reference server's sans-IO core: connections' bytes in, frames on
//! their output buffers out. It opens and closes WAMP sessions and routes
//! what loadtest sends: PUBLISH to EVENT (one frame per publication and
//! kind of link), CALL to INVOCATION, YIELD (or ERROR) to RESULT (or
//! ERROR). The event loop (`server`) only moves bytes and writes the
//! links that [`Router::take_pending`] names, once per tick.

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringbar_protocol::id::{
    MAX_ID, PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId,
};
use ringbar_protocol::message::{
    Abort, Call, Error, Event, Goodbye, Invocation, Message, MessageType, Payload, Publish,
    Published, Register, Registered, Subscribe, Subscribed, Unregister, Unregistered, Unsubscribe,
    Unsubscribed, Welcome, Yield,
};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use super::frames::EventFrames;
use super::link::{Closing, Link};
use super::realm::{self, Realm};
use crate::target::Transport;

/// Every connection's link and session, the realms, and which links have
/// frames to write.
#[derive(Default)]
pub(crate) struct Router {
    peers: Vec<Option<Peer>>,
    realms: Vec<(Str, Realm)>,
    invocations: realm::Invocations,
    /// Session and publication ids: global scope, random as the spec asks.
    global_ids: GlobalIds,
    /// The last router- or session-scope id handed out, shared by every
    /// kind (subscriptions, registrations, invocations): sequential, which
    /// the spec allows for these, and unique.
    last_id: u64,
    /// Links with frames queued since the last [`Router::take_pending`].
    pending: Vec<usize>,
}

/// Global-scope ids, drawn at random over `[1, 2^53]` as the spec requires.
/// An EVENT carries its publication's id to every subscriber, so the
/// reference puts as many bytes on the wire for it as a router that follows
/// the spec must.
struct GlobalIds(StdRng);

impl Default for GlobalIds {
    fn default() -> Self {
        Self(StdRng::from_os_rng())
    }
}

impl GlobalIds {
    fn next(&mut self) -> u64 {
        self.0.random_range(1..=MAX_ID)
    }
}

struct Peer {
    link: Link,
    session: Option<Session>,
    /// On the pending list already.
    queued: bool,
}

struct Session {
    realm: usize,
    subscriptions: Vec<SubscriptionId>,
    registrations: Vec<RegistrationId>,
}

/// A message that ends the session: ABORT it with this reason URI.
struct Violation(&'static str);

impl Router {
    /// A new connection in slot `peer` (one the caller does not use for
    /// another), of `transport`; a WebSocket one is served at `path`.
    pub(crate) fn open(&mut self, peer: usize, transport: Transport, path: &str) {
        if self.peers.len() <= peer {
            self.peers.resize_with(peer + 1, || None);
        }
        if let Some(slot) = self.peers.get_mut(peer) {
            *slot = Some(Peer {
                link: Link::new(transport, path),
                session: None,
                queued: false,
            });
        }
    }

    /// The read buffer of `peer`, to append what was read to.
    pub(crate) fn read_buf(&mut self, peer: usize) -> Option<&mut BytesMut> {
        self.peer(peer).map(|p| &mut p.link.read)
    }

    /// The output buffer of `peer`: write from its front, advance past
    /// what was written.
    pub(crate) fn out(&mut self, peer: usize) -> Option<&mut BytesMut> {
        self.peer(peer).map(|p| &mut p.link.out)
    }

    /// Handles every whole message `peer` has sent; `Err` when its
    /// connection is to be closed (it is queued: see [`Router::is_closed`]).
    pub(crate) fn process(&mut self, peer: usize) -> Result<(), Closing> {
        loop {
            let Some(p) = self.peer(peer) else {
                return Ok(());
            };
            let message = match p.link.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(()),
                Err(closing) => {
                    self.queue(peer);
                    return Err(closing);
                }
            };
            if let Err(Violation(reason)) = self.handle(peer, message) {
                self.send(
                    peer,
                    &Message::Abort(Abort {
                        details: Dict::new(),
                        reason: Str::from_static(reason),
                    }),
                );
                self.leave(peer);
                let closing = self
                    .peer(peer)
                    .map(|p| p.link.close(reason))
                    .unwrap_or_else(|| Closing::Error(reason.to_owned()));
                self.queue(peer);
                return Err(closing);
            }
        }
    }

    /// Marks `peer` to be written (its socket has room again).
    pub(crate) fn queue(&mut self, peer: usize) {
        if let Some(p) = self.peers.get_mut(peer).and_then(Option::as_mut)
            && !p.queued
        {
            p.queued = true;
            self.pending.push(peer);
        }
    }

    /// The links to write now, moved into `into` (cleared first).
    pub(crate) fn take_pending(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.pending);
        for &peer in into.iter() {
            if let Some(p) = self.peer(peer) {
                p.queued = false;
            }
        }
    }

    /// Whether `peer`'s link has ended: close its connection once its
    /// output is written.
    pub(crate) fn is_closed(&mut self, peer: usize) -> bool {
        self.peer(peer).is_none_or(|p| p.link.is_closed())
    }

    /// The connection of `peer` is gone: its session leaves.
    pub(crate) fn close(&mut self, peer: usize) {
        self.leave(peer);
        if let Some(slot) = self.peers.get_mut(peer) {
            *slot = None;
        }
    }

    fn handle(&mut self, peer: usize, message: Message) -> Result<(), Violation> {
        let joined = self.peer(peer).is_some_and(|p| p.session.is_some());
        match message {
            Message::Hello(hello) if !joined => {
                self.join(peer, hello.realm);
                Ok(())
            }
            _ if !joined => Err(Violation("wamp.error.protocol_violation")),
            Message::Publish(publish) => {
                self.publish(peer, publish);
                Ok(())
            }
            Message::Call(call) => {
                self.call(peer, call);
                Ok(())
            }
            Message::Yield(answer) => {
                self.answer(peer, answer);
                Ok(())
            }
            Message::Error(error) if error.request_type == MessageType::Invocation.code() => {
                self.answer_error(peer, error);
                Ok(())
            }
            Message::Subscribe(subscribe) => {
                self.subscribe(peer, subscribe);
                Ok(())
            }
            Message::Unsubscribe(unsubscribe) => {
                self.unsubscribe(peer, unsubscribe);
                Ok(())
            }
            Message::Register(register) => {
                self.register(peer, register);
                Ok(())
            }
            Message::Unregister(unregister) => {
                self.unregister(peer, unregister);
                Ok(())
            }
            Message::Goodbye(_) => {
                self.leave(peer);
                self.send(
                    peer,
                    &Message::Goodbye(Goodbye {
                        details: Dict::new(),
                        reason: Str::from_static("wamp.close.goodbye_and_out"),
                    }),
                );
                Ok(())
            }
            _ => Err(Violation("wamp.error.protocol_violation")),
        }
    }

    fn join(&mut self, peer: usize, realm: Str) {
        let index = match self.realms.iter().position(|(name, _)| *name == realm) {
            Some(index) => index,
            None => {
                self.realms
                    .push((Str::from(realm.as_str()), Realm::default()));
                self.realms.len() - 1
            }
        };
        let session = SessionId::new(self.global_ids.next()).unwrap_or_default();
        if let Some(p) = self.peer(peer) {
            p.session = Some(Session {
                realm: index,
                subscriptions: Vec::new(),
                registrations: Vec::new(),
            });
        }
        let roles: Dict = [("broker", Dict::new()), ("dealer", Dict::new())]
            .into_iter()
            .map(|(role, features)| (role, Value::Dict(features)))
            .collect();
        self.send(
            peer,
            &Message::Welcome(Welcome {
                session,
                details: [("roles", Value::Dict(roles))].into_iter().collect(),
            }),
        );
    }

    /// Every subscriber but the publisher (unless it asks for its own
    /// events) gets the EVENT, framed once per kind of link.
    fn publish(&mut self, peer: usize, publish: Publish) {
        let Some(realm) = self.realm_of(peer) else {
            return;
        };
        let publication = PublicationId::new(self.global_ids.next()).unwrap_or_default();
        if flag(&publish.options, "acknowledge").unwrap_or(false) {
            self.send(
                peer,
                &Message::Published(Published {
                    request: publish.request,
                    publication,
                }),
            );
        }
        let exclude_me = flag(&publish.options, "exclude_me").unwrap_or(true);
        let Some((_, realm)) = self.realms.get(realm) else {
            return;
        };
        let Some(subscription) = realm.broker.subscription(&publish.topic) else {
            return;
        };
        let mut frames = EventFrames::new(Event {
            subscription: subscription.id,
            publication,
            details: Dict::new(),
            payload: publish.payload,
        });
        for &subscriber in &subscription.subscribers {
            if exclude_me && subscriber == peer {
                continue;
            }
            let Some(p) = self.peers.get_mut(subscriber).and_then(Option::as_mut) else {
                continue;
            };
            let Some(frame) = frames.get(p.link.transport(), p.link.serializer()) else {
                continue;
            };
            p.link.out.extend_from_slice(frame);
            if !p.queued {
                p.queued = true;
                self.pending.push(subscriber);
            }
        }
    }

    fn subscribe(&mut self, peer: usize, subscribe: Subscribe) {
        let request_type = MessageType::Subscribe;
        if subscribe
            .options
            .get("match")
            .is_some_and(|m| m.as_str() != Some("exact"))
        {
            let uri = "wamp.error.invalid_argument";
            return self.error(peer, request_type, subscribe.request, uri);
        }
        let Some(realm) = self.realm_of(peer) else {
            return;
        };
        let id = SubscriptionId::new(self.next_id()).unwrap_or_default();
        let Some((_, realm)) = self.realms.get_mut(realm) else {
            return;
        };
        let subscription = realm.broker.subscribe(&subscribe.topic, peer, || id);
        if let Some(session) = self.session(peer)
            && !session.subscriptions.contains(&subscription)
        {
            session.subscriptions.push(subscription);
        }
        self.send(
            peer,
            &Message::Subscribed(Subscribed {
                request: subscribe.request,
                subscription,
            }),
        );
    }

    fn unsubscribe(&mut self, peer: usize, unsubscribe: Unsubscribe) {
        let removed = match self.realm_of(peer) {
            Some(realm) => self
                .realms
                .get_mut(realm)
                .is_some_and(|(_, r)| r.broker.unsubscribe(unsubscribe.subscription, peer)),
            None => false,
        };
        if !removed {
            let uri = "wamp.error.no_such_subscription";
            return self.error(peer, MessageType::Unsubscribe, unsubscribe.request, uri);
        }
        if let Some(session) = self.session(peer) {
            session
                .subscriptions
                .retain(|&s| s != unsubscribe.subscription);
        }
        self.send(
            peer,
            &Message::Unsubscribed(Unsubscribed {
                request: unsubscribe.request,
                details: None,
            }),
        );
    }

    fn register(&mut self, peer: usize, register: Register) {
        let Some(realm) = self.realm_of(peer) else {
            return;
        };
        let id = RegistrationId::new(self.next_id()).unwrap_or_default();
        let registered = self
            .realms
            .get_mut(realm)
            .is_some_and(|(_, r)| r.dealer.register(&register.procedure, peer, id));
        if !registered {
            let uri = "wamp.error.procedure_already_exists";
            return self.error(peer, MessageType::Register, register.request, uri);
        }
        if let Some(session) = self.session(peer) {
            session.registrations.push(id);
        }
        self.send(
            peer,
            &Message::Registered(Registered {
                request: register.request,
                registration: id,
            }),
        );
    }

    fn unregister(&mut self, peer: usize, unregister: Unregister) {
        let removed = match self.realm_of(peer) {
            Some(realm) => self
                .realms
                .get_mut(realm)
                .is_some_and(|(_, r)| r.dealer.unregister(unregister.registration, peer)),
            None => false,
        };
        if !removed {
            let uri = "wamp.error.no_such_registration";
            return self.error(peer, MessageType::Unregister, unregister.request, uri);
        }
        if let Some(session) = self.session(peer) {
            session
                .registrations
                .retain(|&r| r != unregister.registration);
        }
        self.send(
            peer,
            &Message::Unregistered(Unregistered {
                request: unregister.request,
                details: None,
            }),
        );
    }

    fn call(&mut self, peer: usize, call: Call) {
        let registration = self
            .realm_of(peer)
            .and_then(|realm| self.realms.get(realm))
            .and_then(|(_, r)| r.dealer.registration(&call.procedure));
        let Some(registration) = registration else {
            let uri = "wamp.error.no_such_procedure";
            return self.error(peer, MessageType::Call, call.request, uri);
        };
        let request = RequestId::new(self.next_id()).unwrap_or_default();
        self.invocations.insert(
            request,
            realm::Invocation {
                caller: peer,
                call: call.request,
                callee: registration.callee,
            },
        );
        self.send(
            registration.callee,
            &Message::Invocation(Invocation {
                request,
                registration: registration.id,
                details: Dict::new(),
                payload: call.payload,
            }),
        );
    }

    fn answer(&mut self, peer: usize, answer: Yield) {
        if let Some(invocation) = self.invocations.answer(answer.request, peer) {
            self.send(
                invocation.caller,
                &Message::Result(ringbar_protocol::message::Result {
                    request: invocation.call,
                    details: Dict::new(),
                    payload: answer.payload,
                }),
            );
        }
    }

    fn answer_error(&mut self, peer: usize, error: Error) {
        if let Some(invocation) = self.invocations.answer(error.request, peer) {
            self.send(
                invocation.caller,
                &Message::Error(Error {
                    request_type: MessageType::Call.code(),
                    request: invocation.call,
                    details: error.details,
                    error: error.error,
                    payload: error.payload,
                }),
            );
        }
    }

    /// Ends `peer`'s session, if it has one: out of every subscription and
    /// registration; its callers' calls in flight fail.
    fn leave(&mut self, peer: usize) {
        let Some(session) = self.peer(peer).and_then(|p| p.session.take()) else {
            return;
        };
        if let Some((_, realm)) = self.realms.get_mut(session.realm) {
            for subscription in session.subscriptions {
                realm.broker.unsubscribe(subscription, peer);
            }
            for registration in session.registrations {
                realm.dealer.unregister(registration, peer);
            }
        }
        for orphan in self.invocations.on_peer_gone(peer) {
            let uri = "wamp.error.canceled";
            self.error(orphan.caller, MessageType::Call, orphan.call, uri);
        }
    }

    fn error(
        &mut self,
        peer: usize,
        request_type: MessageType,
        request: RequestId,
        uri: &'static str,
    ) {
        self.send(
            peer,
            &Message::Error(Error {
                request_type: request_type.code(),
                request,
                details: Dict::new(),
                error: Str::from_static(uri),
                payload: Payload::Empty,
            }),
        );
    }

    /// Queues `message` to `peer`. A message its serializer cannot carry
    /// (a payload that does not transcode) ends its connection.
    fn send(&mut self, peer: usize, message: &Message) {
        let Some(p) = self.peer(peer) else {
            return;
        };
        if p.link.send(message).is_err() {
            p.link.close("a message its serializer cannot carry");
        }
        self.queue(peer);
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn peer(&mut self, peer: usize) -> Option<&mut Peer> {
        self.peers.get_mut(peer).and_then(Option::as_mut)
    }

    fn session(&mut self, peer: usize) -> Option<&mut Session> {
        self.peer(peer).and_then(|p| p.session.as_mut())
    }

    fn realm_of(&mut self, peer: usize) -> Option<usize> {
        self.session(peer).map(|s| s.realm)
    }
}

/// A boolean option (`acknowledge`, `exclude_me`).
fn flag(options: &Dict, key: &str) -> Option<bool> {
    options.get(key).and_then(Value::as_bool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;
    use ringbar_protocol::codec::{self, Serializer};
    use ringbar_protocol::message::{Hello, Result as CallResult};
    use ringbar_protocol::rawsocket::{FrameParser, FrameType, HandshakeRequest, MaxMessageLength};

    use crate::reference::link::frame_message;

    /// A RawSocket client of the router in slot `peer`, speaking `serializer`.
    struct Client {
        peer: usize,
        serializer: Serializer,
        parser: FrameParser,
    }

    impl Client {
        /// Opens the connection: the RawSocket handshake, no session yet.
        fn connect(router: &mut Router, peer: usize, serializer: Serializer) -> Self {
            router.open(peer, Transport::RawSocket, "");
            let request = HandshakeRequest {
                serializer,
                max_message_length: MaxMessageLength::MAX,
            };
            router
                .read_buf(peer)
                .unwrap()
                .extend_from_slice(&request.to_bytes());
            router.process(peer).unwrap();
            router.out(peer).unwrap().advance(4);
            Self {
                peer,
                serializer,
                parser: FrameParser::new(MaxMessageLength::MAX),
            }
        }

        /// Connects and joins realm1.
        fn join(router: &mut Router, peer: usize, serializer: Serializer) -> Self {
            let mut client = Self::connect(router, peer, serializer);
            client.send(
                router,
                Message::Hello(Hello {
                    realm: "realm1".into(),
                    details: Dict::new(),
                }),
            );
            assert!(matches!(client.received(router)[..], [Message::Welcome(_)]));
            client
        }

        fn send(&self, router: &mut Router, message: Message) {
            let mut encoded = BytesMut::new();
            codec::encode(self.serializer, &message, &mut encoded).unwrap();
            let buf = router.read_buf(self.peer).unwrap();
            frame_message(Transport::RawSocket, self.serializer, &encoded, buf).unwrap();
            router.process(self.peer).unwrap();
        }

        fn received(&mut self, router: &mut Router) -> Vec<Message> {
            let out = router.out(self.peer).unwrap();
            let mut messages = Vec::new();
            while let Some(frame) = self.parser.parse(out).unwrap() {
                assert_eq!(frame.frame_type(), FrameType::Message);
                messages.push(codec::decode(self.serializer, frame.into_payload()).unwrap());
            }
            messages
        }
    }

    fn payload(serializer: Serializer, text: &str) -> Payload {
        Payload::from_values(serializer, &[Value::from(text)], None).unwrap()
    }

    fn request(n: u64) -> RequestId {
        RequestId::new(n).unwrap()
    }

    #[test]
    fn global_ids_are_random_over_53_bits() {
        let mut ids = GlobalIds::default();
        let drawn: Vec<u64> = (0..64).map(|_| ids.next()).collect();
        assert!(drawn.iter().all(|&id| (1..=MAX_ID).contains(&id)));
        assert!(drawn.iter().any(|&id| id > 1 << 40), "{drawn:?}");
    }

    #[test]
    fn a_publication_reaches_every_other_subscriber_in_its_serializer() {
        let mut router = Router::default();
        let mut json = Client::join(&mut router, 0, Serializer::Json);
        let mut msgpack = Client::join(&mut router, 1, Serializer::MsgPack);
        let mut subscribed = Vec::new();
        for client in [&mut json, &mut msgpack] {
            client.send(
                &mut router,
                Message::Subscribe(Subscribe {
                    request: request(1),
                    options: Dict::new(),
                    topic: "t".into(),
                }),
            );
            let [Message::Subscribed(s)] = &client.received(&mut router)[..] else {
                panic!("no SUBSCRIBED");
            };
            subscribed.push(s.subscription);
        }
        assert_eq!(subscribed[0], subscribed[1]);
        let options: Dict = [("acknowledge", Value::Bool(true))].into_iter().collect();
        json.send(
            &mut router,
            Message::Publish(Publish {
                request: request(2),
                options,
                topic: "t".into(),
                payload: payload(Serializer::Json, "hi"),
            }),
        );
        // The publisher is acknowledged and, excluded by default, gets no EVENT.
        assert!(matches!(
            json.received(&mut router)[..],
            [Message::Published(_)]
        ));
        let [Message::Event(event)] = &msgpack.received(&mut router)[..] else {
            panic!("no EVENT");
        };
        assert_eq!(event.subscription, subscribed[0]);
        assert_eq!(event.payload, payload(Serializer::MsgPack, "hi"));
    }

    #[test]
    fn a_call_is_invoked_and_its_yield_answers_the_caller() {
        let mut router = Router::default();
        let mut callee = Client::join(&mut router, 3, Serializer::Json);
        let mut caller = Client::join(&mut router, 5, Serializer::Json);
        let register = |request| {
            Message::Register(Register {
                request,
                options: Dict::new(),
                procedure: "p".into(),
            })
        };
        callee.send(&mut router, register(request(1)));
        assert!(matches!(
            callee.received(&mut router)[..],
            [Message::Registered(_)]
        ));
        caller.send(&mut router, register(request(1)));
        let [Message::Error(refused)] = &caller.received(&mut router)[..] else {
            panic!("a second callee was accepted");
        };
        assert_eq!(
            refused.error.as_str(),
            "wamp.error.procedure_already_exists"
        );
        let call = |request| {
            Message::Call(Call {
                request,
                options: Dict::new(),
                procedure: "p".into(),
                payload: payload(Serializer::Json, "x"),
            })
        };
        caller.send(&mut router, call(request(7)));
        let [Message::Invocation(invocation)] = &callee.received(&mut router)[..] else {
            panic!("no INVOCATION");
        };
        callee.send(
            &mut router,
            Message::Yield(Yield {
                request: invocation.request,
                options: Dict::new(),
                payload: invocation.payload.clone(),
            }),
        );
        let [
            Message::Result(CallResult {
                request: answered,
                payload: echoed,
                ..
            }),
        ] = &caller.received(&mut router)[..]
        else {
            panic!("no RESULT");
        };
        assert_eq!(
            (*answered, echoed),
            (request(7), &payload(Serializer::Json, "x"))
        );

        // A callee that leaves fails the calls it has not answered.
        caller.send(&mut router, call(request(8)));
        router.close(callee.peer);
        let [Message::Error(canceled)] = &caller.received(&mut router)[..] else {
            panic!("the call was left waiting");
        };
        assert_eq!(
            (canceled.request, canceled.error.as_str()),
            (request(8), "wamp.error.canceled")
        );
    }

    #[test]
    fn a_message_before_hello_aborts_the_connection() {
        let mut router = Router::default();
        let mut client = Client::connect(&mut router, 0, Serializer::Cbor);
        let publish = Message::Publish(Publish {
            request: request(1),
            options: Dict::new(),
            topic: "t".into(),
            payload: Payload::Empty,
        });
        let mut encoded = BytesMut::new();
        codec::encode(Serializer::Cbor, &publish, &mut encoded).unwrap();
        let buf = router.read_buf(0).unwrap();
        frame_message(Transport::RawSocket, Serializer::Cbor, &encoded, buf).unwrap();
        assert!(router.process(0).is_err());
        assert!(router.is_closed(0));
        let [Message::Abort(abort)] = &client.received(&mut router)[..] else {
            panic!("no ABORT");
        };
        assert_eq!(abort.reason.as_str(), "wamp.error.protocol_violation");
    }
}
