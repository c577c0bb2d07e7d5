//! Meta events: what the router itself publishes when
//! sessions join and leave and when subscriptions change, in the shapes of
//! the WAMP spec (Session and Subscription Meta API).
//!
//! Meta events go to the realm where the change happened. Subscriptions to
//! `wamp.*` topics raise no subscription meta events themselves, as in
//! Crossbar.io, so that watching the meta API does not feed it.

use std::sync::Arc;

use crate::tables::registrations::Registration;
use crate::tables::subscriptions::Subscription;
use ringbar_protocol::id::{RegistrationId, SessionId, SubscriptionId};
use ringbar_protocol::value::{Dict, Value};

use crate::core::Core;
use crate::core::broker::publish_meta;
use crate::core::realm::Realm;
use crate::core::session::SessionHandle;
use crate::local::peer::Peer;
use crate::wire::Framing;

/// The prefix of URIs reserved for WAMP itself.
pub const WAMP_PREFIX: &str = "wamp.";

/// A subscription's meta API description (`SubscriptionDetails`).
pub(super) fn subscription_details(subscription: &Subscription) -> Value {
    let details: Dict = [
        ("id", Value::UInt(subscription.id.get())),
        (
            "created",
            Value::from(humantime::format_rfc3339_millis(subscription.created).to_string()),
        ),
        ("uri", Value::from(subscription.pattern.uri())),
        ("match", Value::from(subscription.pattern.policy().as_str())),
    ]
    .into_iter()
    .collect();
    Value::Dict(details)
}

/// A session joined `subscription` (and created it, when `created`):
/// `wamp.subscription.on_create` then `wamp.subscription.on_subscribe`.
pub fn subscribed(
    core: &Core,
    realm: &Arc<Realm>,
    session: SessionId,
    subscription: &Subscription,
    created: bool,
) {
    if subscription.pattern.uri().starts_with(WAMP_PREFIX) {
        return;
    }
    let session = Value::UInt(session.get());
    if created {
        publish_meta(
            core,
            realm,
            "wamp.subscription.on_create",
            &[session.clone(), subscription_details(subscription)],
        );
    }
    publish_meta(
        core,
        realm,
        "wamp.subscription.on_subscribe",
        &[session, Value::UInt(subscription.id.get())],
    );
}

/// A session left subscription `id` of topic `uri` (and it was deleted,
/// when `deleted`): `wamp.subscription.on_unsubscribe` then
/// `wamp.subscription.on_delete`.
pub fn unsubscribed(
    core: &Core,
    realm: &Arc<Realm>,
    session: SessionId,
    id: SubscriptionId,
    uri: &str,
    deleted: bool,
) {
    if uri.starts_with(WAMP_PREFIX) {
        return;
    }
    let args = [Value::UInt(session.get()), Value::UInt(id.get())];
    publish_meta(core, realm, "wamp.subscription.on_unsubscribe", &args);
    if deleted {
        publish_meta(core, realm, "wamp.subscription.on_delete", &args);
    }
}

/// A session's meta API description (`wamp.session.on_join`, and later
/// `wamp.session.get`), in the keys of Autobahn's `SessionDetails`.
pub fn session_details(session: &SessionHandle, authmethod: &str, authprovider: &str) -> Value {
    let framing = match session.wire.framing {
        Framing::WebSocket => "websocket",
        Framing::RawSocket => "rawsocket",
    };
    let (channel_type, peer) = match &session.conn.peer {
        Peer::Tcp(addr) => ("tcp", format!("tcp:{addr}")),
        Peer::Unix => ("unix", "unix".to_owned()),
    };
    let transport: Dict = [
        ("channel_type", Value::from(channel_type)),
        ("channel_framing", Value::from(framing)),
        (
            "channel_serializer",
            Value::from(session.wire.serializer.name()),
        ),
        ("peer", Value::from(peer)),
        ("is_server", Value::Bool(true)),
    ]
    .into_iter()
    .collect();
    let identity = &session.identity;
    let details: Dict = [
        ("realm", Value::from(session.realm.name.as_str())),
        ("session", Value::UInt(identity.session.get())),
        ("authid", Value::from(identity.authid.as_str())),
        ("authrole", Value::from(identity.authrole.as_str())),
        ("authmethod", Value::from(authmethod)),
        ("authprovider", Value::from(authprovider)),
        ("authextra", Value::Dict(Dict::new())),
        ("serializer", Value::from(session.wire.serializer.name())),
        ("transport", Value::Dict(transport)),
        ("resumed", Value::Bool(false)),
        ("resumable", Value::Bool(false)),
        ("resume_token", Value::Null),
    ]
    .into_iter()
    .collect();
    Value::Dict(details)
}

/// `wamp.session.on_join`: a session joined its realm; `details` are its
/// [`session_details`].
pub fn session_joined(core: &Core, session: &SessionHandle, details: Value) {
    publish_meta(core, &session.realm, "wamp.session.on_join", &[details]);
}

/// `wamp.session.on_leave`: a session left its realm (or its connection
/// went away), with its id, authid and authrole as the spec says.
pub fn session_left(core: &Core, session: &SessionHandle) {
    let identity = &session.identity;
    publish_meta(
        core,
        &session.realm,
        "wamp.session.on_leave",
        &[
            Value::UInt(identity.session.get()),
            Value::from(identity.authid.as_str()),
            Value::from(identity.authrole.as_str()),
        ],
    );
}

/// A registration's meta API description (`RegistrationDetails`).
pub(super) fn registration_details(registration: &Registration) -> Value {
    let details: Dict = [
        ("id", Value::UInt(registration.id.get())),
        (
            "created",
            Value::from(humantime::format_rfc3339_millis(registration.created).to_string()),
        ),
        ("uri", Value::from(registration.pattern.uri())),
        ("match", Value::from(registration.pattern.policy().as_str())),
        ("invoke", Value::from(registration.invoke.as_str())),
    ]
    .into_iter()
    .collect();
    Value::Dict(details)
}

/// A callee joined `registration` (and created it, when `created`):
/// `wamp.registration.on_create` then `wamp.registration.on_register`.
pub fn registered(
    core: &Core,
    realm: &Arc<Realm>,
    session: SessionId,
    registration: &Registration,
    created: bool,
) {
    let session = Value::UInt(session.get());
    if created {
        publish_meta(
            core,
            realm,
            "wamp.registration.on_create",
            &[session.clone(), registration_details(registration)],
        );
    }
    publish_meta(
        core,
        realm,
        "wamp.registration.on_register",
        &[session, Value::UInt(registration.id.get())],
    );
}

/// A callee left registration `id` (and it was deleted, when `deleted`):
/// `wamp.registration.on_unregister` then `wamp.registration.on_delete`.
pub fn unregistered(
    core: &Core,
    realm: &Arc<Realm>,
    session: SessionId,
    id: RegistrationId,
    deleted: bool,
) {
    let args = [Value::UInt(session.get()), Value::UInt(id.get())];
    publish_meta(core, realm, "wamp.registration.on_unregister", &args);
    if deleted {
        publish_meta(core, realm, "wamp.registration.on_delete", &args);
    }
}
