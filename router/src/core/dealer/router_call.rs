//! Calls the router makes itself, to a dynamic authenticator or authorizer:
//! routed like a client's CALL to a callee on any core, with the same
//! bounds (per-caller limit, callee overload, a timeout), but the final
//! answer goes to a continuation rather than to a session: the dealer
//! waits for nothing (a session that asked resumes when the continuation
//! hands it the answer; the REST bridge's caller task awaits it).

use std::rc::Rc;
use std::time::Duration;

use crate::error::{RouterCallFailure, RouterCallResult, RoutingError};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{MAX_ID, RequestId, SessionId};
use ringbar_protocol::message::Payload;
use ringbar_protocol::uri::MatchPolicy;
use ringbar_protocol::value::{Dict, Value};

use super::call::start_call;
use super::calls::{CallKey, Caller, OnAnswer, PendingCall, RouterAnswer};
use crate::core::Core;
use crate::core::realm::Realm;
use crate::core::session::Identity;
use crate::core::timeout::Timeout;

/// The arguments of a call the router makes as a payload.
pub(super) fn router_call_payload(args: &[Value]) -> Result<Payload, RouterCallFailure> {
    Payload::from_values(Serializer::Json, args, None)
        .map_err(|e| RouterCallFailure::routing(RoutingError::InvalidArgument, &e.to_string()))
}

/// The final answer to a call the router made, as values: the RESULT's
/// arguments, or the ERROR with its first argument as text.
pub(super) fn answer_values(answer: RouterAnswer) -> Result<RouterCallResult, RouterCallFailure> {
    match answer {
        Ok(payload) => decode(&payload)
            .map_err(|text| RouterCallFailure::routing(RoutingError::InvalidArgument, &text)),
        Err((error, payload)) => Err(RouterCallFailure::Error {
            error,
            message: decode(&payload)
                .ok()
                .and_then(|(args, _)| args.into_iter().next())
                .map(|first| match first {
                    Value::Str(text) => text,
                    other => format!("{other:?}"),
                }),
        }),
    }
}

/// Who the router calls as: a session id claimed for the call, and the
/// identity a callee is shown when the caller is disclosed (the REST
/// bridge's caller acts as a session of its role).
pub struct RouterCaller<'a> {
    /// The caller id, unique router-wide.
    pub session: SessionId,
    /// Shown to the callee when `Some((identity, disclose))` and either
    /// the role discloses callers or the callee asked to see them.
    pub disclosed: Option<(&'a Identity, bool)>,
}

/// Calls `procedure` on `realm` as `caller` with `payload`; `on_answer`
/// gets the RESULT's payload or the ERROR (the dealer's own when the call
/// ends otherwise: `timeout` passed, the callee left), once, on this core.
/// `Err` when the call could not be made (`on_answer` is then dropped
/// unrun).
pub fn start_router_call(
    core: &Rc<Core>,
    realm: &Realm,
    caller: RouterCaller<'_>,
    procedure: &str,
    payload: Payload,
    timeout: Duration,
    on_answer: OnAnswer,
) -> Result<(), RouterCallFailure> {
    let snapshot = realm.registrations.snapshot();
    let Some(registration) = snapshot.best_match(procedure) else {
        return Err(RouterCallFailure::NoCallee);
    };
    let Some(callee) = registration
        .pick(|| core.ids.borrow_mut().next_id())
        .copied()
    else {
        return Err(RouterCallFailure::NoCallee);
    };
    let in_flight = core.dealer.calls.borrow().in_flight(caller.session);
    if in_flight >= core.shared.limits.max_calls_per_caller {
        return Err(RouterCallFailure::routing(
            RoutingError::Unavailable,
            "too many router calls in flight",
        ));
    }
    let serial = core.dealer.next_serial();
    let key = CallKey {
        caller: caller.session,
        request: RequestId::new(serial % MAX_ID + 1).unwrap_or_default(),
    };
    let mut details = Dict::new();
    if registration.pattern.policy() != MatchPolicy::Exact {
        details.insert("procedure", procedure);
    }
    if let Some((identity, disclose)) = caller.disclosed
        && (disclose || callee.disclose_caller)
    {
        details.insert("caller", Value::UInt(identity.session.get()));
        details.insert("caller_authid", identity.authid.as_str());
        details.insert("caller_authrole", identity.authrole.as_str());
    }
    let timer = core.set_timer(timeout, Timeout::Call { key, serial });
    start_call(
        core,
        key,
        PendingCall {
            caller: Caller::Router(Some(on_answer)),
            serial,
            callee_core: callee.core,
            callee: callee.session,
            registration: registration.id,
            timer: Some(timer),
            receive_progress: false,
            progressive: false,
        },
        details,
        payload,
    );
    Ok(())
}

/// Calls `procedure` on `realm` as the router, caller id `caller` (an id
/// claimed for it, unique router-wide), with `args`; `answered` gets the
/// RESULT's arguments or why there are none exactly once: when the answer
/// comes (at most `timeout` later), or at once when the call cannot be
/// made.
pub fn ask_as_router(
    core: &Rc<Core>,
    realm: &Realm,
    caller: SessionId,
    procedure: &str,
    args: &[Value],
    timeout: Duration,
    answered: impl FnOnce(Result<RouterCallResult, RouterCallFailure>) + 'static,
) {
    let payload = match router_call_payload(args) {
        Ok(payload) => payload,
        Err(failure) => return answered(Err(failure)),
    };
    let answered = Rc::new(std::cell::Cell::new(Some(answered)));
    let on_answer = {
        let answered = answered.clone();
        Box::new(move |answer| {
            if let Some(answered) = answered.take() {
                answered(answer_values(answer));
            }
        })
    };
    let caller = RouterCaller {
        session: caller,
        disclosed: None,
    };
    if let Err(failure) =
        start_router_call(core, realm, caller, procedure, payload, timeout, on_answer)
        && let Some(answered) = answered.take()
    {
        answered(Err(failure));
    }
}

/// A payload as values.
fn decode(payload: &Payload) -> Result<RouterCallResult, String> {
    crate::core::session::decode_arguments(payload)
}
