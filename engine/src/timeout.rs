//! What a core's timers are for: each expired timer is one of these, which
//! the core's timer task hands to its owner.

use crate::dealer::calls::CallKey;

/// A deadline a core keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Timeout {
    /// The dealer's timeout of call `key` (CALL.Options.timeout): `serial`
    /// tells it from a later call with the same key.
    Call {
        /// The call.
        key: CallKey,
        /// Its serial.
        serial: u64,
    },
}
