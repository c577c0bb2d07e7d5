//! The mail cores send each other through their [`Mailboxes`](crate::mesh::Mailboxes).

use std::sync::Arc;

use ringbar_protocol::id::SessionId;
use ringbar_protocol::str::Str;

use crate::core::broker::Publication;
use crate::core::dealer::calls::{Answer, Interrupt, Invoke};

/// What one core asks of another.
pub enum Mail {
    /// Deliver a publication to this core's subscribers.
    Publication(Arc<Publication>),
    /// Close a session of this core (the `wamp.session.kill*` meta
    /// procedures): GOODBYE with `reason` and `message`.
    KillSession {
        /// The session.
        session: SessionId,
        /// The GOODBYE reason.
        reason: Str,
        /// The GOODBYE's `details.message`.
        message: Option<String>,
    },
    /// Invoke a callee on this core (from the caller's core).
    Invoke(Box<Invoke>),
    /// End an invocation on this core early (from the caller's core).
    Interrupt(Interrupt),
    /// A callee's answer for a caller on this core.
    Answer(Box<Answer>),
}
