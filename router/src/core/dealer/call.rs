//! The caller's side: CALL (new, or one more part of a progressive call),
//! CANCEL, the dealer's call timeout, answers coming back from the callee's
//! core, and a caller that leaves.

use std::rc::Rc;
use std::time::Duration;

use crate::error::RoutingError;
use ringbar_protocol::message::{
    Call, Cancel, Error, Message, MessageType, Payload, Result as CallResult,
};
use ringbar_protocol::options::CallOptions;
use ringbar_protocol::uri::{MatchPolicy, Uri};
use ringbar_protocol::value::{Dict, Value};

use super::calls::{Answer, CallKey, Caller, CancelMode, Interrupt, Invoke, Outcome, PendingCall};
use crate::authorize::Action;
use crate::core::Core;
use crate::core::mail::Mail;
use crate::core::meta;
use crate::core::session::{Flow, SessionHandle};
use crate::core::timeout::Timeout;

/// CALL: route a new call to a callee, or pass on one more part of a
/// progressive call.
pub fn call(core: &Rc<Core>, session: &Rc<SessionHandle>, call: Call) -> Flow {
    let options = match CallOptions::from_dict(&call.options) {
        Ok(o) => o,
        Err(e) => return Flow::Violation(e.to_string()),
    };
    let key = CallKey {
        caller: session.identity.session,
        request: call.request,
    };
    if let Some(flow) = continue_progressive(core, key, &options, &call) {
        return flow;
    }
    if options.progress && !session.features.caller_progressive_invocations {
        return Flow::Violation(
            "CALL with progress from a caller that did not announce progressive_call_invocations"
                .to_owned(),
        );
    }
    let refuse = |error: RoutingError, text: &str| {
        session.send_error(MessageType::Call, call.request, error, text);
        Flow::Continue
    };
    let realm = &session.realm;
    if let Err(e) = Uri::check(&call.procedure, realm.uri_check) {
        return refuse(
            RoutingError::InvalidUri,
            &format!("invalid procedure '{}': {e}", call.procedure),
        );
    }
    let decision =
        session
            .decisions
            .borrow_mut()
            .decide(&session.role, Action::Call, &call.procedure);
    if !decision.allowed {
        return refuse(
            RoutingError::NotAuthorized,
            &format!(
                "role '{}' may not call '{}'",
                session.identity.authrole, call.procedure
            ),
        );
    }
    // The router's own procedures, once checked as any call (a CALL whose
    // request id is in flight is never a new call, whatever it names); they
    // are answered at once, so no limit on calls in flight applies.
    if meta::answer_call(core, session, &call) {
        return Flow::Continue;
    }
    let in_flight = core.dealer.calls.borrow().in_flight(key.caller);
    if in_flight >= core.shared.limits.max_calls_per_caller {
        return refuse(
            RoutingError::Unavailable,
            &format!(
                "this session has {in_flight} calls in flight, the most allowed: wait for answers before calling more"
            ),
        );
    }
    let snapshot = realm.registrations.snapshot();
    let Some(registration) = snapshot.best_match(&call.procedure) else {
        return refuse(
            RoutingError::NoSuchProcedure,
            &format!("no callee registered procedure '{}'", call.procedure),
        );
    };
    let Some(callee) = registration
        .pick(|| core.ids.borrow_mut().next_id())
        .copied()
    else {
        return refuse(
            RoutingError::NoSuchProcedure,
            &format!("no callee registered procedure '{}'", call.procedure),
        );
    };

    if options.progress && !callee.progressive_invocations {
        return refuse(
            RoutingError::FeatureNotSupported,
            &format!(
                "the callee of '{}' does not take progressive call invocations (it must announce progressive_call_invocations and call_canceling)",
                call.procedure
            ),
        );
    }
    let mut details = Dict::new();
    if registration.pattern.policy() != MatchPolicy::Exact {
        details.insert("procedure", call.procedure.as_str());
    }
    if options.receive_progress {
        details.insert("receive_progress", true);
    }
    if let Some(ppt) = &options.passthru {
        ppt.insert_into(&mut details);
    }
    if options.progress {
        details.insert("progress", true);
    }
    if options.disclose_me || decision.disclose.caller || callee.disclose_caller {
        details.insert("caller", Value::UInt(session.identity.session.get()));
        details.insert("caller_authid", session.identity.authid.as_str());
        details.insert("caller_authrole", session.identity.authrole.as_str());
    }
    let forward_timeout = options.timeout_ms > 0 && callee.forward_timeout;
    if forward_timeout {
        details.insert("timeout", Value::UInt(options.timeout_ms));
    }
    let serial = core.dealer.next_serial();
    let timer = (options.timeout_ms > 0 && !forward_timeout).then(|| {
        core.set_timer(
            Duration::from_millis(options.timeout_ms),
            Timeout::Call { key, serial },
        )
    });
    start_call(
        core,
        key,
        PendingCall {
            caller: Caller::Session(session.key),
            serial,
            callee_core: callee.core,
            callee: callee.session,
            registration: registration.id,
            timer,
            receive_progress: options.receive_progress,
            progressive: options.progress,
        },
        details,
        call.payload,
    );
    Flow::Continue
}

/// A CALL whose request id is in flight: one more part of a progressive
/// call, or a protocol violation. `None`: a new call.
fn continue_progressive(
    core: &Core,
    key: CallKey,
    options: &CallOptions,
    call: &Call,
) -> Option<Flow> {
    let invoke = {
        let mut calls = core.dealer.calls.borrow_mut();
        let pending = calls.get_mut(&key)?;
        if !pending.progressive {
            return Some(Flow::Violation(format!(
                "CALL with request id {} while that call is in flight and not progressive",
                call.request
            )));
        }
        pending.progressive = options.progress;
        let mut details = Dict::new();
        if options.progress {
            details.insert("progress", true);
        }
        (
            pending.callee_core,
            pending.invoke(key, core.id, details, call.payload.clone(), true),
        )
    };
    send_invoke(core, invoke.0, invoke.1);
    Some(Flow::Continue)
}

/// Tracks the new call `key` on this core (`finish` ends it) and sends
/// its first INVOCATION.
pub(super) fn start_call(
    core: &Core,
    key: CallKey,
    pending: PendingCall,
    details: Dict,
    payload: Payload,
) {
    let invoke = pending.invoke(key, core.id, details, payload, false);
    let callee_core = pending.callee_core;
    core.dealer.calls.borrow_mut().insert(key, pending);
    send_invoke(core, callee_core, invoke);
}

/// Hands `invoke` to the callee's core; a callee on a core that does not
/// exist (a bug) ends the call with an error at once instead of a timeout.
fn send_invoke(core: &Core, callee_core: usize, invoke: Invoke) {
    if callee_core == core.id {
        super::invoke(core, invoke);
        return;
    }
    let key = invoke.call;
    if let Err(e) = core.send_mail(callee_core, Mail::Invoke(Box::new(invoke))) {
        tracing::error!(core = core.id, error = %e, "call not routed: the registration names an unknown core");
        if let Some(mut pending) = finish(core, key) {
            pending.caller.send_error(
                core,
                key.request,
                RoutingError::Unavailable,
                "the callee cannot be reached",
            );
        }
    }
}

/// Hands `interrupt` to the callee's core.
fn send_interrupt(core: &Core, callee_core: usize, interrupt: Interrupt) {
    if callee_core == core.id {
        super::interrupt(core, interrupt);
    } else if let Err(e) = core.send_mail(callee_core, Mail::Interrupt(interrupt)) {
        tracing::error!(core = core.id, error = %e, "INTERRUPT dropped: the call names an unknown callee core");
    }
}

/// Ends call `key` on this core; returns it.
fn finish(core: &Core, key: CallKey) -> Option<PendingCall> {
    let mut pending = core.dealer.calls.borrow_mut().remove(&key)?;
    if let Some(timer) = pending.timer.take() {
        core.cancel_timer(timer);
    }
    Some(pending)
}

/// CANCEL: end a call in flight by its mode (default `killnowait`); a
/// CANCEL for a call that already ended is ignored, as the spec says.
pub fn cancel(core: &Core, session: &SessionHandle, cancel: Cancel) -> Flow {
    let mode = match cancel.options.get("mode") {
        None => CancelMode::KillNoWait,
        Some(v) => match v.as_str().and_then(CancelMode::parse) {
            Some(m) => m,
            None => {
                session.send_error(
                    MessageType::Cancel,
                    cancel.request,
                    RoutingError::InvalidArgument,
                    "CANCEL.Options.mode must be one of skip, kill, killnowait",
                );
                return Flow::Continue;
            }
        },
    };
    let key = CallKey {
        caller: session.identity.session,
        request: cancel.request,
    };
    let (serial, callee_core) = match core.dealer.calls.borrow().get(&key) {
        Some(p) => (p.serial, p.callee_core),
        None => return Flow::Continue,
    };
    let text = format!("call canceled by the caller ({})", mode.as_str());
    match mode {
        CancelMode::Skip => {
            finish(core, key);
            session.send_error(
                MessageType::Call,
                cancel.request,
                RoutingError::Canceled,
                &text,
            );
        }
        CancelMode::KillNoWait => end_early(core, key, RoutingError::Canceled, Some(&text)),
        CancelMode::Kill => send_interrupt(
            core,
            callee_core,
            Interrupt {
                call: key,
                serial,
                mode,
                reason: RoutingError::Canceled,
            },
        ),
    }
    Flow::Continue
}

/// Ends call `key` now: the caller gets `error` (when `text` is given),
/// the callee an INTERRUPT `killnowait` with `error` as the reason, and
/// the callee's answer, if any comes, is dropped.
fn end_early(core: &Core, key: CallKey, error: RoutingError, text: Option<&str>) {
    let Some(mut pending) = finish(core, key) else {
        return;
    };
    match (text, &mut pending.caller) {
        (Some(text), caller) => caller.send_error(core, key.request, error, text),
        // The router does not leave: it always hears how its call ended.
        (None, caller @ Caller::Router(_)) => {
            caller.send_error(core, key.request, error, "the call was canceled");
        }
        (None, Caller::Session(_)) => {}
    }
    send_interrupt(
        core,
        pending.callee_core,
        Interrupt {
            call: key,
            serial: pending.serial,
            mode: CancelMode::KillNoWait,
            reason: error,
        },
    );
}

/// The dealer's timer for call `key` ran out: the caller gets
/// `wamp.error.timeout`, the callee an INTERRUPT (`killnowait`).
pub fn timed_out(core: &Core, key: CallKey, serial: u64) {
    let current = core
        .dealer
        .calls
        .borrow()
        .get(&key)
        .is_some_and(|p| p.serial == serial);
    if !current {
        return;
    }
    // `end_early` cancels the call's timer: an expired one is gone
    // already, and cancelling it is a no-op (timer ids are never reused).
    end_early(
        core,
        key,
        RoutingError::Timeout,
        Some("the call's timeout passed before the callee answered"),
    );
}

/// An answer from a callee's core reaches the caller.
pub fn deliver_answer(core: &Core, answer: Answer) {
    let progress = matches!(answer.outcome, Outcome::Result { progress: true });
    let caller = {
        let calls = core.dealer.calls.borrow();
        match calls.get(&answer.call) {
            Some(p) if p.serial == answer.serial => {
                if progress && !p.receive_progress {
                    return;
                }
                match &p.caller {
                    Caller::Session(key) => Some(*key),
                    Caller::Router(_) => None,
                }
            }
            _ => return,
        }
    };
    let Some(caller) = caller else {
        // The router's own call: its final answer goes to its continuation.
        if let Some(mut pending) = finish(core, answer.call)
            && let Caller::Router(waiting) = &mut pending.caller
            && let Some(on_answer) = waiting.take()
        {
            on_answer(match answer.outcome {
                Outcome::Result { .. } => Ok(answer.payload),
                Outcome::Error(error) => Err((error, answer.payload)),
            });
        }
        return;
    };
    let Some(caller) = core.session(caller) else {
        // The caller left: `remove_caller` ended its calls already.
        finish(core, answer.call);
        return;
    };
    if progress && caller.conn.outbound.queued_bytes() >= core.shared.flow.max_queued_bytes {
        // Progressive results faster than the caller reads them: the call
        // ends rather than queueing without limit.
        end_early(
            core,
            answer.call,
            RoutingError::Canceled,
            Some("progressive results came faster than this session read them: call canceled"),
        );
        return;
    }
    if !progress {
        finish(core, answer.call);
    }
    let message = match answer.outcome {
        Outcome::Result { progress } => {
            let mut details = answer.details;
            if progress {
                details.insert("progress", true);
            }
            Message::Result(CallResult {
                request: answer.call.request,
                details,
                payload: answer.payload,
            })
        }
        Outcome::Error(error) => Message::Error(Error {
            request_type: MessageType::Call.code(),
            request: answer.call.request,
            details: answer.details,
            error,
            payload: answer.payload,
        }),
    };
    caller.send(&message);
}

/// A caller leaves: its calls end, and their callees get an INTERRUPT.
pub fn remove_caller(core: &Core, session: &SessionHandle) {
    let keys = core
        .dealer
        .calls
        .borrow()
        .of_caller(session.identity.session);
    for key in keys {
        end_early(core, key, RoutingError::Canceled, None);
    }
}
