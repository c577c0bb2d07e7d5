//! The dealer: registrations, calls and invocations, routed between
//! sessions on any cores.
//!
//! A CALL is decoded once; its payload is spliced into the INVOCATION, and
//! the YIELD's into the RESULT (transcoded only when caller and callee use
//! different serializers). The caller's core keeps the call, the callee's
//! core the invocation; they exchange [`calls::Invoke`], [`calls::Interrupt`]
//! and [`calls::Answer`] through mailboxes when they differ.

pub mod calls;

mod call;
pub mod invocation;
mod register;
mod router_call;

use ringbar_protocol::value::{Dict, Value};

pub use call::call;
pub use call::{cancel, deliver_answer, remove_caller, timed_out};
pub use calls::RouterAnswer;
pub use invocation::{callee_error, interrupt, invoke, remove_callee, yield_};
pub use register::{claimed, register, unregister};
pub use router_call::{RouterCaller, ask_as_router, start_router_call};

/// The dealer features ringbar implements, announced in WELCOME.
pub const DEALER_FEATURES: &[&str] = &[
    "progressive_call_results",
    "progressive_call_invocations",
    "call_timeout",
    "call_canceling",
    "caller_identification",
    "pattern_based_registration",
    "shared_registration",
    "payload_passthru_mode",
    "session_meta_api",
    "testament_meta_api",
    "registration_meta_api",
];

/// What a client's HELLO announced that the dealer acts on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerFeatures {
    /// As a callee, it handles INTERRUPT (`call_canceling`).
    pub call_canceling: bool,
    /// As a callee, it takes progressive call invocations (it announced
    /// `progressive_call_invocations` and `call_canceling`, as the spec
    /// requires).
    pub callee_progressive_invocations: bool,
    /// As a caller, it announced `progressive_call_invocations`.
    pub caller_progressive_invocations: bool,
}

impl PeerFeatures {
    /// The features in `HELLO.Details.roles`.
    pub fn from_hello(details: &Dict) -> Self {
        let feature = |role: &str, name: &str| {
            details
                .get("roles")
                .and_then(Value::as_dict)
                .and_then(|r| r.get(role))
                .and_then(Value::as_dict)
                .and_then(|c| c.get("features"))
                .and_then(Value::as_dict)
                .and_then(|f| f.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let call_canceling = feature("callee", "call_canceling");
        Self {
            call_canceling,
            callee_progressive_invocations: call_canceling
                && feature("callee", "progressive_call_invocations"),
            caller_progressive_invocations: feature("caller", "progressive_call_invocations"),
        }
    }
}

/// The dealer's role entry for WELCOME.
pub fn welcome_role() -> Value {
    let features: Dict = DEALER_FEATURES
        .iter()
        .map(|f| (*f, Value::Bool(true)))
        .collect();
    Value::Dict([("features", Value::Dict(features))].into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HELLO.Details announcing `call_canceling: value` for `role`.
    fn hello(role: &str, value: Value) -> Dict {
        let features: Dict = [("call_canceling", value)].into_iter().collect();
        let entry: Dict = [("features", Value::Dict(features))].into_iter().collect();
        let roles: Dict = [(role, Value::Dict(entry))].into_iter().collect();
        [("roles", Value::Dict(roles))].into_iter().collect()
    }

    #[test]
    fn call_canceling_is_read_from_the_callee_role_only() {
        let canceling = |details: Dict| PeerFeatures::from_hello(&details).call_canceling;
        assert!(canceling(hello("callee", Value::Bool(true))));
        assert!(!canceling(hello("callee", Value::Bool(false))));
        assert!(!canceling(hello("caller", Value::Bool(true))));
        assert!(!canceling(hello("callee", Value::from("yes"))));
        assert!(!canceling(Dict::new()));
    }
}
