//! The callee's side: INVOCATION to a callee on this core, INTERRUPT, the
//! callee's YIELD and ERROR, and a callee that leaves.

use std::rc::Rc;

use crate::error::RoutingError;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{RequestId, SessionId};
use ringbar_protocol::message::{
    Error, Interrupt as InterruptMessage, Invocation, Message, MessageType, Payload, Yield,
};
use ringbar_protocol::options::YieldOptions;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use super::calls::{Answer, CallKey, CancelMode, Interrupt, Invoke, Outcome, PendingInvocation};
use crate::core::Core;
use crate::core::mail::Mail;
use crate::core::meta;
use crate::core::session::{Flow, SessionHandle};
use crate::local::in_flight::InvocationKey;

/// Hands `answer` to the caller's core.
fn send_answer(core: &Core, caller_core: usize, answer: Answer) {
    if caller_core == core.id {
        super::deliver_answer(core, answer);
    } else if let Err(e) = core.send_mail(caller_core, Mail::Answer(Box::new(answer))) {
        tracing::error!(core = core.id, error = %e, "answer dropped: the call names an unknown caller core");
    }
}

/// The dealer's own ERROR for call `call`, with a reason as its argument.
pub(crate) fn error_answer(call: CallKey, serial: u64, error: RoutingError, text: &str) -> Answer {
    Answer {
        call,
        serial,
        outcome: Outcome::Error(Str::from_static(error.uri())),
        details: Dict::new(),
        payload: Payload::from_values(Serializer::Json, &[Value::from(text)], None)
            .unwrap_or_default(),
    }
}

/// Refuses `invoke`: the caller gets `error`.
fn refuse(core: &Core, invoke: &Invoke, error: RoutingError, text: &str) {
    send_answer(
        core,
        invoke.caller_core,
        error_answer(invoke.call, invoke.serial, error, text),
    );
}

/// Sends the INVOCATION of `invoke` to its callee on this core.
pub fn invoke(core: &Core, invoke: Invoke) {
    if invoke.continuation {
        return invoke_again(core, invoke);
    }
    let (request, handle) = match take_request(core, invoke.callee) {
        Ok(taken) => taken,
        Err((error, text)) => return refuse(core, &invoke, error, &text),
    };
    let progressive_details = invoke
        .details
        .get("progress")
        .is_some()
        .then(|| invoke.details.clone());
    core.dealer.invocations.borrow_mut().insert(
        (invoke.callee, request),
        PendingInvocation {
            call: invoke.call,
            serial: invoke.serial,
            caller_core: invoke.caller_core,
            interruptible: handle.features.call_canceling,
            killed: false,
            progressive_details,
        },
    );
    handle.send(&Message::Invocation(Invocation {
        request,
        registration: invoke.registration,
        details: invoke.details,
        payload: invoke.payload,
    }));
}

/// The next INVOCATION request id of `callee`, counted in flight, and its
/// session; or why it takes no more now.
fn take_request(
    core: &Core,
    callee: SessionId,
) -> Result<(RequestId, Rc<SessionHandle>), (RoutingError, String)> {
    let left = || {
        (
            RoutingError::Canceled,
            "the callee left before the call reached it".to_owned(),
        )
    };
    let mut callees = core.dealer.callees.borrow_mut();
    let found = callees.get_mut(callee).ok_or_else(left)?;
    let session = core.session(found.key()).ok_or_else(left)?;
    let in_flight = found.in_flight();
    let queued = session.conn.outbound.queued_bytes();
    if in_flight >= core.shared.limits.max_invocations_per_callee
        || queued >= core.shared.flow.max_queued_bytes
    {
        let refused = found.refuse();
        drop(callees);
        if refused.is_power_of_two() {
            tracing::warn!(
                session = callee.get(),
                refused,
                in_flight,
                queued_bytes = queued,
                "overloaded callee: calls refused"
            );
        }
        return Err((
            RoutingError::Unavailable,
            format!(
                "the callee is overloaded ({in_flight} invocations in flight, {queued} bytes queued): retry later or register more callees"
            ),
        ));
    }
    let request = found.take_request().ok_or_else(left)?;
    Ok((request, session))
}

/// One more part of a progressive call, to the invocation serving it:
/// its details are the first part's, with this part's `progress`.
fn invoke_again(core: &Core, invoke: Invoke) {
    let Some((callee, request)) = core.dealer.invocations.borrow().of_call(&invoke.call) else {
        return;
    };
    let more = invoke.details.get("progress").is_some();
    let details = {
        let mut invocations = core.dealer.invocations.borrow_mut();
        match invocations.get_mut(&(callee, request)) {
            Some(i) if i.serial == invoke.serial => {
                let first = if more {
                    i.progressive_details.clone()
                } else {
                    i.progressive_details.take()
                };
                let mut details = first.unwrap_or_default();
                if !more {
                    details.remove("progress");
                }
                details
            }
            _ => return,
        }
    };
    let handle = core
        .dealer
        .callees
        .borrow()
        .key(callee)
        .and_then(|key| core.session(key));
    if let Some(handle) = handle {
        handle.send(&Message::Invocation(Invocation {
            request,
            registration: invoke.registration,
            details,
            payload: invoke.payload,
        }));
    }
}

/// The caller's side ended a call early: INTERRUPT the callee when it
/// handles that, else behave as `skip`.
pub fn interrupt(core: &Core, interrupt: Interrupt) {
    let Some(key) = core.dealer.invocations.borrow().of_call(&interrupt.call) else {
        return;
    };
    let (interruptible, caller_core) = {
        let mut invocations = core.dealer.invocations.borrow_mut();
        match invocations.get_mut(&key) {
            Some(i) if i.serial == interrupt.serial && !i.killed => {
                i.killed = interrupt.mode == CancelMode::Kill;
                (i.interruptible, i.caller_core)
            }
            _ => return,
        }
    };
    if !interruptible {
        if interrupt.mode == CancelMode::Kill {
            // The caller waits for an answer the callee cannot be asked
            // for: it gets one now, and the callee's later one is dropped.
            send_answer(
                core,
                caller_core,
                error_answer(
                    interrupt.call,
                    interrupt.serial,
                    interrupt.reason,
                    "call canceled; the callee does not handle INTERRUPT",
                ),
            );
        }
        return;
    }
    let handle = core
        .dealer
        .callees
        .borrow()
        .key(key.0)
        .and_then(|key| core.session(key));
    if interrupt.mode == CancelMode::KillNoWait {
        end_invocation(core, key);
    }
    if let Some(handle) = handle {
        let options: Dict = [
            ("mode", Value::from(interrupt.mode.as_str())),
            ("reason", Value::from(interrupt.reason.uri())),
        ]
        .into_iter()
        .collect();
        handle.send(&Message::Interrupt(InterruptMessage {
            request: key.1,
            options,
        }));
    }
}

/// Ends invocation `key` on this core (its callee counts one fewer in
/// flight); returns it.
fn end_invocation(core: &Core, key: InvocationKey) -> Option<PendingInvocation> {
    let invocation = core.dealer.invocations.borrow_mut().remove(&key)?;
    core.dealer.callees.borrow_mut().invocation_ended(key.0);
    Some(invocation)
}

/// YIELD: a (progressive or final) result goes to the caller's core. A
/// YIELD for an unknown invocation (canceled, timed out, or never made) is
/// ignored.
pub fn yield_(core: &Core, session: &SessionHandle, y: Yield) -> Flow {
    let key = (session.identity.session, y.request);
    let options = match YieldOptions::from_dict(&y.options) {
        Ok(o) => o,
        Err(e) => return Flow::Violation(e.to_string()),
    };
    let progress = options.progress;
    let found = if progress {
        core.dealer
            .invocations
            .borrow()
            .get(&key)
            .map(|i| (i.call, i.serial, i.caller_core))
    } else {
        end_invocation(core, key).map(|i| (i.call, i.serial, i.caller_core))
    };
    let Some((call, serial, caller_core)) = found else {
        tracing::trace!(
            session = session.identity.session.get(),
            request = y.request.get(),
            "YIELD for no invocation in flight: ignored"
        );
        return Flow::Continue;
    };
    send_answer(
        core,
        caller_core,
        Answer {
            call,
            serial,
            outcome: Outcome::Result { progress },
            details: options
                .passthru
                .map(|ppt| {
                    let mut details = Dict::new();
                    ppt.insert_into(&mut details);
                    details
                })
                .unwrap_or_default(),
            payload: y.payload,
        },
    );
    Flow::Continue
}

/// ERROR from a client: only an INVOCATION may be answered with one. The
/// error's URI, details and payload go to the caller unchanged.
pub fn callee_error(core: &Core, session: &SessionHandle, error: Error) -> Flow {
    if error.request_type != MessageType::Invocation.code() {
        return Flow::Violation(format!(
            "ERROR for message type {}: a client sends ERROR only for an INVOCATION",
            error.request_type
        ));
    }
    let Some(invocation) = end_invocation(core, (session.identity.session, error.request)) else {
        return Flow::Continue;
    };
    send_answer(
        core,
        invocation.caller_core,
        Answer {
            call: invocation.call,
            serial: invocation.serial,
            outcome: Outcome::Error(error.error),
            details: error.details,
            payload: error.payload,
        },
    );
    Flow::Continue
}

/// A callee leaves: its registrations go, and the callers of its
/// invocations in flight get `wamp.error.canceled`.
pub fn remove_callee(core: &Core, session: &SessionHandle) {
    let me = session.identity.session;
    let Some(registrations) = core.dealer.callees.borrow_mut().remove_session(me) else {
        return;
    };
    for id in &registrations {
        super::register::leave_in_cluster(core, &session.realm, *id, me);
        if let Some(deleted) = session.realm.registrations.unregister(*id, me) {
            meta::unregistered(core, &session.realm, me, *id, deleted);
        }
    }
    let keys = core.dealer.invocations.borrow().of_callee(me);
    for key in keys {
        if let Some(invocation) = end_invocation(core, key) {
            send_answer(
                core,
                invocation.caller_core,
                error_answer(
                    invocation.call,
                    invocation.serial,
                    RoutingError::Canceled,
                    "the callee left before answering",
                ),
            );
        }
    }
}
