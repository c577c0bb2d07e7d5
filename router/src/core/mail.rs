//! The mail cores send each other through their [`Mailboxes`](crate::mesh::Mailboxes).

use std::sync::Arc;

use ringbar_protocol::id::SessionId;
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::UriPattern;

use crate::core::broker::Publication;
use crate::core::dealer::calls::{Answer, Interrupt, Invoke};
use crate::core::realm::Realm;

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
    /// To the cluster link: this core now has subscribers to `pattern` in
    /// `realm` (`held`), or no longer has any.
    Interest {
        /// The realm, one the cluster shares.
        realm: Arc<Realm>,
        /// The topic or pattern.
        pattern: UriPattern,
        /// Whether this core holds it now.
        held: bool,
    },
    /// To the cluster link: a publication every node keeps as its topic's
    /// retained event (and delivers to its subscribers).
    Retain(Arc<Publication>),
}
