//! The WAMP messages of the basic and advanced profiles.
//!
//! Message fields carry the spec's names and are documented by the layout
//! line on each struct, hence no doc comment per field.
//!
//! Each message is a struct named as in the spec; [`Message`] is their sum.
//! Ids are typed ([`crate::id`]), `Details`/`Options` are [`Dict`]s, URIs are
//! [`Str`]s as received (the router validates them with [`crate::uri`], since
//! an invalid URI is answered with an ERROR, not a broken connection), and
//! the application payload is a [`Payload`] of raw encoded bytes.

#![allow(missing_docs)]

use bytes::Bytes;

use crate::codec::Serializer;
use crate::id::{PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId};
use crate::str::Str;
use crate::value::Dict;

/// The message type codes of the spec (the first element of every message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the spec's message of that name
pub enum MessageType {
    Hello = 1,
    Welcome = 2,
    Abort = 3,
    Challenge = 4,
    Authenticate = 5,
    Goodbye = 6,
    Error = 8,
    Publish = 16,
    Published = 17,
    Subscribe = 32,
    Subscribed = 33,
    Unsubscribe = 34,
    Unsubscribed = 35,
    Event = 36,
    EventReceived = 337,
    Call = 48,
    Cancel = 49,
    Result = 50,
    Register = 64,
    Registered = 65,
    Unregister = 66,
    Unregistered = 67,
    Invocation = 68,
    Interrupt = 69,
    Yield = 70,
}

impl MessageType {
    /// The type of code `code`, if the spec defines one.
    pub fn from_code(code: u64) -> Option<Self> {
        use MessageType::*;
        Some(match code {
            1 => Hello,
            2 => Welcome,
            3 => Abort,
            4 => Challenge,
            5 => Authenticate,
            6 => Goodbye,
            8 => Error,
            16 => Publish,
            17 => Published,
            32 => Subscribe,
            33 => Subscribed,
            34 => Unsubscribe,
            35 => Unsubscribed,
            36 => Event,
            337 => EventReceived,
            48 => Call,
            49 => Cancel,
            50 => Result,
            64 => Register,
            65 => Registered,
            66 => Unregister,
            67 => Unregistered,
            68 => Invocation,
            69 => Interrupt,
            70 => Yield,
            _ => return None,
        })
    }

    /// The code on the wire.
    pub fn code(self) -> u64 {
        self as u64
    }

    /// The spec's name, in capitals, for logs and errors.
    pub fn name(self) -> &'static str {
        use MessageType::*;
        match self {
            Hello => "HELLO",
            Welcome => "WELCOME",
            Abort => "ABORT",
            Challenge => "CHALLENGE",
            Authenticate => "AUTHENTICATE",
            Goodbye => "GOODBYE",
            Error => "ERROR",
            Publish => "PUBLISH",
            Published => "PUBLISHED",
            Subscribe => "SUBSCRIBE",
            Subscribed => "SUBSCRIBED",
            Unsubscribe => "UNSUBSCRIBE",
            Unsubscribed => "UNSUBSCRIBED",
            Event => "EVENT",
            EventReceived => "EVENT_RECEIVED",
            Call => "CALL",
            Cancel => "CANCEL",
            Result => "RESULT",
            Register => "REGISTER",
            Registered => "REGISTERED",
            Unregister => "UNREGISTER",
            Unregistered => "UNREGISTERED",
            Invocation => "INVOCATION",
            Interrupt => "INTERRUPT",
            Yield => "YIELD",
        }
    }
}

/// An application payload, kept encoded.
///
/// The router never needs to look inside `Arguments`/`ArgumentsKw`: it
/// splices these bytes into the outgoing message when the receiver uses the
/// same serializer, and transcodes them once per serializer otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Payload {
    /// No payload elements.
    #[default]
    Empty,
    /// `Arguments|list` and optionally `ArgumentsKw|dict`, each the exact
    /// bytes of one encoded value in `serializer`.
    Arguments(Arguments),
    /// Payload passthru mode: one opaque binary element (e.g. end-to-end
    /// encrypted). MessagePack `bin`, CBOR byte string, JSON `"\u0000"+base64`.
    Transparent(Bytes),
}

/// Raw `Arguments` and `ArgumentsKw`, see [`Payload::Arguments`].
#[derive(Clone, Debug, PartialEq)]
pub struct Arguments {
    /// The serializer these bytes are encoded in.
    pub serializer: Serializer,
    /// One encoded list. When only keyword arguments were sent this is the
    /// peer's (empty) list, which the wire format requires before them.
    pub args: Bytes,
    /// One encoded dictionary, if present.
    pub kwargs: Option<Bytes>,
}

/// `[HELLO, Realm|uri, Details|dict]`: a client asks to join a realm.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub realm: Str,
    pub details: Dict,
}

/// `[WELCOME, Session|id, Details|dict]`: the router admits a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Welcome {
    pub session: SessionId,
    pub details: Dict,
}

/// `[ABORT, Details|dict, Reason|uri]`: a session's opening is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Abort {
    pub details: Dict,
    pub reason: Str,
}

/// `[CHALLENGE, AuthMethod|string, Extra|dict]`: the router asks for proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    pub authmethod: Str,
    pub extra: Dict,
}

/// `[AUTHENTICATE, Signature|string, Extra|dict]`: the client's proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Authenticate {
    pub signature: Str,
    pub extra: Dict,
}

/// `[GOODBYE, Details|dict, Reason|uri]`: a session closes.
#[derive(Clone, Debug, PartialEq)]
pub struct Goodbye {
    pub details: Dict,
    pub reason: Str,
}

/// `[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri,
/// Arguments|list, ArgumentsKw|dict]`: a request failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The code of the request's message type (kept as received: the router
    /// answers unknown ones with a protocol violation, not a decode error).
    pub request_type: u64,
    pub request: RequestId,
    pub details: Dict,
    pub error: Str,
    pub payload: Payload,
}

/// `[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list,
/// ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    pub request: RequestId,
    pub options: Dict,
    pub topic: Str,
    pub payload: Payload,
}

/// `[PUBLISHED, PUBLISH.Request|id, Publication|id]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub request: RequestId,
    pub publication: PublicationId,
}

/// `[SUBSCRIBE, Request|id, Options|dict, Topic|uri]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscribe {
    pub request: RequestId,
    pub options: Dict,
    pub topic: Str,
}

/// `[SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscribed {
    pub request: RequestId,
    pub subscription: SubscriptionId,
}

/// `[UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsubscribe {
    pub request: RequestId,
    pub subscription: SubscriptionId,
}

/// `[UNSUBSCRIBED, UNSUBSCRIBE.Request|id, Details|dict]`; the router sends
/// request 0 with `Details` when it revokes a subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsubscribed {
    pub request: RequestId,
    pub details: Option<Dict>,
}

/// `[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id,
/// Details|dict, PUBLISH.Arguments|list, PUBLISH.ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub subscription: SubscriptionId,
    pub publication: PublicationId,
    pub details: Dict,
    pub payload: Payload,
}

/// `[EVENT_RECEIVED, EVENT.Publication|id, Details|dict, Payload]`: a
/// subscriber acknowledges an event (acknowledged event delivery); the
/// details and payload are optional.
#[derive(Clone, Debug, PartialEq)]
pub struct EventReceived {
    pub publication: PublicationId,
    pub details: Option<Dict>,
    pub payload: Payload,
}

/// `[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list,
/// ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub request: RequestId,
    pub options: Dict,
    pub procedure: Str,
    pub payload: Payload,
}

/// `[CANCEL, CALL.Request|id, Options|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cancel {
    pub request: RequestId,
    pub options: Dict,
}

/// `[RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list,
/// YIELD.ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Result {
    pub request: RequestId,
    pub details: Dict,
    pub payload: Payload,
}

/// `[REGISTER, Request|id, Options|dict, Procedure|uri]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Register {
    pub request: RequestId,
    pub options: Dict,
    pub procedure: Str,
}

/// `[REGISTERED, REGISTER.Request|id, Registration|id]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    pub request: RequestId,
    pub registration: RegistrationId,
}

/// `[UNREGISTER, Request|id, REGISTERED.Registration|id]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Unregister {
    pub request: RequestId,
    pub registration: RegistrationId,
}

/// `[UNREGISTERED, UNREGISTER.Request|id, Details|dict]`; details only when
/// the router revokes a registration (request 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Unregistered {
    pub request: RequestId,
    pub details: Option<Dict>,
}

/// `[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict,
/// CALL.Arguments|list, CALL.ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub request: RequestId,
    pub registration: RegistrationId,
    pub details: Dict,
    pub payload: Payload,
}

/// `[INTERRUPT, INVOCATION.Request|id, Options|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Interrupt {
    pub request: RequestId,
    pub options: Dict,
}

/// `[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list,
/// ArgumentsKw|dict]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Yield {
    pub request: RequestId,
    pub options: Dict,
    pub payload: Payload,
}

/// Any WAMP message.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)] // each variant wraps the struct of the same name
pub enum Message {
    Hello(Hello),
    Welcome(Welcome),
    Abort(Abort),
    Challenge(Challenge),
    Authenticate(Authenticate),
    Goodbye(Goodbye),
    Error(Error),
    Publish(Publish),
    Published(Published),
    Subscribe(Subscribe),
    Subscribed(Subscribed),
    Unsubscribe(Unsubscribe),
    Unsubscribed(Unsubscribed),
    Event(Event),
    EventReceived(EventReceived),
    Call(Call),
    Cancel(Cancel),
    Result(Result),
    Register(Register),
    Registered(Registered),
    Unregister(Unregister),
    Unregistered(Unregistered),
    Invocation(Invocation),
    Interrupt(Interrupt),
    Yield(Yield),
}

impl Message {
    /// This message's type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Hello(_) => MessageType::Hello,
            Message::Welcome(_) => MessageType::Welcome,
            Message::Abort(_) => MessageType::Abort,
            Message::Challenge(_) => MessageType::Challenge,
            Message::Authenticate(_) => MessageType::Authenticate,
            Message::Goodbye(_) => MessageType::Goodbye,
            Message::Error(_) => MessageType::Error,
            Message::Publish(_) => MessageType::Publish,
            Message::Published(_) => MessageType::Published,
            Message::Subscribe(_) => MessageType::Subscribe,
            Message::Subscribed(_) => MessageType::Subscribed,
            Message::Unsubscribe(_) => MessageType::Unsubscribe,
            Message::Unsubscribed(_) => MessageType::Unsubscribed,
            Message::Event(_) => MessageType::Event,
            Message::EventReceived(_) => MessageType::EventReceived,
            Message::Call(_) => MessageType::Call,
            Message::Cancel(_) => MessageType::Cancel,
            Message::Result(_) => MessageType::Result,
            Message::Register(_) => MessageType::Register,
            Message::Registered(_) => MessageType::Registered,
            Message::Unregister(_) => MessageType::Unregister,
            Message::Unregistered(_) => MessageType::Unregistered,
            Message::Invocation(_) => MessageType::Invocation,
            Message::Interrupt(_) => MessageType::Interrupt,
            Message::Yield(_) => MessageType::Yield,
        }
    }
}
