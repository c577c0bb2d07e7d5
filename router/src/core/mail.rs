//! The mail cores send each other through their [`Mailboxes`](crate::mesh::Mailboxes).

use std::sync::Arc;

use ringbar_protocol::id::{RegistrationId, RequestId, SessionId};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::UriPattern;

use crate::core::broker::Publication;
use crate::core::dealer::calls::{Answer, Interrupt, Invoke};
use crate::core::realm::{Realm, RealmSession};
use crate::core::sessions::SessionKey;
use crate::tables::registrations::{Callee, InvokePolicy};

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
    /// To the cluster link: a callee of this core registered (`held`), or
    /// left a registration.
    Registered(Box<Registered>),
    /// From the cluster link: whether a `single` registration is the only
    /// one in the cluster.
    Claimed(Claimed),
    /// To the cluster link: a session of this core joined a realm the
    /// cluster shares (`held`), or left it.
    Session(Box<SessionChange>),
}

/// A session that joined or left a realm the cluster shares.
pub struct SessionChange {
    /// The realm.
    pub realm: Arc<Realm>,
    /// The session.
    pub session: SessionId,
    /// What the session meta API tells of it when it joined; `None`: it
    /// left.
    pub joined: Option<RealmSession>,
}

/// A callee's registration in a realm the cluster shares.
pub struct Registered {
    /// The realm.
    pub realm: Arc<Realm>,
    /// The procedure or pattern.
    pub pattern: UriPattern,
    /// The registration's invocation policy.
    pub invoke: InvokePolicy,
    /// The callee.
    pub callee: Callee,
    /// Registered (or left).
    pub held: bool,
    /// A `single` registration waiting to be claimed cluster-wide before
    /// its REGISTERED: the link answers with [`Mail::Claimed`].
    pub claim: Option<Claim>,
}

/// A REGISTER whose REGISTERED waits for the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The callee's session on its core.
    pub session: SessionKey,
    /// The REGISTER's request id.
    pub request: RequestId,
    /// The registration made on this node.
    pub registration: RegistrationId,
}

/// The cluster's answer to a [`Claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// What was claimed.
    pub claim: Claim,
    /// The callee session (the key may name a later session once it left).
    pub callee: SessionId,
    /// No other node has the procedure: REGISTERED; else the registration
    /// is undone and the REGISTER refused.
    pub granted: bool,
}
