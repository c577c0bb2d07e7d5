//! Calls in flight, as each core keeps them: the caller's core tracks the
//! CALLs of its sessions, the callee's core the INVOCATIONs of its
//! sessions. The two meet only through [`Invoke`], [`Interrupt`] and
//! [`Answer`], sent directly when both sessions share a core and as mail
//! otherwise.

use std::cell::{Cell, RefCell};

use crate::error::RoutingError;
use crate::timers::TimerId;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId};
use ringbar_protocol::message::{MessageType, Payload};
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

use crate::core::Core;
use crate::core::sessions::SessionKey;
use crate::local::callees::Callees;
pub use crate::local::in_flight::{CallKey, Invocations, PendingInvocation};

/// Who made a call, and so where its answer goes.
pub enum Caller {
    /// A client session of this core: the answer is a RESULT or ERROR to
    /// it.
    Session(SessionKey),
    /// The router itself (a dynamic authenticator or authorizer, the REST
    /// bridge's caller): the final answer goes to the continuation it
    /// gave, run once.
    Router(Option<OnAnswer>),
}

/// What the router does with the final answer to a call it made, run on
/// the caller's core when the answer comes (or the dealer ends the call):
/// the dealer waits for nothing. It must not call back into the dealer.
pub type OnAnswer = Box<dyn FnOnce(RouterAnswer)>;

impl Caller {
    /// Gives the caller an ERROR `error` for its call `request`, with
    /// `text` as the reason.
    pub fn send_error(&mut self, core: &Core, request: RequestId, error: RoutingError, text: &str) {
        match self {
            Caller::Session(key) => {
                // A caller that left has no one to tell.
                if let Some(session) = core.session(*key) {
                    session.send_error(MessageType::Call, request, error, text);
                }
            }
            Caller::Router(waiting) => {
                let payload = Payload::from_values(Serializer::Json, &[Value::from(text)], None)
                    .unwrap_or_default();
                if let Some(on_answer) = waiting.take() {
                    on_answer(Err((Str::from_static(error.uri()), payload)));
                }
            }
        }
    }
}

/// The final answer to a call the router made: the RESULT's payload, or
/// the ERROR's URI and payload.
pub type RouterAnswer = Result<Payload, (Str, Payload)>;

/// The calls in flight on a core, with what its dealer keeps of each.
pub type Calls = crate::local::in_flight::Calls<PendingCall>;

/// A call as the caller's core tracks it.
pub struct PendingCall {
    /// Who called.
    pub caller: Caller,
    /// Tells this call from a later one with the same key.
    pub serial: u64,
    /// The core of the callee.
    pub callee_core: usize,
    /// The callee session.
    pub callee: SessionId,
    /// The registration called.
    pub registration: RegistrationId,
    /// The dealer's timeout timer, on the core's timers; cancelled when
    /// the call ends.
    pub timer: Option<TimerId>,
    /// The caller asked for progressive results.
    pub receive_progress: bool,
    /// The caller is still sending progressive CALLs.
    pub progressive: bool,
}

impl PendingCall {
    /// The INVOCATION of this call, `key`, for its callee's core: the
    /// first, or a `continuation` of a progressive call.
    pub fn invoke(
        &self,
        key: CallKey,
        caller_core: usize,
        details: Dict,
        payload: Payload,
        continuation: bool,
    ) -> Invoke {
        Invoke {
            call: key,
            serial: self.serial,
            caller_core,
            callee: self.callee,
            registration: self.registration,
            details,
            payload,
            continuation,
        }
    }
}

/// Caller's core to callee's core: invoke a callee (or pass on one more
/// part of a progressive call).
pub struct Invoke {
    /// The call.
    pub call: CallKey,
    /// Its serial.
    pub serial: u64,
    /// Where answers go.
    pub caller_core: usize,
    /// The callee.
    pub callee: SessionId,
    /// The registration called.
    pub registration: RegistrationId,
    /// `INVOCATION.Details`, complete.
    pub details: Dict,
    /// The CALL's payload, spliced into the INVOCATION.
    pub payload: Payload,
    /// Not the first CALL of a progressive call.
    pub continuation: bool,
}

/// How a call is canceled (`CANCEL.Options.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// Answer the caller now; the callee is not told.
    Skip,
    /// Interrupt the callee and pass on its answer.
    Kill,
    /// Answer the caller now and interrupt the callee.
    KillNoWait,
}

impl CancelMode {
    /// The mode named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "skip" => Self::Skip,
            "kill" => Self::Kill,
            "killnowait" => Self::KillNoWait,
            _ => return None,
        })
    }

    /// The name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Kill => "kill",
            Self::KillNoWait => "killnowait",
        }
    }
}

/// Caller's core to callee's core: the call ends early (CANCEL, timeout,
/// the caller left).
pub struct Interrupt {
    /// The call.
    pub call: CallKey,
    /// Its serial.
    pub serial: u64,
    /// `kill` or `killnowait`.
    pub mode: CancelMode,
    /// Why, as `INTERRUPT.Options.reason`.
    pub reason: RoutingError,
}

/// What a callee (or the dealer in its name) answers.
pub enum Outcome {
    /// A RESULT; `progress`: more follow.
    Result {
        /// More results follow.
        progress: bool,
    },
    /// An ERROR with this URI.
    Error(Str),
}

/// Callee's core to caller's core: an answer for a call.
pub struct Answer {
    /// The call.
    pub call: CallKey,
    /// Its serial.
    pub serial: u64,
    /// RESULT or ERROR.
    pub outcome: Outcome,
    /// The ERROR's details, or the RESULT's (its `ppt_*`; the caller's
    /// core adds `progress`).
    pub details: Dict,
    /// The YIELD's or ERROR's payload, spliced into the answer.
    pub payload: Payload,
}

/// One core's share of the dealer.
#[derive(Default)]
pub struct CoreDealer {
    /// Calls of this core's sessions (and the router's own calls).
    pub calls: RefCell<Calls>,
    /// Invocations of this core's callees.
    pub invocations: RefCell<Invocations>,
    /// This core's callees.
    pub callees: RefCell<Callees>,
    next_serial: Cell<u64>,
}

impl CoreDealer {
    /// A serial for a new call.
    pub fn next_serial(&self) -> u64 {
        let serial = self.next_serial.get().wrapping_add(1);
        self.next_serial.set(serial);
        serial
    }
}
