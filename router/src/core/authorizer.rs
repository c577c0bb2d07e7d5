//! Dynamic authorizers: a role with `authorizer` has a procedure on its
//! realm decide each action, as in Crossbar.io. The router calls it with
//! `(session details, uri, action, options)` and reads `true`/`false` or
//! `{allow, disclose, cache}`. The session's message waits for the answer,
//! which a continuation hands to the session (its connection reads nothing
//! more meanwhile; other sessions go on); then it is routed as usual with
//! the decision in the session's cache, where it stays when `cache` is
//! true: the publish path asks once per topic.

use std::rc::Rc;
use std::time::Duration;

use ringbar_protocol::message::Message;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::authorize::{Action, DENY, Decision};
use crate::core::Core;
use crate::core::dealer;
use crate::core::session::SessionHandle;
use crate::error::{RouterCallFailure, RouterCallResult};

/// A message that waits for a dynamic authorizer's decision.
pub struct Question {
    /// The message, routed once the decision is known.
    pub message: Message,
    action: Action,
    uri: Str,
    options: Dict,
}

/// What a message asks a dynamic authorizer: the action, its URI and its
/// options.
pub struct Asked(Action, Str, Dict);

impl Question {
    /// `message`, waiting for the answer to what it `asked`.
    pub fn new(message: Message, asked: Asked) -> Box<Self> {
        let Asked(action, uri, options) = asked;
        Box::new(Self {
            message,
            action,
            uri,
            options,
        })
    }
}

/// What `message` must ask `session`'s dynamic authorizer before it is
/// routed, if anything: its role has one and the decision for the action
/// is not known yet. Borrows the message, which is on every message's
/// path.
pub fn asked(core: &Core, session: &SessionHandle, message: &Message) -> Option<Asked> {
    session.role.authorizer()?;
    let (action, uri, options) = match message {
        Message::Publish(p) => (Action::Publish, &p.topic, &p.options),
        Message::Subscribe(s) => (Action::Subscribe, &s.topic, &s.options),
        Message::Register(r) => (Action::Register, &r.procedure, &r.options),
        Message::Call(c) => {
            let key = dealer::calls::CallKey {
                caller: session.identity.session,
                request: c.request,
            };
            if core.dealer.calls.borrow().contains(&key) {
                // one more part of a progressive call, already allowed
                return None;
            }
            (Action::Call, &c.procedure, &c.options)
        }
        _ => return None,
    };
    if session.decisions.borrow().knows(action, uri) {
        return None;
    }
    Some(Asked(action, uri.clone(), options.clone()))
}

/// What an authorizer answered, or why it did not.
pub type Answer = Result<RouterCallResult, RouterCallFailure>;

/// Asks `session`'s authorizer about `question`; `answered` gets the
/// answer once it comes (at once when the call cannot be made).
pub fn ask(
    core: &Rc<Core>,
    session: &SessionHandle,
    question: &Question,
    answered: impl FnOnce(Answer) + 'static,
) {
    let Some(procedure) = session.role.authorizer() else {
        return answered(Err(RouterCallFailure::NoCallee));
    };
    let details = session
        .realm
        .session(session.identity.session)
        .map_or(Value::Null, |s| s.details);
    let args = [
        details,
        Value::from(question.uri.as_str()),
        Value::from(question.action.name()),
        Value::Dict(question.options.clone()),
    ];
    // The router's call needs a caller id of its own: the session's
    // request ids are the client's to choose.
    let caller = core.shared.claim_session_id(&mut core.ids.borrow_mut());
    let shared = core.shared.clone();
    dealer::ask_as_router(
        core,
        &session.realm,
        caller,
        procedure,
        &args,
        Duration::from_millis(core.shared.limits.authorizer_timeout_ms),
        move |answer| {
            shared.release_session_id(caller);
            answered(answer);
        },
    );
}

/// Keeps what `session`'s authorizer answered about `question` in the
/// session's cache (a refusal when the authorizer failed).
pub fn answered(session: &SessionHandle, question: &Question, answer: Answer) {
    let (decision, cache) = decision(answer).unwrap_or_else(|why| {
        tracing::info!(
            session = session.identity.session.get(),
            authorizer = session.role.authorizer().unwrap_or_default(),
            uri = %question.uri,
            action = question.action.name(),
            why,
            "dynamic authorizer failed: action refused"
        );
        (DENY, false)
    });
    session
        .decisions
        .borrow_mut()
        .remember(question.action, &question.uri, decision, cache);
}

/// Reads an authorizer's answer: `true`/`false`, or `{allow, disclose,
/// cache}`; the decision and whether it may be cached.
fn decision(answer: Answer) -> Result<(Decision, bool), String> {
    let (args, _) = match answer {
        Ok(result) => result,
        Err(RouterCallFailure::NoCallee) => return Err("it is not registered".to_owned()),
        Err(RouterCallFailure::Error { error, message }) => {
            return Err(format!("{error}: {}", message.unwrap_or_default()));
        }
    };
    Decision::from_authorizer(args.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorizer_that_fails_decides_nothing() {
        assert!(decision(Err(RouterCallFailure::NoCallee)).is_err());
        assert!(decision(Ok((vec![Value::Bool(true)], Dict::new()))).is_ok());
    }
}
