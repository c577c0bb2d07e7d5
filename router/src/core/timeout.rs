//! What a core's timers are for: each expired timer is one of these, which
//! the core's timer task hands to its owner.

use std::rc::Weak;

use crate::core::dealer::calls::CallKey;
use crate::local::link::Link;

/// A deadline a core keeps.
pub enum Timeout {
    /// The dealer's timeout of call `key` (CALL.Options.timeout): `serial`
    /// tells it from a later call with the same key.
    Call {
        /// The call.
        key: CallKey,
        /// Its serial.
        serial: u64,
    },
    /// A connection's session must have joined by now
    /// (`limits.join_timeout_ms`). The connection is held weakly: one
    /// that ended is freed at once (and cancels this timer).
    Join(Weak<Link>),
    /// A connection must have sent or received a byte within
    /// `limits.idle_timeout_ms` by now; re-armed for the rest of the
    /// timeout when it did.
    Idle(Weak<Link>),
}
