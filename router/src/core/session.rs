//! A WAMP session on one connection: opening (HELLO → WELCOME or ABORT),
//! routing the messages of an open session, and closing (GOODBYE both ways,
//! or the connection going away).
//!
//! Nothing here waits. What a message starts and the next must wait for (a
//! dynamic authenticator or authorizer asked, a proof checked off the
//! core) ends in a continuation that leaves the outcome in the session's
//! inbox; the driver polls [`SessionDriver::poll_settled`] and reads no
//! further message until it is ready.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::{CloseReason, RouterCallFailure, RouterCallResult, RoutingError};
use bytes::Bytes;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RequestId, SessionId};
use ringbar_protocol::message::{
    Abort, Authenticate, Challenge, Error, Goodbye, Hello, Message, MessageType, Payload, Welcome,
};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::auth::config::AuthConfig;
use crate::auth::{self, Accepted, Opening, Refusal};
use crate::authorize::{DecisionCache, Role};
use crate::core::Core;
use crate::core::authorizer;
use crate::core::broker;
use crate::core::broker::Holding;
use crate::core::dealer::{self, PeerFeatures};
use crate::core::mail::{Mail, SessionChange};
use crate::core::meta;
use crate::core::realm::{Realm, RealmSession};
use crate::core::sessions::SessionKey;
use crate::core::timeout::Timeout;
use crate::local::link::{Deadlines, Link, Unsent};
use crate::wire::Wire;

/// Who a session is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Its session id.
    pub session: SessionId,
    /// Its `authid`.
    pub authid: Str,
    /// Its `authrole`.
    pub authrole: Str,
}

/// A joined session, as its core's tables refer to it.
pub struct SessionHandle {
    /// Who it is.
    pub identity: Identity,
    /// The realm it joined.
    pub realm: Arc<Realm>,
    /// Its role in that realm.
    pub role: Arc<Role>,
    /// How its connection frames what it is sent.
    pub wire: Wire,
    /// Its connection.
    pub conn: Rc<Link>,
    /// What its role decided for it, kept where the role allows.
    pub decisions: RefCell<DecisionCache>,
    /// Where it is in its core's sessions: what the core's tables keep.
    pub key: SessionKey,
    /// What its HELLO announced that the dealer acts on.
    pub features: PeerFeatures,
}

impl SessionHandle {
    /// Queues `message` for this session.
    pub fn send(&self, message: &Message) {
        send(&self.conn, self.wire, message);
    }

    /// Queues an ERROR answering request `request` of type `request_type`.
    pub fn send_error(
        &self,
        request_type: MessageType,
        request: RequestId,
        error: RoutingError,
        text: &str,
    ) {
        self.send(&error_message(
            self.wire.serializer,
            request_type,
            request,
            error,
            text,
        ));
    }
}

/// Queues `message` on `conn` (a message that cannot be encoded, or is
/// longer than the peer accepts, is logged and dropped).
pub fn send(conn: &Link, wire: Wire, message: &Message) {
    match conn.push_message(wire, message) {
        Ok(()) => conn.figures.message_out(message.message_type()),
        Err(Unsent::TooLong(bytes)) => tracing::debug!(
            peer = %conn.peer,
            bytes,
            "message longer than the peer accepts: not sent"
        ),
        Err(Unsent::Encode(e)) => tracing::debug!(error = %e, "message dropped: cannot encode"),
    }
}

/// An ERROR message with a human-readable reason as its only argument.
pub fn error_message(
    serializer: Serializer,
    request_type: MessageType,
    request: RequestId,
    error: RoutingError,
    text: &str,
) -> Message {
    Message::Error(Error {
        request_type: request_type.code(),
        request,
        details: Dict::new(),
        error: Str::from_static(error.uri()),
        payload: Payload::from_values(serializer, &[Value::from(text)], None).unwrap_or_default(),
    })
}

/// Whether the connection goes on after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Close the connection once queued frames are out.
    Close,
    /// The peer broke the protocol: ABORT with this reason and close.
    Violation(String),
}

enum State {
    /// Waiting for HELLO.
    Opening,
    /// CHALLENGE sent, waiting for AUTHENTICATE.
    Authenticating {
        realm: Arc<Realm>,
        session: SessionId,
        pending: Box<auth::Pending>,
        features: PeerFeatures,
    },
    /// A dynamic authenticator is asked (after HELLO, or after the
    /// AUTHENTICATE of a ticket it judges).
    Asking {
        realm: Arc<Realm>,
        session: SessionId,
        ask: Box<auth::Ask>,
        features: PeerFeatures,
    },
    /// What decides the opening is worked out off the core (a password
    /// hash, a key derived with up to a million PBKDF2 iterations).
    Checking {
        realm: Arc<Realm>,
        session: SessionId,
        features: PeerFeatures,
        checked: Checked,
    },
    /// Joined.
    Open { handle: Rc<SessionHandle> },
    /// Done (GOODBYE, ABORT, or the connection is going).
    Closed,
}

/// What a session in `State::Checking` has checked off the core, for the
/// log line of a refusal.
enum Checked {
    /// An AUTHENTICATE's signature, for this authmethod.
    Proof { authmethod: &'static str },
    /// A dynamic authenticator's answer.
    Answer { authenticator: String },
}

/// What a session waits for, handed over by a continuation.
enum Arrival {
    /// The dynamic authenticator answered, or could not be asked.
    Authenticator(Result<RouterCallResult, RouterCallFailure>),
    /// What was checked off the core decides the opening (`None`: the
    /// router is stopping); with WELCOME's `authextra` an authenticator
    /// gave.
    Decided(Option<auth::Decided>),
    /// The role's dynamic authorizer answered, or could not be asked.
    Authorizer(authorizer::Answer),
}

/// Where continuations leave what the session waits for (one thing at a
/// time), waking the driver that polls for it.
#[derive(Default)]
struct Inbox {
    /// Boxed: an idle session's inbox stays small.
    arrival: RefCell<Option<Box<Arrival>>>,
    driver: Cell<Option<Waker>>,
}

impl Inbox {
    fn deliver(&self, arrival: Arrival) {
        *self.arrival.borrow_mut() = Some(Box::new(arrival));
        if let Some(driver) = self.driver.take() {
            driver.wake();
        }
    }
}

/// Drives the session of one connection.
pub struct SessionDriver {
    core: Rc<Core>,
    conn: Rc<Link>,
    wire: Wire,
    auth: Arc<AuthConfig>,
    state: State,
    /// A message of the open session that waits for its role's dynamic
    /// authorizer.
    authorizing: Option<Box<authorizer::Question>>,
    /// What the session waits for arrives here.
    inbox: Rc<Inbox>,
    /// WELCOME's `authextra`, as a dynamic authenticator gave it.
    welcome_extra: Option<Dict>,
}

/// The broker features ringbar implements, announced in WELCOME.
const BROKER_FEATURES: &[&str] = &[
    "publisher_identification",
    "publisher_exclusion",
    "subscriber_blackwhite_listing",
    "pattern_based_subscription",
    "event_retention",
    "payload_passthru_mode",
    "session_meta_api",
    "subscription_meta_api",
];

impl SessionDriver {
    /// A session on `conn`, not yet joined.
    pub fn new(core: Rc<Core>, conn: Rc<Link>, wire: Wire, auth: Arc<AuthConfig>) -> Self {
        let join = Duration::from_millis(core.shared.limits.join_timeout_ms);
        let idle = core.shared.limits.idle_timeout_ms;
        conn.deadlines.set(Deadlines {
            join: Some(core.set_timer(join, Timeout::Join(Rc::downgrade(&conn)))),
            idle: (idle > 0).then(|| {
                core.set_timer(
                    Duration::from_millis(idle),
                    Timeout::Idle(Rc::downgrade(&conn)),
                )
            }),
        });
        Self {
            core,
            conn,
            wire,
            auth,
            state: State::Opening,
            authorizing: None,
            inbox: Rc::default(),
            welcome_extra: None,
        }
    }

    /// Handles one WAMP message.
    pub fn on_message(&mut self, bytes: Bytes) -> Flow {
        self.on_message_more(bytes, false)
    }

    /// Handles one WAMP message that `more` others follow at once (the
    /// driver holds them, read together): a PUBLISH's local delivery may
    /// then wait for theirs, to go out in one pass over the subscribers
    /// (see [`broker::Held`]). What is held is delivered before this
    /// returns unless more follow and nothing makes the driver wait: the
    /// driver calls [`SessionDriver::deliver_held`] before it waits for
    /// input.
    pub fn on_message_more(&mut self, bytes: Bytes, more: bool) -> Flow {
        let flow = match self.route(bytes, more) {
            Flow::Violation(text) => self.protocol_violation(&text),
            flow => flow,
        };
        if !more || flow != Flow::Continue || self.waits() || self.conn.outbound.is_full() {
            broker::deliver_held(&self.core);
        }
        flow
    }

    /// Delivers what this session's publications left held back (see
    /// [`SessionDriver::on_message_more`]).
    pub fn deliver_held(&self) {
        broker::deliver_held(&self.core);
    }

    fn route(&mut self, bytes: Bytes, more: bool) -> Flow {
        let message = match codec::decode(self.wire.serializer, bytes) {
            Ok(m) => m,
            Err(e) => {
                self.core.figures.message_undecodable();
                return self.protocol_violation(&e.to_string());
            }
        };
        self.core.figures.message_in(message.message_type());
        let handle = match &self.state {
            State::Opening => {
                return match message {
                    Message::Hello(hello) => self.hello(hello),
                    other => self.protocol_violation(&format!(
                        "{} before HELLO",
                        other.message_type().name()
                    )),
                };
            }
            State::Asking { .. } | State::Checking { .. } => {
                return self.protocol_violation(&format!(
                    "{} while the router authenticates (nothing may be sent before WELCOME)",
                    message.message_type().name()
                ));
            }
            State::Authenticating { .. } => {
                return match message {
                    Message::Authenticate(a) => self.authenticate(a),
                    Message::Abort(_) => {
                        self.leave("abort");
                        Flow::Close
                    }
                    other => self.protocol_violation(&format!(
                        "{} while authenticating (AUTHENTICATE expected)",
                        other.message_type().name()
                    )),
                };
            }
            State::Open { handle, .. } => handle.clone(),
            State::Closed => return Flow::Close,
        };
        match authorizer::asked(&self.core, &handle, &message) {
            None => {
                // Only a PUBLISH may leave its delivery held; anything else
                // goes after what is.
                let publish = matches!(message, Message::Publish(_));
                if !publish {
                    broker::deliver_held(&self.core);
                }
                if publish && more {
                    self.core.held.holding.set(Holding::ExcludingPublisher);
                }
                let flow = self.dispatch(&handle, message);
                self.core.held.holding.set(Holding::Nothing);
                flow
            }
            Some(asked) => {
                broker::deliver_held(&self.core);
                let question = authorizer::Question::new(message, asked);
                let inbox = self.inbox.clone();
                authorizer::ask(&self.core, &handle, &question, move |answer| {
                    inbox.deliver(Arrival::Authorizer(answer));
                });
                self.authorizing = Some(question);
                Flow::Continue
            }
        }
    }

    /// Routes a message of the open session `handle`.
    fn dispatch(&mut self, handle: &Rc<SessionHandle>, message: Message) -> Flow {
        let handle = handle.clone();
        match message {
            Message::Publish(p) => broker::publish(&self.core, &handle, p),
            Message::Subscribe(s) => broker::subscribe(&self.core, &handle, s),
            Message::Unsubscribe(u) => broker::unsubscribe(&self.core, &handle, u),
            Message::Goodbye(_) => {
                send(
                    &self.conn,
                    self.wire,
                    &Message::Goodbye(Goodbye {
                        details: Dict::new(),
                        reason: Str::from_static(CloseReason::GoodbyeAndOut.uri()),
                    }),
                );
                self.leave("goodbye");
                Flow::Close
            }
            Message::Abort(_) => {
                self.leave("abort");
                Flow::Close
            }
            Message::EventReceived(_) => Flow::Continue,
            Message::Call(c) => dealer::call(&self.core, &handle, c),
            Message::Cancel(c) => dealer::cancel(&self.core, &handle, c),
            Message::Register(r) => dealer::register(&self.core, &handle, r),
            Message::Unregister(u) => dealer::unregister(&self.core, &handle, u),
            Message::Yield(y) => dealer::yield_(&self.core, &handle, y),
            Message::Error(e) => dealer::callee_error(&self.core, &handle, e),
            other => self.protocol_violation(&format!(
                "{} is not a message a client sends in an open session",
                other.message_type().name()
            )),
        }
    }

    /// The connection is gone (or going): the session leaves. A client
    /// that leaves between CHALLENGE and AUTHENTICATE made a failed
    /// attempt: otherwise guessing could go on by hanging up on every
    /// challenge it cannot answer.
    pub fn on_close(&mut self) {
        if matches!(self.state, State::Authenticating { .. }) {
            self.count_failed_attempt();
        }
        self.leave("connection closed");
        let deadlines = self.conn.deadlines.take();
        for timer in [deadlines.join, deadlines.idle].into_iter().flatten() {
            self.core.cancel_timer(timer);
        }
    }

    fn hello(&mut self, hello: Hello) -> Flow {
        let name = hello.realm.as_str();
        let found = self.core.shared.realms.get(name);
        let Some(realm) = found.or_else(|| {
            self.core
                .shared
                .realms
                .candidate(name, self.core.shared.clock.wall())
        }) else {
            return self.abort(
                RoutingError::NoSuchRealm.uri(),
                &format!("no realm '{}' on this router", hello.realm),
            );
        };
        let authmethods: Vec<&str> = match hello.details.get("authmethods") {
            None => vec!["anonymous"],
            Some(methods) => methods
                .as_list()
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .collect(),
        };
        let session = self
            .core
            .shared
            .claim_session_id(&mut self.core.ids.borrow_mut());
        let info = auth::HelloInfo {
            realm: realm.name.as_str(),
            authid: hello.details.get("authid").and_then(Value::as_str),
            authextra: hello.details.get("authextra").and_then(Value::as_dict),
            session: session.get(),
            now: self.core.shared.clock.wall(),
        };
        let opening = auth::open(&self.auth, &authmethods, &info, &self.conn.channel);
        let needs_proof = matches!(opening, Opening::Challenge { .. } | Opening::Ask(_));
        if needs_proof && let Some(wait) = self.limited() {
            self.core.shared.release_session_id(session);
            return self.abort(
                RoutingError::NotAuthorized.uri(),
                &format!(
                    "too many failed authentication attempts from this address; try again in {} s",
                    wait.as_secs() + 1
                ),
            );
        }
        self.proceed(
            opening,
            realm,
            session,
            PeerFeatures::from_hello(&hello.details),
        )
    }

    /// Goes on with the opening of session `session`: WELCOME, CHALLENGE,
    /// asking a dynamic authenticator, or ABORT.
    fn proceed(
        &mut self,
        opening: Opening,
        realm: Arc<Realm>,
        session: SessionId,
        features: PeerFeatures,
    ) -> Flow {
        match opening {
            Opening::Welcome(accepted) => self.join(realm, session, accepted, features),
            Opening::Challenge {
                authmethod,
                extra,
                pending,
            } => {
                send(
                    &self.conn,
                    self.wire,
                    &Message::Challenge(Challenge {
                        authmethod: Str::from_static(authmethod),
                        extra,
                    }),
                );
                self.state = State::Authenticating {
                    realm,
                    session,
                    pending: Box::new(pending),
                    features,
                };
                Flow::Continue
            }
            Opening::Ask(mut ask) => {
                if let Some(details) = ask.details_mut() {
                    let transport: Dict = [("peer", Value::from(self.conn.peer.to_string()))]
                        .into_iter()
                        .collect();
                    details.insert("transport", Value::Dict(transport));
                }
                if let Err(refusal) = self.ask_authenticator(&ask, session) {
                    let checked = Checked::Answer {
                        authenticator: ask.procedure,
                    };
                    let refused = Some((Opening::Refuse(refusal), None));
                    return self.decided(refused, realm, session, features, &checked);
                }
                self.state = State::Asking {
                    realm,
                    session,
                    ask: Box::new(ask),
                    features,
                };
                Flow::Continue
            }
            Opening::Refuse(refusal) => {
                self.core.shared.release_session_id(session);
                self.refuse(refusal)
            }
        }
    }

    /// Asks the dynamic authenticator `ask` names about session `session`;
    /// its answer arrives in the inbox. A refusal when its realm does not
    /// exist.
    fn ask_authenticator(&self, ask: &auth::Ask, session: SessionId) -> Result<(), Refusal> {
        let Some(realm) = self.core.shared.realms.get(ask.realm.as_str()) else {
            return Err(Refusal::not_authorized(format!(
                "the dynamic authenticator's realm '{}' does not exist on this router",
                ask.realm
            )));
        };
        let inbox = self.inbox.clone();
        dealer::ask_as_router(
            &self.core,
            &realm,
            session,
            &ask.procedure,
            &ask.args,
            Duration::from_millis(self.core.shared.limits.authenticator_timeout_ms),
            move |answer| inbox.deliver(Arrival::Authenticator(answer)),
        );
        Ok(())
    }

    /// Works out `work` off the core (`State::Checking`); its outcome
    /// arrives in the inbox.
    fn check_off_core(
        &mut self,
        realm: Arc<Realm>,
        session: SessionId,
        features: PeerFeatures,
        checked: Checked,
        work: impl FnOnce() -> auth::Decided + Send + 'static,
    ) {
        let inbox = self.inbox.clone();
        self.core.shared.slow_work.start(
            Box::new(work),
            Box::new(move |decided| inbox.deliver(Arrival::Decided(decided))),
        );
        self.state = State::Checking {
            realm,
            session,
            features,
            checked,
        };
    }

    /// Whether what the last message started is done (a dynamic
    /// authenticator or authorizer asked, a proof checked off the core):
    /// `Ready` with what the connection does next, or `Pending` until a
    /// continuation hands the outcome over (`cx` is woken then). Other
    /// sessions of the core run on meanwhile; the driver reads no further
    /// message of this one.
    pub fn poll_settled(&mut self, cx: &mut Context<'_>) -> Poll<Flow> {
        while self.waits() {
            let arrival = self.inbox.arrival.borrow_mut().take();
            let Some(arrival) = arrival else {
                self.inbox.driver.set(Some(cx.waker().clone()));
                return Poll::Pending;
            };
            match self.resume(*arrival) {
                Flow::Continue => {}
                Flow::Violation(text) => return Poll::Ready(self.protocol_violation(&text)),
                flow => return Poll::Ready(flow),
            }
        }
        Poll::Ready(Flow::Continue)
    }

    fn waits(&self) -> bool {
        matches!(self.state, State::Asking { .. } | State::Checking { .. })
            || self.authorizing.is_some()
    }

    /// Goes on with what arrived for the session.
    fn resume(&mut self, arrival: Arrival) -> Flow {
        match (arrival, std::mem::replace(&mut self.state, State::Closed)) {
            (
                Arrival::Authenticator(answer),
                State::Asking {
                    realm,
                    session,
                    ask,
                    features,
                },
            ) => {
                // A WAMP-CRA answer with a salt derives the key (PBKDF2).
                let authenticator = ask.procedure.clone();
                self.check_off_core(
                    realm,
                    session,
                    features,
                    Checked::Answer { authenticator },
                    move || ask.answer(answer),
                );
                Flow::Continue
            }
            (
                Arrival::Decided(decided),
                State::Checking {
                    realm,
                    session,
                    features,
                    checked,
                },
            ) => self.decided(decided, realm, session, features, &checked),
            (Arrival::Authorizer(answer), State::Open { handle }) => {
                self.state = State::Open {
                    handle: handle.clone(),
                };
                let Some(question) = self.authorizing.take() else {
                    return Flow::Continue;
                };
                authorizer::answered(&handle, &question, answer);
                self.dispatch(&handle, question.message)
            }
            (_, state) => {
                self.state = state;
                Flow::Close
            }
        }
    }

    /// Goes on with the opening as what was worked out decides.
    fn decided(
        &mut self,
        decided: Option<auth::Decided>,
        realm: Arc<Realm>,
        session: SessionId,
        features: PeerFeatures,
        checked: &Checked,
    ) -> Flow {
        let (opening, extra) = decided.unwrap_or_else(|| (stopping(), None));
        if let Opening::Refuse(refusal) = &opening {
            match checked {
                Checked::Proof { authmethod } => {
                    tracing::info!(peer = %self.conn.peer, authmethod, "authentication failed");
                }
                Checked::Answer { authenticator } => tracing::info!(
                    peer = %self.conn.peer,
                    authenticator = %authenticator,
                    reason = refusal.reason.uri(),
                    "dynamic authentication refused"
                ),
            }
        }
        if extra.is_some() {
            self.welcome_extra = extra;
        }
        self.proceed(opening, realm, session, features)
    }

    /// Checks the AUTHENTICATE off the core (a ticket may be checked
    /// against an argon2 hash).
    fn authenticate(&mut self, authenticate: Authenticate) -> Flow {
        let State::Authenticating {
            realm,
            session,
            pending,
            features,
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return Flow::Close;
        };
        let authmethod = pending.authmethod();
        let signature = authenticate.signature.as_str().to_owned();
        self.check_off_core(
            realm,
            session,
            features,
            Checked::Proof { authmethod },
            move || (pending.check(&signature), None),
        );
        Flow::Continue
    }

    /// ABORTs for `refusal`, counting a failed attempt against the peer.
    fn refuse(&mut self, refusal: Refusal) -> Flow {
        if refusal.failed_attempt {
            self.count_failed_attempt();
        }
        self.abort(refusal.reason.uri(), &refusal.message)
    }

    /// Counts a failed authentication attempt against the peer's address.
    fn count_failed_attempt(&self) {
        if let Some(addr) = self.peer_ip() {
            self.core
                .shared
                .auth_failures
                .failed(addr, self.core.shared.clock.now());
        }
    }

    /// How long the peer must wait before it may try a method that needs
    /// proof again, when its failed attempts are over the limit.
    fn limited(&self) -> Option<std::time::Duration> {
        let addr = self.peer_ip()?;
        self.core
            .shared
            .auth_failures
            .blocked(addr, self.core.shared.clock.now())
    }

    fn peer_ip(&self) -> Option<std::net::IpAddr> {
        match self.conn.peer {
            crate::local::peer::Peer::Tcp(addr) => Some(addr.ip()),
            crate::local::peer::Peer::Unix => None,
        }
    }

    /// Welcomes the authenticated session into `realm`.
    fn join(
        &mut self,
        realm: Arc<Realm>,
        id: SessionId,
        accepted: Accepted,
        features: PeerFeatures,
    ) -> Flow {
        let Some(role) = realm.role(&accepted.authrole) else {
            self.core.shared.release_session_id(id);
            return self.abort(
                RoutingError::NoSuchRole.uri(),
                &format!(
                    "role '{}' is not defined on realm '{}'",
                    accepted.authrole, realm.name
                ),
            );
        };
        let realm = if self.core.shared.realms.holds(&realm) {
            realm
        } else {
            match self.create_realm(realm, &role) {
                Ok(realm) => realm,
                Err(text) => {
                    self.core.shared.release_session_id(id);
                    return self.abort(RoutingError::NoSuchRealm.uri(), &text);
                }
            }
        };
        let identity = Identity {
            session: id,
            authid: Str::from(accepted.authid.as_str()),
            authrole: Str::from(accepted.authrole.as_str()),
        };
        let decisions =
            DecisionCache::new(self.core.shared.limits.max_cached_decisions_per_session);
        let added = self.core.add_session(|key| {
            Rc::new(SessionHandle {
                identity,
                realm: realm.clone(),
                role,
                wire: self.wire,
                conn: self.conn.clone(),
                decisions: RefCell::new(decisions),
                key,
                features,
            })
        });
        let Some(handle) = added else {
            self.core.shared.release_session_id(id);
            return self.abort(
                RoutingError::Unavailable.uri(),
                "this core holds as many sessions as it can: connect again later",
            );
        };
        let features: Dict = BROKER_FEATURES
            .iter()
            .map(|f| (*f, Value::Bool(true)))
            .collect();
        let broker: Dict = [("features", Value::Dict(features))].into_iter().collect();
        let roles: Dict = [
            ("broker", Value::Dict(broker)),
            ("dealer", dealer::welcome_role()),
        ]
        .into_iter()
        .collect();
        let details: Dict = [
            ("realm", Value::from(realm.name.as_str())),
            ("authid", Value::from(accepted.authid.as_str())),
            ("authrole", Value::from(accepted.authrole.as_str())),
            ("authmethod", Value::from(accepted.authmethod)),
            ("authprovider", Value::from(accepted.authprovider)),
            ("roles", Value::Dict(roles)),
        ]
        .into_iter()
        .chain(
            self.welcome_extra
                .take()
                .map(|extra| ("authextra", Value::Dict(extra))),
        )
        .collect();
        handle.send(&Message::Welcome(Welcome {
            session: id,
            details,
        }));
        self.conn.joined.set(true);
        let mut deadlines = self.conn.deadlines.get();
        if let Some(join) = deadlines.join.take() {
            self.core.cancel_timer(join);
        }
        self.conn.deadlines.set(deadlines);
        let meta_details =
            meta::session_details(&handle, accepted.authmethod, accepted.authprovider);
        let info = RealmSession {
            core: self.core.id,
            authid: accepted.authid.clone(),
            authrole: accepted.authrole.clone(),
            details: meta_details.clone(),
        };
        tell_cluster(&self.core, &realm, id, Some(&info));
        realm.add_session(id, info);
        meta::session_joined(&self.core, &handle, meta_details);
        tracing::info!(
            session = id.get(),
            realm = %realm.name,
            core = self.core.id,
            authid = %accepted.authid,
            authrole = %accepted.authrole,
            authmethod = accepted.authmethod,
            peer = %self.conn.peer,
            "session joined"
        );
        self.state = State::Open { handle };
        Flow::Continue
    }

    /// Adds the realm a session of `role` asked for, made from the realm
    /// template, when the role may create it.
    fn create_realm(&self, realm: Arc<Realm>, role: &Role) -> Result<Arc<Realm>, String> {
        if !role.may_create() {
            return Err(format!(
                "no realm '{}' on this router, and this session's role may not create it",
                realm.name
            ));
        }
        let max_created = self.core.shared.limits.max_created_realms;
        self.core.shared.realms.adopt(realm, max_created)
    }

    fn abort(&mut self, reason: &str, text: &str) -> Flow {
        let details: Dict = [("message", Value::from(text))].into_iter().collect();
        send(
            &self.conn,
            self.wire,
            &Message::Abort(Abort {
                details,
                reason: Str::from(reason),
            }),
        );
        tracing::info!(peer = %self.conn.peer, core = self.core.id, reason, message = text, "session refused");
        self.leave(reason);
        Flow::Close
    }

    /// ABORT with `wamp.error.protocol_violation`, and close.
    pub fn protocol_violation(&mut self, text: &str) -> Flow {
        self.abort(RoutingError::ProtocolViolation.uri(), text)
    }

    fn leave(&mut self, why: &str) {
        let state = std::mem::replace(&mut self.state, State::Closed);
        if let State::Authenticating { session, .. }
        | State::Checking { session, .. }
        | State::Asking { session, .. } = &state
        {
            self.core.shared.release_session_id(*session);
        }
        if let State::Open { handle } = state {
            broker::remove_session(&self.core, &handle);
            dealer::remove_caller(&self.core, &handle);
            dealer::remove_callee(&self.core, &handle);
            self.core.remove_session(handle.key);
            self.core.shared.release_session_id(handle.identity.session);
            tell_cluster(&self.core, &handle.realm, handle.identity.session, None);
            handle.realm.remove_session(handle.identity.session);
            meta::publish_testaments(&self.core, &handle);
            meta::session_left(&self.core, &handle);
            tracing::info!(
                session = handle.identity.session.get(),
                realm = %handle.realm.name,
                core = self.core.id,
                reason = why,
                "session left"
            );
        }
    }
}

/// The refusal when the router stops while a session's proof is checked.
fn stopping() -> Opening {
    Opening::Refuse(Refusal::not_authorized(
        "the router is stopping; try again later",
    ))
}

/// A CALL's positional and keyword arguments as values.
pub fn decode_arguments(payload: &Payload) -> Result<(Vec<Value>, Dict), String> {
    match payload {
        Payload::Empty => Ok((Vec::new(), Dict::new())),
        Payload::Arguments(a) => {
            let args = match codec::decode_value(a.serializer, &a.args) {
                Ok(Value::List(list)) => list,
                Ok(_) => return Err("Arguments must be a list".into()),
                Err(e) => return Err(e.to_string()),
            };
            let kwargs = match &a.kwargs {
                None => Dict::new(),
                Some(bytes) => match codec::decode_value(a.serializer, bytes) {
                    Ok(Value::Dict(d)) => d,
                    Ok(_) => return Err("ArgumentsKw must be a dictionary".into()),
                    Err(e) => return Err(e.to_string()),
                },
            };
            Ok((args, kwargs))
        }
        Payload::Transparent(_) => {
            Err("meta procedures take plain arguments, not a passthru payload".into())
        }
    }
}

/// `Timeout::Join` expired: a connection whose session has not joined in
/// time (`limits.join_timeout_ms`) is cut off, so a peer that opens
/// connections and never says HELLO (or never finishes authenticating)
/// cannot hold them open. A session that joined cancelled the timer.
pub fn join_timed_out(conn: &Weak<Link>) {
    let Some(conn) = conn.upgrade() else {
        return;
    };
    let mut deadlines = conn.deadlines.get();
    deadlines.join = None;
    conn.deadlines.set(deadlines);
    if !conn.joined.get() && !conn.outbound.is_closing() {
        tracing::info!(peer = %conn.peer, "no session joined in time: connection closed");
        conn.abort();
    }
}

/// `Timeout::Idle` expired: a connection that neither sent nor received a
/// byte for `limits.idle_timeout_ms` is cut off, so forgotten connections
/// do not hold the router's memory and descriptors forever; one that did
/// is watched again for the rest of the timeout since its last byte.
pub fn idle_timed_out(core: &Core, weak: Weak<Link>) {
    let Some(conn) = weak.upgrade() else {
        return;
    };
    let mut deadlines = conn.deadlines.get();
    deadlines.idle = None;
    if conn.outbound.is_closing() {
        conn.deadlines.set(deadlines);
        return;
    }
    let timeout = Duration::from_millis(core.shared.limits.idle_timeout_ms);
    let idle = Duration::from_nanos(core.now().saturating_sub(conn.last_io.get()));
    if idle >= timeout {
        conn.deadlines.set(deadlines);
        tracing::info!(peer = %conn.peer, idle_timeout_ms = timeout.as_millis() as u64, "idle connection closed");
        conn.abort();
        return;
    }
    deadlines.idle = Some(core.set_timer(timeout - idle, Timeout::Idle(weak)));
    conn.deadlines.set(deadlines);
}

/// Shutdown: every joined session on `core` gets GOODBYE
/// `wamp.close.system_shutdown`, then its connection closes once flushed.
pub fn goodbye_all(core: &Core) {
    let sessions: Vec<Rc<SessionHandle>> = core.sessions.borrow().iter().cloned().collect();
    for session in sessions {
        goodbye_and_close(
            &session,
            Str::from_static(CloseReason::SystemShutdown.uri()),
            Dict::new(),
            ringbar_protocol::websocket::CloseCode::GOING_AWAY,
        );
    }
}

/// Tells the cluster link that session `id` joined `realm` (`joined`: as
/// the session meta API shows it) or left it (`None`), when the cluster
/// shares the realm (the session meta API then answers for the whole
/// cluster).
fn tell_cluster(core: &Core, realm: &Arc<Realm>, id: SessionId, joined: Option<&RealmSession>) {
    let Some(link) = core.shared.cluster_link(realm) else {
        return;
    };
    let change = SessionChange {
        realm: realm.clone(),
        session: id,
        joined: joined.cloned(),
    };
    if let Err(e) = core.send_mail(link, Mail::Session(Box::new(change))) {
        tracing::error!(core = core.id, error = %e, "session not told to the cluster link");
    }
}

/// The `wamp.session.kill*` meta procedures, on the killed session's core:
/// GOODBYE with `reason` (and `details.message`), then the connection
/// closes and the session leaves as any other.
pub fn kill_local(core: &Core, id: SessionId, reason: &Str, message: Option<&str>) {
    let found = core.sessions.borrow().find(id).cloned();
    let Some(session) = found else {
        return;
    };
    let details: Dict = message
        .map(|m| ("message", Value::from(m)))
        .into_iter()
        .collect();
    tracing::info!(session = id.get(), reason = %reason, "session killed");
    goodbye_and_close(
        &session,
        reason.clone(),
        details,
        ringbar_protocol::websocket::CloseCode::NORMAL_CLOSURE,
    );
}

/// Sends GOODBYE, then closes the connection once it is flushed.
fn goodbye_and_close(
    session: &SessionHandle,
    reason: Str,
    details: Dict,
    code: ringbar_protocol::websocket::CloseCode,
) {
    session.send(&Message::Goodbye(Goodbye { details, reason }));
    if session.wire.framing == crate::wire::Framing::WebSocket {
        session.conn.close_websocket(code, "");
    }
    session.conn.outbound.close();
}
