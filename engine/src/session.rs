//! A WAMP session on one connection: opening (HELLO → WELCOME or ABORT),
//! routing the messages of an open session, and closing (GOODBYE both ways,
//! or the connection going away).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::{
    Abort, Error, Goodbye, Hello, Message, MessageType, Payload, Welcome,
};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::authorize::{DecisionCache, Role};
use crate::broker;
use crate::config::AuthConfig;
use crate::core::{Core, CoreFigures, SessionKey};
use crate::dealer::{self, PeerFeatures};
use crate::realm::Realm;
use crate::transport::Connection;
use crate::wire::Wire;

/// Who a session is.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) session: SessionId,
    pub(crate) authid: Str,
    pub(crate) authrole: Str,
}

/// A joined session, as its core's tables refer to it.
pub(crate) struct SessionHandle {
    pub(crate) identity: Identity,
    pub(crate) realm: Arc<Realm>,
    pub(crate) role: Arc<Role>,
    pub(crate) wire: Wire,
    pub(crate) conn: Rc<Connection>,
    pub(crate) decisions: RefCell<DecisionCache>,
    /// The subscriptions this session holds.
    pub(crate) subscriptions: RefCell<Vec<SubscriptionId>>,
    /// What its HELLO announced that the dealer acts on.
    pub(crate) features: PeerFeatures,
}

impl SessionHandle {
    /// Queues `message` for this session.
    pub(crate) fn send(&self, message: &Message) {
        send(&self.conn, self.wire, message);
    }

    /// Queues an ERROR answering request `request` of type `request_type`.
    pub(crate) fn send_error(
        &self,
        request_type: MessageType,
        request: RequestId,
        error: &'static str,
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
pub(crate) fn send(conn: &Connection, wire: Wire, message: &Message) {
    match wire.frame(message) {
        Ok(frame) if conn.accepts(&frame) => conn.outbound.push(frame),
        Ok(frame) => tracing::debug!(
            peer = %conn.peer,
            bytes = frame.len(),
            "message longer than the peer accepts: not sent"
        ),
        Err(e) => tracing::debug!(error = %e, "message dropped: cannot encode"),
    }
}

/// An ERROR message with a human-readable reason as its only argument.
pub(crate) fn error_message(
    serializer: Serializer,
    request_type: MessageType,
    request: RequestId,
    error: &'static str,
    text: &str,
) -> Message {
    Message::Error(Error {
        request_type: request_type.code(),
        request,
        details: Dict::new(),
        error: Str::from_static(error),
        payload: Payload::from_values(serializer, &[Value::from(text)], None).unwrap_or_default(),
    })
}

/// Whether the connection goes on after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
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
    /// Joined.
    Open {
        handle: Rc<SessionHandle>,
        key: SessionKey,
    },
    /// Done (GOODBYE, ABORT, or the connection is going).
    Closed,
}

/// Drives the session of one connection.
pub(crate) struct SessionDriver {
    core: Rc<Core>,
    conn: Rc<Connection>,
    wire: Wire,
    auth: AuthConfig,
    state: State,
}

/// The broker features ringbar implements, announced in WELCOME.
const BROKER_FEATURES: &[&str] = &[
    "publisher_identification",
    "publisher_exclusion",
    "subscriber_blackwhite_listing",
    "pattern_based_subscription",
    "event_retention",
    "payload_passthru_mode",
];

impl SessionDriver {
    /// A session on `conn`, not yet joined.
    pub(crate) fn new(core: Rc<Core>, conn: Rc<Connection>, wire: Wire, auth: AuthConfig) -> Self {
        Self {
            core,
            conn,
            wire,
            auth,
            state: State::Opening,
        }
    }

    /// Handles one WAMP message.
    pub(crate) fn on_message(&mut self, bytes: Bytes) -> Flow {
        CoreFigures::count(&self.core.figures().messages_in);
        match self.route(bytes) {
            Flow::Violation(text) => self.protocol_violation(&text),
            flow => flow,
        }
    }

    fn route(&mut self, bytes: Bytes) -> Flow {
        let message = match codec::decode(self.wire.serializer, bytes) {
            Ok(m) => m,
            Err(e) => return self.protocol_violation(&e.to_string()),
        };
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
            State::Open { handle, .. } => handle.clone(),
            State::Closed => return Flow::Close,
        };
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
                        reason: Str::from_static("wamp.close.goodbye_and_out"),
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

    /// The connection is gone (or going): the session leaves.
    pub(crate) fn on_close(&mut self) {
        self.leave("connection closed");
    }

    fn hello(&mut self, hello: Hello) -> Flow {
        let Some(realm) = self.core.shared.realms.get(hello.realm.as_str()).cloned() else {
            return self.abort(
                "wamp.error.no_such_realm",
                &format!("no realm '{}' on this router", hello.realm),
            );
        };
        let offered = hello.details.get("authmethods").and_then(Value::as_list);
        let anonymous_ok =
            offered.is_none_or(|m| m.iter().any(|v| v.as_str() == Some("anonymous")));
        let Some(role_name) = self.auth.anonymous_role.clone().filter(|_| anonymous_ok) else {
            return self.abort(
                "wamp.error.no_auth_method",
                "no authentication method offered is accepted on this transport",
            );
        };
        let Some(role) = realm.role(&role_name) else {
            return self.abort(
                "wamp.error.no_such_role",
                &format!(
                    "role '{role_name}' is not defined on realm '{}'",
                    realm.name
                ),
            );
        };
        let id = self
            .core
            .shared
            .claim_session_id(&mut self.core.ids.borrow_mut());
        let authid = match hello.details.get("authid").and_then(Value::as_str) {
            Some(a) => Str::from(a),
            None => Str::from(random_authid(&mut self.core.ids.borrow_mut())),
        };
        let identity = Identity {
            session: id,
            authid: authid.clone(),
            authrole: Str::from(role_name.as_str()),
        };
        let handle = Rc::new(SessionHandle {
            identity,
            realm: realm.clone(),
            role,
            wire: self.wire,
            conn: self.conn.clone(),
            decisions: RefCell::new(DecisionCache::default()),
            subscriptions: RefCell::new(Vec::new()),
            features: PeerFeatures::from_hello(&hello.details),
        });
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
            ("authid", Value::from(authid.as_str())),
            ("authrole", Value::from(role_name.as_str())),
            ("authmethod", Value::from("anonymous")),
            ("authprovider", Value::from("static")),
            ("roles", Value::Dict(roles)),
        ]
        .into_iter()
        .collect();
        handle.send(&Message::Welcome(Welcome {
            session: id,
            details,
        }));
        let key = self.core.add_session(handle.clone());
        tracing::info!(
            session = id.get(),
            realm = %realm.name,
            core = self.core.id,
            authrole = %role_name,
            peer = %self.conn.peer,
            "session joined"
        );
        self.state = State::Open { handle, key };
        Flow::Continue
    }

    fn abort(&mut self, reason: &'static str, text: &str) -> Flow {
        let details: Dict = [("message", Value::from(text))].into_iter().collect();
        send(
            &self.conn,
            self.wire,
            &Message::Abort(Abort {
                details,
                reason: Str::from_static(reason),
            }),
        );
        tracing::info!(peer = %self.conn.peer, core = self.core.id, reason, message = text, "session refused");
        self.leave(reason);
        Flow::Close
    }

    /// ABORT with `wamp.error.protocol_violation`, and close.
    pub(crate) fn protocol_violation(&mut self, text: &str) -> Flow {
        self.abort("wamp.error.protocol_violation", text)
    }

    fn leave(&mut self, why: &str) {
        if let State::Open { handle, key } = std::mem::replace(&mut self.state, State::Closed) {
            broker::remove_session(&self.core, &handle);
            dealer::remove_caller(&self.core, &handle);
            dealer::remove_callee(&self.core, &handle);
            self.core.remove_session(key);
            self.core.shared.release_session_id(handle.identity.session);
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

/// An authid for an anonymous session that brought none, in Crossbar.io's
/// style (six groups of four characters).
fn random_authid(ids: &mut crate::ids::IdGenerator) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(29);
    for group in 0..6 {
        if group > 0 {
            out.push('-');
        }
        let mut bits = ids.next();
        for _ in 0..4 {
            out.push(char::from(ALPHABET[(bits % 32) as usize]));
            bits /= 32;
        }
    }
    out
}

/// Shutdown: every joined session on `core` gets GOODBYE
/// `wamp.close.system_shutdown`, then its connection closes once flushed.
pub(crate) fn goodbye_all(core: &Core) {
    let sessions: Vec<Rc<SessionHandle>> = core.sessions.borrow().values().cloned().collect();
    for session in sessions {
        session.send(&Message::Goodbye(Goodbye {
            details: Dict::new(),
            reason: Str::from_static("wamp.close.system_shutdown"),
        }));
        if session.wire.framing == crate::wire::Framing::WebSocket {
            crate::transport::websocket_close(
                &session.conn,
                ringbar_protocol::websocket::CloseCode::GOING_AWAY,
            );
        }
        session.conn.outbound.close();
    }
}
